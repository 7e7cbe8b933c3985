from importlib import metadata


def main():
    print("click", metadata.version("click"))
