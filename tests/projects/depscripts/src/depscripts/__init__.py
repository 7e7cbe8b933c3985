import csvkit  # noqa: F401  (its commands are this binary's too)


def main() -> None:
    print("depscripts")
