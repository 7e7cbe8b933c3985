import os

from flask import Flask, jsonify, render_template

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return render_template("index.html", pid=os.getpid())


@app.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify(status="ok", pid=os.getpid())
