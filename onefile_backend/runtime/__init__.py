"""The runtime stage: where the CPython comes from, what it is, and the runtime layer made of it."""
