"""Serve the stand-ins: ``python -m standins --settings FILE.json --port 9000``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from werkzeug.serving import run_simple

from . import StandinRequestHandler, create_standins_app
from .settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins",
                                     description="Local stand-ins for the identity providers.")
    parser.add_argument("--settings", required=True, type=Path,
                        help="JSON file with base_url, users and clients")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    options = parser.parse_args(argv)
    try:
        settings = json.loads(options.settings.read_text(encoding="utf-8"))
        app = create_standins_app(settings)
    except (OSError, json.JSONDecodeError, SettingsError) as problem:
        print(f"stand-ins: {options.settings}: {problem}", file=sys.stderr)
        return 2
    run_simple(options.host, options.port, app, threaded=True,
               request_handler=StandinRequestHandler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
