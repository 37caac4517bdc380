"""The ``fedlab`` command: ``fedlab demo`` runs the whole site offline, ``fedlab serve``
runs it in production under gunicorn."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import config as config_module

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flask import Flask
    from werkzeug.serving import BaseWSGIServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fedlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init-demo", help="write the demo's secrets file if it is missing")
    demo = commands.add_parser("demo", help="run the site with its local stand-ins")
    demo.add_argument("--host", default="127.0.0.1", help="the address to listen on "
                      "(default 127.0.0.1; 0.0.0.0 for every interface)")
    demo.add_argument("--port", type=int, help="the port to listen on (default: the port "
                      "of standins.app_origins, 8000 in config/demo.toml); the stand-ins "
                      "register the site's callback URLs at this port")
    check = commands.add_parser("check", help="what to register where, and live probes of "
                                "every provider; exits 1 when a probe fails")
    check.add_argument("--base-url", help="the site's origin to check (default: "
                       "external_url, else the demo's)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--timeout", type=float, default=3.0, help="seconds per probe call")
    production = commands.add_parser(
        "serve", help="run the site under gunicorn (production; never the stand-ins)")
    production.add_argument("--bind", help="address:port to listen on (default: FEDLAB_BIND, "
                            "else 0.0.0.0:8000)")
    production.add_argument("--workers", type=int, help="worker processes (default: "
                            "FEDLAB_WORKERS, else 2 x cores + 1, at most 12)")
    production.add_argument("--config", help="a gunicorn config file to use instead of "
                            "deploy/gunicorn.conf.py")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return run_serve(args.bind, args.workers, args.config)
        if args.command == "init-demo":
            init_demo()
            return 0
        if args.command == "check":
            from .check import run_check

            return run_check(args.base_url, args.json, args.timeout)
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


GUNICORN_CONFIG = "gunicorn.conf.py"
APP_FACTORY = "webapp:create_production_app()"


def gunicorn_config_path() -> Path:
    """``deploy/gunicorn.conf.py`` of the checkout, else the copy inside the package."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "deploy" / GUNICORN_CONFIG
    return checkout if checkout.is_file() else package / GUNICORN_CONFIG


def serve_command(bind: str | None, workers: int | None, config_file: str | None) -> list[str]:
    """The gunicorn command line ``fedlab serve`` runs."""
    command = [sys.executable, "-m", "gunicorn", "-c", config_file or str(gunicorn_config_path())]
    if bind:
        command += ["--bind", bind]
    if workers:
        command += ["--workers", str(workers)]
    return [*command, APP_FACTORY]


def run_serve(bind: str | None, workers: int | None, config_file: str | None) -> int:
    """Check the configuration here, once, for production, then become gunicorn
    (same pid, so its signals, SIGTERM for a graceful stop, come from the
    supervisor directly). The workers build the app with the same checks."""
    import importlib.util

    if importlib.util.find_spec("gunicorn") is None:
        print("fedlab: gunicorn is not installed (pip install gunicorn)", file=sys.stderr)
        return 2
    if config_file and not Path(config_file).is_file():
        print(f"fedlab: --config: no file at {config_file}", file=sys.stderr)
        return 2
    # A bad key stops here with the key's name, not in every worker's boot.
    from .setup import load

    settings = load(production=True).settings
    if settings.allow_lab:
        from .production import LAB_WARNING

        print(f"fedlab: WARNING: {LAB_WARNING}", file=sys.stderr)
    command = serve_command(bind, workers, config_file)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 (our own interpreter, fixed arguments)
    return 0  # not reached


def run_demo(host: str, port: int | None) -> int:
    from werkzeug.serving import run_simple

    try:
        from standins import StandinRequestHandler, create_standins_app
        from standins.requestlog import RequestHandler
    except ImportError:
        # An installed wheel ships the app only: the stand-ins are a development tool.
        print("fedlab: the demo's stand-ins are not installed: they come with the source "
              "checkout, not the package. Run `make demo` in a clone of the repository; "
              "for a real deployment use `fedlab serve`.", file=sys.stderr)
        return 2

    from . import create_app
    from .demo import demo_address, standin_settings

    init_demo()
    configured = config_module.load_config()
    address = demo_address(configured, host, port)
    # The site's origins, the stand-ins' registrations and the printed URL, all
    # from this one address: --port 18001 registers the callbacks at 18001.
    app = create_app(address.overrides(configured))
    site = config_module.settings(app)
    settings = standin_settings(app)
    serve(settings["base_url"], create_standins_app(settings), StandinRequestHandler)
    aws = site.aws
    if aws.identity_pool_id and aws.cognito_identity_endpoint:
        start_aws_standin(app)
    origin = site.external_url or address.origins[0]
    print(f"\nFederation Lab: {origin}/   (stand-in providers at {settings['base_url']})")
    print("Open the site at that address: the providers know it by that name; "
          "another loopback name (127.0.0.1) is sent there.")
    print("Test users (username / password):")
    for user in settings["users"]:
        print(f"  {user['username']} / {user['password']}")
    print()
    run_simple(address.host, address.port, close_when_sent(app), threaded=True,
               request_handler=RequestHandler)
    return 0


