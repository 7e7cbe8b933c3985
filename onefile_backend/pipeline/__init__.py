"""One build: the configuration, and :func:`pipeline.build.build_binary`, the list of stages."""
