"""The binary's format: its constants (``spec``), layers, manifest, bootstrap code, and writing the file."""
