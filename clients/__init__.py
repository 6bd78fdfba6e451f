"""posecast clients: the ``posecast`` command line, Python clients, offline runs."""
