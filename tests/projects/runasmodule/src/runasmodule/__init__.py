"""A package started as ``python -m runasmodule``."""
