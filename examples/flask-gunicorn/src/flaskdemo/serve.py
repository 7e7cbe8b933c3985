"""`flaskdemo [--bind HOST:PORT] [--workers N]`: serve the app with gunicorn."""

import argparse

from gunicorn.app.base import BaseApplication

from .app import app


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="flaskdemo", description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:8000")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    Server({"bind": args.bind, "workers": args.workers, "accesslog": None}).run()
