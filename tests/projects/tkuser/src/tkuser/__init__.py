def main():
    try:
        import tkinter  # noqa: F401
    except ImportError as exc:
        print("ImportError:", exc)
