import json


def main():
    from ._zstdversion import version

    with open("/proc/self/maps") as maps:
        mapped = sorted({line.split()[-1] for line in maps if "libzstd" in line})
    print(json.dumps({"zstd": version(), "mapped": mapped}))
