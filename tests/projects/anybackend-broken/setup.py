from setuptools import setup

raise RuntimeError("brokenapp's setup.py refuses to build")
setup()
