"""Load and validate Federation Lab's configuration, once, at start-up, into
typed, frozen settings.

Layers, each overriding the one before: built-in defaults, a TOML file
(``FEDLAB_CONFIG``, default ``config/demo.toml``), the secrets file it names
(``secrets_file``, never committed), ``FEDLAB_*`` environment variables, and
the ``overrides`` mapping given to ``create_app``. A bad or missing key stops
the app with a message that names the key and says what to put there, so a
misconfigured deployment fails at start rather than at a visitor's sign-in.

The result is a :class:`Settings`: frozen dataclasses whose collections are
tuples and read-only mappings, so no request can change what every other
request reads. The app keeps it (:func:`init_app`) and code reads it through
:func:`settings`. The ``[providers.<name>]`` tables stay raw here
(:attr:`Settings.provider_tables`): :func:`webapp.providers.build_all` makes
them providers, so this module imports nothing else of the package (the
providers import :class:`ConfigError` from here; the import goes one way).

In production (``fedlab serve``, the Docker image) the same configuration
must also pass :mod:`webapp.production`: it refuses what only a lab may do
(:func:`webapp.setup.load` runs both).

Environment variables name nested keys with double underscores:
``FEDLAB_SESSION__TYPE=redis``, ``FEDLAB_PROVIDERS__COGNITO_GOOGLE__CLIENT_SECRET=...``
(a provider's name is matched with ``-`` written as ``_``).
"""

from __future__ import annotations

import copy
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from flask import Flask

DEFAULT_CONFIG_FILE = "config/demo.toml"

DEFAULTS: dict[str, Any] = {
    "secret_key": "",
    "secrets_file": "",
    "external_url": "",
    "trusted_proxies": 0,
    # Host names the site answers to (webapp.guards checks them); external_url's host
    # is always one, and outside production localhost and 127.0.0.1 too.
    "trusted_hosts": [],
    "http_timeout": 5.0,
    "log_level": "INFO",
    "session": {
        "type": "files",
        "dir": "instance/sessions",
        "redis_url": "redis://127.0.0.1:6379/0",
        "key_prefix": "fedlab:session:",
        # Seals every stored session (AES-GCM); the store never sees it.
        "encryption_key": "",
        "idle_timeout": 1800,
        "absolute_timeout": 8 * 3600,
        # Redis only: session records each process keeps, kept true by Redis's
        # invalidation messages (webapp/session_cache.py); 0 reads Redis every time.
        "client_cache": 256,
        # Rendered pages each process keeps, one per session record, for a minute at
        # most (webapp/rendered_pages.py); 0 renders every view.
        "page_cache": 64,
    },
    "providers": {},
    # Identity Pool federation and the S3 pages; off while identity_pool_id is "".
    "aws": {
        "region": "us-east-1",
        "identity_pool_id": "",
        "allow_guests": True,
        # New guest identities made in a minute, at most: by the whole site with
        # Redis sessions, by each process with the file store (each "Continue as guest"
        # in a new browser session makes one).
        "guest_identities_per_minute": 30,
        "bucket": "",
        "max_upload_bytes": 10 * 1024 * 1024,
        "upload_content_types": ["text/plain", "image/png", "image/jpeg", "application/pdf"],
        "timeout": 5.0,
        # Endpoint overrides (a local stand-in); empty means AWS itself.
        "cognito_identity_endpoint": "",
        "s3_endpoint": "",
        "sts_endpoint": "",
        "iam_endpoint": "",
        # The pool's developer provider name (its "custom" authentication
        # provider): "" turns developer-authenticated identities off.
        "developer_provider_name": "",
        # Whether the pool allows the basic (classic) flow: GetOpenIdToken, then
        # STS AssumeRoleWithWebIdentity. Off unless the pool's own setting is on.
        "classic_flow": False,
    },
    # Live checks on /diagnostics: who may start them (signed in, by issuer and
    # subject), and how often (the last result is shown in between).
    "diagnostics": {
        "operators": [],
        "probe_interval": 60,
    },
    # Read only by the local stand-ins (``python -m standins``); the app
    # keeps it so one file can describe a whole demo.
    "standins": {},
    # Production only: accept the stand-ins (a [standins] table, http:// or
    # loopback issuers and endpoints, the demo's secrets file) for a lab.
    "allow_lab": False,
}