def close_when_sent(wsgi_app: Any) -> Any:
    """``wsgi_app`` whose response bodies are closed as soon as they are sent.

    werkzeug's development server closes a body only after it has drained the
    socket; a browser that drops the connection first (it often does for a
    favicon or a page it navigated away from) makes that read raise, and the
    body, an open file for a static file, is never closed. gunicorn closes it;
    the demo and the tests' servers get it closed here.
    """

    def closing(body: Any) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        return closing(wsgi_app(environ, start_response))

    return app


def serve(url: str, wsgi_app: Any, handler: Any = None) -> BaseWSGIServer:
    """Serve ``wsgi_app`` at ``url`` (host and port) from a daemon thread."""
    from werkzeug.serving import make_server

    parts = urlsplit(url)
    server = make_server(parts.hostname or "127.0.0.1", parts.port or 80,
                         close_when_sent(wsgi_app),
                         threaded=True, request_handler=handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_aws_standin(app: Flask) -> None:
    """moto for STS, IAM and S3 (at ``iam_endpoint``); the stand-in's Cognito Identity,
    S3 front and STS front over it."""
    from standins.aws import (
        bootstrap,
        create_identity_app,
        create_s3_app,
        create_sts_app,
        start_moto,
    )
    from standins.requestlog import RequestHandler

    from .demo import aws_standin_settings

    aws = config_module.settings(app).aws
    moto = urlsplit(aws.iam_endpoint or "http://127.0.0.1:9102")
    _, moto_url = start_moto(moto.hostname or "127.0.0.1", moto.port or 9102)
    settings = aws_standin_settings(app)
    site_key = bootstrap(settings, moto_url)
    identity = create_identity_app(settings, moto_url, [site_key])
    serve(aws.cognito_identity_endpoint, identity, RequestHandler)
    serve(aws.s3_endpoint, create_s3_app(settings, moto_url, identity), RequestHandler)
    serve(aws.sts_endpoint, create_sts_app(settings, moto_url, identity), RequestHandler)
    replaced = use_site_key(site_key.access_key_id, site_key.secret_access_key)
    print(f"AWS stand-in: Cognito Identity {aws.cognito_identity_endpoint}, "
          f"S3 {aws.s3_endpoint}, STS {aws.sts_endpoint}, moto {moto_url}")
    print(f"AWS stand-in: the site signs as IAM user {site_key.user_name} "
          f"(access key {site_key.access_key_id}, in this process's environment"
          + (", replacing the shell's AWS keys: real keys are never sent to a stand-in)"
             if replaced else ")"))


#: The environment variables botocore reads keys from: the key pair, the session token
#: of temporary keys under both its names (``AWS_SECURITY_TOKEN`` is the old one), and
#: what ``aws configure export-credentials`` and aws-vault set beside them: the keys'
#: expiry (which would make any key beside it expire then) and their account.
AWS_KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCOUNT_ID")


def use_site_key(access_key_id: str, secret_access_key: str) -> bool:
    """Give this process the stand-in's key for the site, as a deployment's environment
    would (the site reads its AWS identity from nowhere else, see webapp.site_aws).
    Whatever keys the shell had are dropped: they may be real, and are never sent to
    a stand-in. Returns whether any were replaced."""
    # Every one is removed (a list, not any(), which would stop at the first): a
    # shell's session token left beside the stand-in's key would go out with it.
    replaced = [name for name in AWS_KEY_VARIABLES if os.environ.pop(name, None) is not None]
    os.environ["AWS_ACCESS_KEY_ID"] = access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = secret_access_key
    return bool(replaced)


if __name__ == "__main__":
    raise SystemExit(main())
