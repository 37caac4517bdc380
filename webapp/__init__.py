"""Federation Lab: OAuth 2.0 / OpenID Connect hosted sign-in turned into AWS access."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import (
    aws,
    config,
    errors,
    guards,
    oauth,
    production,
    security,
    setup,
    site_aws,
    timewords,
)
from .extensions import csrf
from .providers import registry

PACKAGE_DIR = Path(__file__).resolve().parent


def create_app(overrides: Mapping[str, Any] | None = None, *,
               production: bool = False) -> Flask:
    """Build the app: load the settings, build the providers, refuse what production
    refuses, then bind extensions, views and handlers.

    ``production`` adds the checks of :mod:`webapp.production` and writes the
    auth events to stderr as JSON lines. No network and no writes here:
    providers are contacted on first use.
    """
    # Settings, providers, production's refusals: the steps every entry point runs.
    loaded = setup.load(overrides, production=production)
    app = Flask(
        __name__,
        template_folder=resource_dir("templates"),
        static_folder=resource_dir("static"),
    )
    app.config.update(SECRET_KEY=loaded.settings.secret_key)
    config.init_app(app, loaded.settings)
    registry.init_app(app, loaded.providers)
    configure_logging(app)
    register_proxy(app)
    # Views and services are imported here, not with this package: importing
    # webapp.config (a script, the tests) loads no request-time module.
    from . import health

    guards.init_app(app, any_host_paths=health.PATHS)
    register_extensions(app)
    register_blueprints(app)
    errors.init_app(app)
    return app


def create_production_app() -> Flask:
    """The app as ``fedlab serve`` and the Docker image run it under gunicorn:
    ``gunicorn -c deploy/gunicorn.conf.py "webapp:create_production_app()"``."""
    return create_app(production=True)


def resource_dir(name: str) -> str:
    """Find ``templates`` or ``static``: inside the package when installed from a
    wheel, else at the top of the checkout, where they are kept."""
    installed = PACKAGE_DIR / name
    if installed.is_dir():
        return str(installed)
    return str(PACKAGE_DIR.parent / name)


#: Libraries that log secrets at DEBUG: authlib the PKCE verifiers; urllib3 the
#: request URLs, which for Graph carry the app secret and access tokens; botocore
#: (and boto3, s3transfer through it) whole requests and responses, with the
#: Logins tokens, the signing key and the temporary AWS credentials.
QUIET_LOGGERS = ("authlib", "urllib3", "botocore", "boto3", "s3transfer")


def configure_logging(app: Flask) -> None:
    """Set the app's log level; the chatty libraries never go below INFO,
    whatever the level (or the root logger's level) says. In production the
    auth events go to stderr, one JSON object a line, whatever the level:
    gunicorn sets up no logging for the app, so nothing else would write them."""
    settings = config.settings(app)
    level = settings.log_level
    logging.getLogger("webapp").setLevel(level)
    quiet = max(logging.INFO, logging.getLevelName(level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    if settings.production:
        from . import signals

        events = logging.getLogger(signals.log.name)
        events.setLevel(logging.INFO)
        events.propagate = False  # one line per event, whatever the root logger has
        if not any(getattr(h, "fedlab_events", False) for h in events.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.fedlab_events = True  # type: ignore[attr-defined]
            events.addHandler(handler)
        production.announce_lab(settings)


def register_proxy(app: Flask) -> None:
    hops = config.settings(app).trusted_proxies
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from . import guests, health, pacing, picture, rendered_pages, roles, sessions, signals

    sessions.init_app(app, null_session_paths=health.PATHS)
    rendered_pages.init_app(app)
    guests.init_app(app)  # its counts live beside the sessions
    pacing.init_app(app)  # and so do its marks
    csrf.init_app(app)
    sessions.init_timeouts(app)  # after the CSRF check: see init_timeouts
    oauth.init_app(app)
    aws.init_app(app)
    site_aws.init_app(app)
    roles.init_app(app)
    signals.init_app(app)
    security.init_app(app)
    timewords.init_app(app)
    picture.init_app(app)  # times each request, keeps a request's AWS calls for the picture


def register_blueprints(app: Flask) -> None:
    from . import account, auth, credentials, diagnostics, health, pages, picture_page, storage

    app.register_blueprint(pages.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(credentials.bp)
    app.register_blueprint(storage.bp)
    app.register_blueprint(diagnostics.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(picture_page.bp)
