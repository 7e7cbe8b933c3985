import sys

import six


def main() -> None:
    print(f"poetryapp (poetry-core): {six.text_type(len(sys.argv) - 1)} arguments")