#: Where the sessions are kept: sealed files under session.dir, or Redis.
SESSION_TYPES = ("files", "redis")
#: Older names of a session type, still accepted: deployed configurations say
#: "cachelib", the library that once kept the files (it no longer reads them).
SESSION_TYPE_ALIASES = {"cachelib": "files"}
EXTENSION = "fedlab.settings"


class ConfigError(Exception):
    """A configuration key is missing or wrong; the message names it."""


@dataclass(frozen=True)
class SessionSettings:
    """``[session]``: where the sealed sessions are kept and how long they live."""

    #: ``files`` (sealed files under :attr:`dir`, one machine) or ``redis``.
    type: str
    dir: str
    redis_url: str
    key_prefix: str
    #: Seals every stored session (AES-GCM); the store never sees it.
    encryption_key: str
    idle_timeout: int
    absolute_timeout: int
    #: Redis only: how many records each process keeps, kept true by Redis's
    #: invalidation messages (:mod:`webapp.session_cache`); 0 turns it off.
    client_cache: int
    #: Rendered pages each process keeps, one per session record, for a minute
    #: at most (:mod:`webapp.rendered_pages`); 0 renders every view.
    page_cache: int


@dataclass(frozen=True)
class AwsSettings:
    """``[aws]``: Identity Pool federation and the S3 pages; off while
    :attr:`identity_pool_id` is empty."""

    region: str
    identity_pool_id: str
    allow_guests: bool
    guest_identities_per_minute: int
    bucket: str
    max_upload_bytes: int
    upload_content_types: tuple[str, ...]
    timeout: float
    #: Endpoint overrides (a local stand-in); empty means AWS itself.
    cognito_identity_endpoint: str
    s3_endpoint: str
    sts_endpoint: str
    iam_endpoint: str
    #: The pool's developer provider name ("" when the site is no developer provider).
    developer_provider_name: str
    #: The pool allows the basic (classic) flow, so the credentials page may show it.
    classic_flow: bool


@dataclass(frozen=True)
class DiagnosticsSettings:
    """``[diagnostics]``: who may start the live checks, and how often."""

    operators: tuple[Operator, ...]
    probe_interval: int


@dataclass(frozen=True)
class Settings:
    """The whole configuration, validated; one per app, shared read-only by all requests."""

    secret_key: str
    secrets_file: str
    #: The site's origin (``https://fedlab.example.com``), or "" to follow the request.
    external_url: str
    trusted_proxies: int
    #: Host header values the site answers to (:mod:`webapp.guards`).
    trusted_hosts: tuple[str, ...]
    http_timeout: float
    log_level: str
    #: Loaded for production (``fedlab serve``): no demo file, no loopback hosts.
    #: Production's refusals need the built providers too, so
    #: :func:`webapp.setup.load` applies them; the rest of the code may ask.
    production: bool
    #: Production only: accept the stand-ins and other lab settings.
    allow_lab: bool
    session: SessionSettings
    aws: AwsSettings
    diagnostics: DiagnosticsSettings
    #: The ``[providers.<name>]`` tables as layered, not yet checked: the
    #: providers are built from them by :func:`webapp.providers.build_all`.
    provider_tables: Mapping[str, Mapping[str, Any]]
    #: The ``[standins]`` table as written; read only by the offline demo.
    standins: Mapping[str, Any]

    @property
    def demo_origins(self) -> tuple[str, ...]:
        """Where the offline demo is opened (``standins.app_origins``): the origins
        its stand-ins register, so the ones its providers know."""
        origins = self.standins.get("app_origins") or ()
        return tuple(o for o in origins if isinstance(o, str))


