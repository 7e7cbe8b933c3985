"""Finding an interpreter by version or path, and the errors when there is none."""

import pytest

from onefile_backend.runtime.interpreters import find_interpreter


def test_interpreter_by_version_and_errors():
    assert find_interpreter(None).target.version[:2] >= (3, 9)
    with pytest.raises(Exception, match=r"no Python 3\.99 found"):
        find_interpreter("3.99")
    with pytest.raises(Exception, match="is not allowed"):
        find_interpreter("three")
    with pytest.raises(Exception, match="does not exist"):
        find_interpreter("/nonexistent/python")
