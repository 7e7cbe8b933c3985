import six


def main() -> None:
    # The private index's six says where it is from; PyPI's has no such attribute.
    print(f"six {six.__version__} from {getattr(six, 'ORIGIN', 'PyPI')}")