def init_app(app: Flask, loaded: Settings) -> None:
    """Keep ``loaded`` as ``app``'s settings, read through :func:`settings` (and
    by the templates as ``settings``)."""
    app.extensions[EXTENSION] = loaded
    app.context_processor(lambda: {"settings": loaded})


def settings(app: Flask | None = None) -> Settings:
    """The settings of ``app``, by default the current app's."""
    if app is None:
        from flask import current_app

        app = current_app
    return app.extensions[EXTENSION]  # type: ignore[no-any-return]


def frozen(value: Any) -> Any:
    """``value`` with every table a read-only mapping and every list a tuple."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    return value


def plain(value: Any) -> Any:
    """A mutable copy of a frozen table (dicts and lists), for code that wants JSON's
    shapes, such as the stand-ins' settings."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def load_config(overrides: Mapping[str, Any] | None = None, *,
                production: bool = False) -> Settings:
    """Return the validated settings from every layer.

    ``production`` (``fedlab serve``) never falls back to the demo's file: the
    file must be named. The checks of :mod:`webapp.production` need the built
    providers too; :func:`webapp.setup.load` runs them.
    """
    config = copy.deepcopy(DEFAULTS)
    overrides = dict(overrides or {})
    # An override of "" means no file at all (tests, or a config made in code).
    path = overrides.pop("config_file", None)
    if path is None:
        path = os.environ.get("FEDLAB_CONFIG")
        if production and not (path or "").strip():
            # Empty counts as unset: `-e FEDLAB_CONFIG=$CFG` with CFG unset would
            # otherwise start a site with no file, and so no provider, that answers 200.
            raise ConfigError(
                f"FEDLAB_CONFIG: {'empty' if path is not None else 'not set'}; production "
                "reads only the file you name (start from config/example.toml), never "
                f"the demo's {DEFAULT_CONFIG_FILE}")
        path = path if path is not None else DEFAULT_CONFIG_FILE
    if path:
        _merge(config, _read_toml(Path(path), "FEDLAB_CONFIG"))
    secrets_file = overrides.get("secrets_file") or os.environ.get(
        "FEDLAB_SECRETS_FILE", config["secrets_file"]
    )
    if secrets_file and Path(secrets_file).exists():
        secrets = _read_toml(Path(secrets_file), "secrets_file")
        # One secrets file may serve several configurations: secrets of providers
        # this one does not configure are not an error, just not used.
        configured = config["providers"]
        secrets["providers"] = {
            name: entry for name, entry in secrets.get("providers", {}).items()
            if name in configured
        }
        _merge(config, secrets)
    environment = _from_environment(os.environ, config)
    for name in set(environment.get("providers", {})) - set(config["providers"]):
        raise ConfigError(
            f"providers.{name}: set in the environment (FEDLAB_PROVIDERS__"
            f"{name.upper()}__...) but not configured; add a [providers.{name}] table"
        )
    _merge(config, environment)
    _merge(config, overrides)
    return validate(config, production=production)


def _read_toml(path: Path, key: str) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{key}: no file at {path}; point it at a TOML file") from None
    except IsADirectoryError:
        raise ConfigError(f"{key}: {path} is a folder; point it at the TOML file in "
                          f"it") from None
    except OSError as e:  # unreadable: permissions, a broken mount
        raise ConfigError(f"{key}: {path} cannot be read ({e.strerror or type(e).__name__})"
                          ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {path} is not UTF-8 text, as TOML must be") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{key}: {path} is not valid TOML: {e}") from None


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


#: ``FEDLAB_*`` variables that are not settings: the files, and what
#: deploy/gunicorn.conf.py reads (an instance sets them beside the settings).
NOT_SETTINGS = frozenset({
    "FEDLAB_CONFIG", "FEDLAB_SECRETS_FILE", "FEDLAB_BIND", "FEDLAB_WORKERS", "FEDLAB_THREADS",
    "FEDLAB_KEEPALIVE", "FEDLAB_GUNICORN_LOG_LEVEL",
})


