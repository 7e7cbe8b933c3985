import sys

import colorama


def main() -> None:
    words = " ".join(sys.argv[1:])
    print(f"pdmapp (pdm-backend): {words}{colorama.Style.RESET_ALL}")
