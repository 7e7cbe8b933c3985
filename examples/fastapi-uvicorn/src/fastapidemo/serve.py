"""`fastapidemo [--host HOST] [--port PORT]`: serve the app with uvicorn."""

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="fastapidemo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run("fastapidemo.app:app", host=args.host, port=args.port, log_level="info")
