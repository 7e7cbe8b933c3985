"""What `python -m runasmodule ARGS` sees: its name, sys.argv and where it was found."""

import os
import sys

print(__name__, os.path.relpath(sys.argv[0], os.path.dirname(os.path.dirname(__file__))), *sys.argv[1:])
