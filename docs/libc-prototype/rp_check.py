import ctypes, json, os, sys
out = {"libc": os.confstr("CS_GNU_LIBC_VERSION")}
try:
    lib = ctypes.CDLL(os.path.join(os.path.dirname(os.path.abspath(__file__)), "librp.so"))
    lib.rp_work.restype = ctypes.c_double; lib.rp_work.argtypes = [ctypes.c_double]
    out["rp_work"] = lib.rp_work(0.0)
except OSError as e:
    out["error"] = str(e)
try:
    out["glibc_maps"] = sorted({l.split()[-1] for l in open("/proc/self/maps") if any(n in l for n in ("libc.so", "libm.so", "libpthread", "librt", "ld-linux", "-2.31"))})
except OSError as e:
    out["glibc_maps"] = str(e)
print(json.dumps(out, indent=1))
