"""A one-module tool built by flit."""

import sys

from tabulate import tabulate

__version__ = "2.0"


def main() -> None:
    rows = [(arg, len(arg)) for arg in sys.argv[1:]]
    print("flitapp (flit-core)")
    print(tabulate(rows, headers=["word", "length"], tablefmt="plain"))
