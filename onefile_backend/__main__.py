import sys

from ._frontend import main

sys.exit(main())
