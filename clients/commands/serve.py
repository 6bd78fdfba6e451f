"""``posecast serve``: the HTTP and WebSocket service on uvicorn.

Settings come from ``POSECAST_*`` environment variables and ``--config FILE`` (TOML or JSON);
``--host`` and ``--port`` override both. See docs/service.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from posecast.service.app import create_app
from posecast.service.server import PosecastServer, uvicorn_config
from posecast.service.settings import load_settings

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP and WebSocket service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(run=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 8000)")
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (.toml or .json)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn log level",
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, host=args.host, port=args.port)
    logger.info("settings: %r", settings)  # API keys print as '**********'
    app = create_app(settings)
    server = PosecastServer(uvicorn_config(app, settings, log_level=args.log_level))
    server.run()
    return 0 if server.started else 1
