"""The command line (``onefile``, ``python -m onefile_backend``): build, ``--from``, inspect, wheelhouse."""
