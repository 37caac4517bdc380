"""The ``fedlab`` command: ``fedlab demo`` runs the whole site offline."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import tomllib
from pathlib import Path

from . import config as config_module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fedlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init-demo", help="write the demo's secrets file if it is missing")
    demo = commands.add_parser("demo", help="run the site with its local stand-ins")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        if args.command == "init-demo":
            init_demo()
            return 0
        return run_demo(args.host, args.port)
    except config_module.ConfigError as e:
        print(f"fedlab: configuration error: {e}", file=sys.stderr)
        return 2


def init_demo() -> None:
    """Create ``secrets_file`` with a secret key and a client secret per provider."""
    from .demo import write_secrets

    path = Path(os.environ.get("FEDLAB_CONFIG", config_module.DEFAULT_CONFIG_FILE))
    with path.open("rb") as f:
        raw = tomllib.load(f)
    secrets_file = Path(raw.get("secrets_file") or "instance/secrets.toml")
    if write_secrets(secrets_file, raw.get("providers", {})):
        print(f"wrote {secrets_file}")


def run_demo(host: str, port: int) -> int:
    from werkzeug.serving import make_server, run_simple

    from . import create_app
    from .demo import standin_settings
    from .standins import create_standins_app

    init_demo()
    app = create_app()
    settings = standin_settings(app.config["FEDLAB"])
    standin_url = settings["base_url"]
    standin_host, standin_port = standin_url.split("://", 1)[1].split(":")
    standins = make_server(standin_host, int(standin_port), create_standins_app(settings),
                           threaded=True)
    threading.Thread(target=standins.serve_forever, daemon=True).start()
    origin = app.config["FEDLAB"]["standins"].get("app_origins", [f"http://localhost:{port}"])[0]
    print(f"\nFederation Lab: {origin}/   (stand-in providers at {standin_url})")
    print("Test users (username / password):")
    for user in settings["users"]:
        print(f"  {user['username']} / {user['password']}")
    print()
    run_simple(host, port, app, threaded=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
