"""One module per ``posecast`` subcommand; each exposes ``register(subparsers)``."""
