import sys

import humanize


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    print(f"hatchapp (hatchling): {humanize.naturalsize(size)}")
