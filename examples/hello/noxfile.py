"""Build the binary inside a nox session, then test the binary (not the package).

nox -f examples/hello/noxfile.py
"""

import os

import nox

HERE = os.path.dirname(os.path.abspath(__file__))


@nox.session
def binary(session: nox.Session) -> None:
    # onefile-backend is not on PyPI: install it from this repository (or your wheelhouse).
    session.install(os.path.join(HERE, "..", ".."), "pytest")
    dist = os.path.join(session.create_tmp(), "dist")
    session.run("python", "-m", "onefile_backend", "build", "--binary", "-o", dist, HERE)
    session.run(
        "pytest", os.path.join(HERE, "tests"), *session.posargs, env={"HELLO_BINARY": os.path.join(dist, "hello")}
    )
