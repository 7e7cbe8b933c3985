"""The build machine's cache: the store and every kind of entry it keeps."""
