"""Reports what of its dependency's test suite its binary carries."""

import importlib.resources

import suitepkg.tests.helpers


def main() -> None:
    tests = importlib.resources.files("suitepkg.tests")
    carried = sorted(p for p in ("test_core.py", "data/table.csv", "data/sample.pyi") if (tests / p).is_file())
    print(suitepkg.tests.helpers.ANSWER, *carried)
