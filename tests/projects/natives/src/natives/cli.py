"""Exercises each native dependency for real and prints one line per package."""

import json


def main() -> None:
    import black
    import numpy
    import pandas
    import pydantic
    from cryptography.fernet import Fernet
    from lxml import etree

    results = {}
    matrix = numpy.arange(12, dtype=numpy.float64).reshape(3, 4)
    results["numpy"] = float((matrix @ matrix.T).trace())
    frame = pandas.DataFrame({"city": ["a", "b", "a"], "n": [1, 2, 3]})
    results["pandas"] = frame.groupby("city")["n"].sum().to_dict()
    key = Fernet.generate_key()
    results["cryptography"] = Fernet(key).decrypt(Fernet(key).encrypt(b"secret")).decode()

    class Point(pydantic.BaseModel):
        x: int
        y: int

    results["pydantic"] = Point.model_validate({"x": "1", "y": 2}).model_dump()
    results["lxml"] = etree.fromstring("<a><b>text</b></a>").findtext("b")
    results["black"] = black.format_str("x = ( 1, )", mode=black.Mode())
    results["black_compiled"] = black.__file__.endswith(".so")
    print(json.dumps(results, sort_keys=True))