def _from_environment(environ: Mapping[str, str], known: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``FEDLAB_A__B=v`` into ``{"a": {"b": v}}``, matching existing names."""
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("FEDLAB_") or name in NOT_SETTINGS:
            continue
        parts = name[len("FEDLAB_") :].lower().split("__")
        node, existing = layer, known
        for part in parts[:-1]:
            part = _match_name(part, existing)
            node = node.setdefault(part, {})
            existing = existing.get(part, {}) if isinstance(existing, Mapping) else {}
        node[_match_name(parts[-1], existing)] = value
    return layer


def _match_name(part: str, existing: Any) -> str:
    if isinstance(existing, Mapping):
        for key in existing:
            if key.lower().replace("-", "_") == part:
                return key
    return part


def validate(raw: Mapping[str, Any], production: bool = False) -> Settings:
    """Check every key and return the typed, frozen settings.

    They say which mode they were checked for (``production``), so the rest
    of the code can ask.
    """
    unknown = set(raw) - set(DEFAULTS)
    if unknown:
        raise ConfigError(
            f"{sorted(unknown)[0]}: unknown key; the keys are documented in config/example.toml"
        )
    secret_key = _secret_key(raw.get("secret_key"))
    external_url = _external_url(raw.get("external_url", ""))
    trusted_proxies = _int(raw, "trusted_proxies", minimum=0)
    http_timeout = _number(raw, "http_timeout", minimum=0.1, maximum=60)
    log_level = str(raw.get("log_level", "INFO")).upper()
    if log_level not in logging.getLevelNamesMapping():
        raise ConfigError(f"log_level: one of {', '.join(LOG_LEVELS)} (or another name "
                          f"the logging module knows)")
    session = _session(raw.get("session", {}))
    if session.encryption_key == secret_key:
        raise ConfigError(
            "session.encryption_key: must differ from secret_key; a key that also signs "
            "the CSRF tokens must not seal the stored sessions (use a second random value)")
    allow_lab = _bool(raw, "allow_lab")
    trusted_hosts = _trusted_hosts(raw.get("trusted_hosts"), external_url, production)
    aws = _aws(raw.get("aws", {}))
    diagnostics = _diagnostics(raw.get("diagnostics", {}))
    configured = raw.get("providers", {})
    if not isinstance(configured, Mapping):
        raise ConfigError("providers: must be a table of [providers.<name>] sections")
    standins = raw.get("standins", {})
    if not isinstance(standins, Mapping):
        raise ConfigError("standins: must be a table")
    return Settings(
        secret_key=secret_key,
        secrets_file=str(raw.get("secrets_file") or ""),
        external_url=external_url,
        trusted_proxies=trusted_proxies,
        trusted_hosts=tuple(trusted_hosts),
        http_timeout=http_timeout,
        log_level=log_level,
        production=production,
        allow_lab=allow_lab,
        session=session,
        aws=aws,
        diagnostics=diagnostics,
        provider_tables=frozen(configured),
        standins=frozen(standins),
    )


def _secret_key(value: Any) -> str:
    if not value:
        raise ConfigError(
            "secret_key: missing; set FEDLAB_SECRET_KEY (or secret_key in the secrets file) "
            "to a random value of at least 32 characters, the same on every instance, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    value = str(value)
    if len(value) < 32:
        raise ConfigError("secret_key: too short; use at least 32 random characters")
    return value


def _external_url(value: Any) -> str:
    value = str(value or "").rstrip("/")
    if not value:
        return ""
    parts = _split_url(value)
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path or parts.query):
        raise ConfigError(
            "external_url: must be the site's origin such as https://fedlab.example.com "
            "(scheme and host, optional port, no path)"
        )
    return value


#: The loopback interface by name: what providers accept over plain http
#: (RFC 8252 7.3, and every provider's console), and what every lab and demo
#: answers to (not in production, unless listed). The one list of them;
#: :func:`webapp.urls.is_loopback` also knows every other spelling.
LOOPBACK = ("localhost", "127.0.0.1", "::1")
HOST_NAME = re.compile(r"^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def _trusted_hosts(value: Any, external_url: str, production: bool) -> list[str]:
    """The Host header values the site answers to: those listed, external_url's
    host, and (outside production) the loopback names."""
    if isinstance(value, str):
        value = [h.strip() for h in value.split(",") if h.strip()]
    if value is None:
        value = []
    if not isinstance(value, list | tuple) or not all(isinstance(h, str) for h in value):
        raise ConfigError("trusted_hosts: a list of host names such as [\"fedlab.example.com\"]")
    hosts = [h.lower() for h in value]
    for host in hosts:
        if not HOST_NAME.match(host):
            raise ConfigError(f"trusted_hosts: {host!r} is not a host name (no scheme, no "
                              f"port; a leading dot admits every subdomain)")
        if host.startswith(".") and host.count(".") < 2:
            # ".com" would admit every host under a public suffix.
            raise ConfigError(f"trusted_hosts: {host!r} admits every host of a top-level "
                              f"domain; a leading dot needs at least two labels after it "
                              f"(.fedlab.example.com)")
    if external_url:
        hosts.append((urlsplit(external_url).hostname or "").lower())
    if not production:
        # The names a Host header carries as written: "::1" comes as "[::1]".
        hosts += [h for h in LOOPBACK if HOST_NAME.match(h)]
    # Empty only in production, which refuses it (webapp.production).
    return list(dict.fromkeys(hosts))


def _table(raw: Any, name: str) -> dict[str, Any]:
    """A copy of the table ``name``, refused if it is no table or has a key its
    defaults do not know (a typo would otherwise be ignored in silence)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{name}: must be a table")
    unknown = set(raw) - set(DEFAULTS[name])
    if unknown:
        raise ConfigError(f"{name}.{sorted(unknown)[0]}: unknown key")
    return dict(raw)


def _session(raw: Any) -> SessionSettings:
    session = {**DEFAULTS["session"], **_table(raw, "session")}
    kind = session["type"]
    kind = SESSION_TYPE_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in SESSION_TYPES:
        raise ConfigError(f"session.type: must be one of {', '.join(SESSION_TYPES)} "
                          f"(cachelib, an older name, means files)")
    idle = _int(session, "idle_timeout", minimum=60, where="session.")
    absolute = _int(session, "absolute_timeout", minimum=60, where="session.")
    if absolute < idle:
        raise ConfigError("session.absolute_timeout: must not be shorter than idle_timeout")
    return SessionSettings(
        type=kind,
        dir=str(session["dir"]),
        redis_url=_redis_url(session["redis_url"]) if kind == "redis" else str(
            session["redis_url"]),
        key_prefix=str(session["key_prefix"]),
        encryption_key=_encryption_key(session.get("encryption_key")),
        idle_timeout=idle,
        absolute_timeout=absolute,
        client_cache=_int(session, "client_cache", minimum=0, where="session."),
        page_cache=_int(session, "page_cache", minimum=0, where="session."),
    )


#: S3's rules for a bucket's name (general purpose buckets).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_LIKE = re.compile(r"\d+\.\d+\.\d+\.\d+")
#: The levels a refused ``log_level`` is told of (the logging module knows a few
#: more names for them: WARN, FATAL).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: What redis-py's ``from_url`` takes.
REDIS_SCHEMES = ("redis", "rediss", "unix")


def _split_url(value: str) -> SplitResult | None:
    """``value``'s parts, or None where a reader would fail on it later: an unclosed
    bracket, or a port that is not a number (urlsplit raises only when asked)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None
    return parts


def _redis_url(value: Any) -> str:
    """The store's URL, read as redis-py will read it, so that a mistake stops the
    start with the key's name rather than every worker's boot. The message never
    repeats the URL: it may hold the store's password."""
    value = str(value)
    parts = _split_url(value)
    if parts is None:
        raise ConfigError("session.redis_url: not a URL redis can read (a bracket or the "
                          "port); the form is rediss://[:password@]host:port/db")
    if parts.scheme not in REDIS_SCHEMES:
        raise ConfigError(f"session.redis_url: must start with {', '.join(REDIS_SCHEMES)}"
                          f"://, as in rediss://[:password@]host:port/db")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError("session.redis_url: names no host, as in "
                          "rediss://[:password@]host:port/db")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError("session.redis_url: a unix:// URL names the socket's path")
    database = parts.path.lstrip("/") if parts.scheme != "unix" else ""
    if database and not database.isdigit():
        raise ConfigError("session.redis_url: the database after the host is a number")
    return value


def _encryption_key(value: Any) -> str:
    if not value:
        raise ConfigError(
            "session.encryption_key: missing; set FEDLAB_SESSION__ENCRYPTION_KEY (or "
            "encryption_key under [session] in the secrets file) to a random value of at "
            "least 32 characters, the same on every instance and not the secret_key, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    value = str(value)
    if len(value) < 32:
        raise ConfigError("session.encryption_key: too short; use at least 32 random characters")
    return value


def _diagnostics(raw: Any) -> DiagnosticsSettings:
    diagnostics = {**DEFAULTS["diagnostics"], **_table(raw, "diagnostics")}
    try:
        operators = parse_operators(diagnostics["operators"])
    except ValueError as e:
        raise ConfigError(f"diagnostics.operators{e}") from None
    return DiagnosticsSettings(
        operators=operators,
        probe_interval=_int(diagnostics, "probe_interval", minimum=0, where="diagnostics."))


@dataclass(frozen=True)
class Operator:
    """A person who may start the live checks, named by the issuer and subject of
    their verified sign-in (:mod:`webapp.operators`)."""

    issuer: str
    subject: str

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"


def parse_operators(value: Any) -> tuple[Operator, ...]:
    """The configured operators; a ValueError's message starts with the bad item's place
    (``[1].subject: ...``) so the caller can name the whole key."""
    if isinstance(value, str):  # the environment's form: "<issuer> <subject>, ..."
        value = [item for item in (part.strip() for part in value.split(",")) if item]
    if not isinstance(value, list | tuple):
        raise ValueError(": must be a list of {issuer, subject} tables")
    return tuple(_operator(index, item) for index, item in enumerate(value))


def _operator(index: int, item: Any) -> Operator:
    if isinstance(item, Operator):
        return item
    if isinstance(item, str):
        parts = item.split()
        if len(parts) != 2:
            raise ValueError(f"[{index}]: write the issuer and the subject separated by a "
                             f"space, got {item!r}")
        item = {"issuer": parts[0], "subject": parts[1]}
    if not isinstance(item, Mapping):
        raise ValueError(f"[{index}]: must be a table with issuer and subject")
    unknown = set(item) - {"issuer", "subject"}
    if unknown:
        raise ValueError(f"[{index}].{sorted(unknown)[0]}: unknown key; an operator has "
                         f"issuer and subject")
    for key in ("issuer", "subject"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ValueError(f"[{index}].{key}: missing; copy it from the diagnostics page, "
                             f"which shows a signed-in visitor's issuer and subject")
    return Operator(item["issuer"].strip(), item["subject"].strip())


POOL_ID = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f-]{36}$")
DEVELOPER_PROVIDER_NAME = re.compile(r"[\w.-]{1,128}")
#: The ``[aws]`` keys naming an endpoint (a stand-in, a VPC endpoint); empty is AWS itself.
ENDPOINT_KEYS = ("cognito_identity_endpoint", "s3_endpoint", "sts_endpoint", "iam_endpoint")


def _aws(raw: Any) -> AwsSettings:
    aws = {**DEFAULTS["aws"], **_table(raw, "aws")}
    pool = aws["identity_pool_id"]
    if pool:
        if not isinstance(pool, str) or not POOL_ID.match(pool):
            raise ConfigError("aws.identity_pool_id: must look like us-east-1:<uuid>, from the "
                              "Cognito console (Identity pools > your pool > Identity pool ID)")
        if not pool.startswith(str(aws["region"]) + ":"):
            raise ConfigError(f"aws.region: must be the identity pool's region, "
                              f"{pool.split(':')[0]}")
        if not aws["bucket"]:
            raise ConfigError("aws.bucket: missing; put the S3 bucket of the storage pages here")
    bucket = str(aws["bucket"] or "")
    if bucket and (not BUCKET_NAME.fullmatch(bucket) or ".." in bucket
                   or IP_LIKE.fullmatch(bucket)):
        # botocore would refuse it only when the first page is made (the CSP's upload
        # URL, a visitor's listing): a stack trace at start, or a broken page.
        raise ConfigError("aws.bucket: an S3 bucket's name (3 to 63 lowercase letters, "
                          "digits, dots and hyphens, a letter or digit at each end), not an "
                          "ARN or a URL")
    for key in ENDPOINT_KEYS:
        value = aws[key]
        if value and not str(value).startswith(("http://", "https://")):
            raise ConfigError(f"aws.{key}: must be an http(s) URL, or empty for AWS itself")
    types = aws["upload_content_types"]
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    if not types or not isinstance(types, list | tuple) or \
            not all(isinstance(t, str) and "/" in t for t in types):
        raise ConfigError("aws.upload_content_types: a list of MIME types such as text/plain")
    return AwsSettings(
        region=str(aws["region"]),
        identity_pool_id=str(pool or ""),
        allow_guests=_bool(aws, "allow_guests", "aws."),
        guest_identities_per_minute=_int(aws, "guest_identities_per_minute", minimum=1,
                                         where="aws."),
        bucket=str(aws["bucket"] or ""),
        max_upload_bytes=_int(aws, "max_upload_bytes", minimum=1, where="aws."),
        upload_content_types=tuple(types),
        timeout=_number(aws, "timeout", minimum=0.1, maximum=60, where="aws."),
        cognito_identity_endpoint=str(aws["cognito_identity_endpoint"] or ""),
        s3_endpoint=str(aws["s3_endpoint"] or ""),
        sts_endpoint=str(aws["sts_endpoint"] or ""),
        iam_endpoint=str(aws["iam_endpoint"] or ""),
        developer_provider_name=_developer_provider_name(aws["developer_provider_name"]),
        classic_flow=_bool(aws, "classic_flow", "aws."),
    )


def _developer_provider_name(value: Any) -> str:
    """The pool's developer provider name as its console takes it: 1 to 128 of
    letters, digits, ``.``, ``_`` and ``-`` (a reversed domain, say), or empty."""
    if not value:
        return ""
    if not isinstance(value, str) or not DEVELOPER_PROVIDER_NAME.fullmatch(value):
        raise ConfigError("aws.developer_provider_name: 1 to 128 letters, digits, '.', '_' or "
                          "'-', as on the pool (Identity pools > your pool > User access > "
                          "Custom developer provider), or empty")
    return value


def _bool(raw: Mapping[str, Any], key: str, where: str = "") -> bool:
    value = raw[key]
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ConfigError(f"{where}{key}: must be true or false")


def _int(raw: Mapping[str, Any], key: str, minimum: int, where: str = "") -> int:
    try:
        value = int(raw[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{where}{key}: must be a whole number") from None
    if value < minimum:
        raise ConfigError(f"{where}{key}: must be at least {minimum}")
    return value


def _number(raw: Mapping[str, Any], key: str, minimum: float, maximum: float,
            where: str = "") -> float:
    try:
        value = float(raw[key])
    except (TypeError, ValueError):
        raise ConfigError(f"{where}{key}: must be a number of seconds") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{where}{key}: must be between {minimum} and {maximum} seconds")
    return value
