"""Summarise N normally distributed numbers: numpy computes, rich prints a table."""

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from . import __version__


def summarise(values: "np.ndarray") -> Table:
    table = Table(title=f"{values.size} numbers")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    percentiles = np.percentile(values, [5, 50, 95])
    rows = [
        ("mean", values.mean()),
        ("std", values.std()),
        ("min", values.min()),
        ("5%", percentiles[0]),
        ("median", percentiles[1]),
        ("95%", percentiles[2]),
        ("max", values.max()),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:.4f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="numbers", description=__doc__)
    parser.add_argument("count", type=int, nargs="?", default=1000, help="how many numbers (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--version", action="version", version=f"numbers {__version__}, numpy {np.__version__}")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("count must be at least 1")
    values = np.random.default_rng(args.seed).normal(size=args.count)
    Console().print(summarise(values))
