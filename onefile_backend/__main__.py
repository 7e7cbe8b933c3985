import sys

from .cli.frontend import main

sys.exit(main())
