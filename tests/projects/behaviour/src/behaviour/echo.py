"""Run as `python -m behaviour.echo ARGS` by the binary's children."""

import sys

if __name__ == "__main__":
    print("echo:", " ".join(sys.argv[1:]))
