def main():
    try:
        import six
    except ImportError:
        print("without the extra")
    else:
        print("with the extra: six", six.__version__)
