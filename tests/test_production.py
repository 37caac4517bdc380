"""``fedlab serve`` refuses what only a lab may do: each refusal names the key and exits 2.

Each case runs the real command (``python -m webapp.cli serve``) with a
configuration that production would accept but for one thing, and reads its
exit code and stderr; it stops before gunicorn starts. ``test_serve.py``
starts the accepted ones.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from webapp.config import ENDPOINT_KEYS
from webapp.demo import write_secrets

from .conftest import ROOT

#: A production configuration with nothing to refuse; each case changes one thing.
SITE = """
external_url = "https://fedlab.example.com"
trusted_proxies = 1

[session]
type = "redis"
redis_url = "rediss://sessions.example.com:6380/0"

[providers.corp]
kind = "oidc"
client_id = "fedlab"
issuer = "https://login.example.com/realms/main"

[aws]
identity_pool_id = "us-east-1:12345678-90ab-cdef-1234-567890abcdef"
bucket = "fedlab-example-bucket"
"""


def production_env(tmp_path: Path, text: str = SITE, **environ: str) -> dict[str, str]:
    config = tmp_path / "site.toml"
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDLAB_")}
    env.update(FEDLAB_CONFIG=str(config), FEDLAB_SECRET_KEY=secrets.token_urlsafe(48),
               FEDLAB_SESSION__ENCRYPTION_KEY=secrets.token_urlsafe(48),
               FEDLAB_PROVIDERS__CORP__CLIENT_SECRET=secrets.token_urlsafe(32))
    env.update(environ)
    return {k: v for k, v in env.items() if v != "<unset>"}


@pytest.fixture(scope="module")
def stop_gunicorn(tmp_path_factory) -> Path:
    """A gunicorn config file that makes gunicorn exit at once, for a case that
    gets past the configuration checks (so none starts a server)."""
    path = tmp_path_factory.mktemp("gunicorn") / "stop.conf.py"
    path.write_text("import sys\nsys.exit('the configuration was accepted')\n")
    return path


@pytest.fixture
def serve(stop_gunicorn: Path):
    """Run ``fedlab serve`` with an environment; it must stop before serving."""
    def run(env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "webapp.cli", "serve", "--bind", "127.0.0.1:9",
             "--config", str(stop_gunicorn)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    return run


def refused(serve, env: dict[str, str], key: str) -> str:
    result = serve(env)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert f"configuration error: {key}:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_the_site_configuration_is_accepted(serve, tmp_path):
    """The control: only the stand-in gunicorn config stops it, after the checks."""
    result = serve(production_env(tmp_path))
    assert "the configuration was accepted" in result.stderr, result.stderr
    assert "configuration error" not in result.stderr


def test_serve_needs_an_explicit_config_file(serve, tmp_path):
    # Run where config/demo.toml is, as the Docker image once did.
    refused(serve, production_env(tmp_path, FEDLAB_CONFIG="<unset>"), "FEDLAB_CONFIG")


def test_the_demo_configuration_is_refused(serve, tmp_path):
    secrets_file = tmp_path / "secrets.toml"
    write_secrets(secrets_file, tomllib.loads(
        (ROOT / "config" / "demo.toml").read_text())["providers"])
    env = production_env(tmp_path, FEDLAB_CONFIG=str(ROOT / "config" / "demo.toml"),
                         FEDLAB_SECRETS_FILE=str(secrets_file))
    for name in ("FEDLAB_SECRET_KEY", "FEDLAB_SESSION__ENCRYPTION_KEY",
                 "FEDLAB_PROVIDERS__CORP__CLIENT_SECRET"):
        env.pop(name)
    refused(serve, env, "standins")


SAME_KEY = secrets.token_urlsafe(48)
LAB_CASES = [
    pytest.param({"issuer": "http://login.example.com/realms/main"}, "providers.corp.issuer",
                 id="http-issuer"),
    pytest.param({"issuer": "https://127.0.0.1:9000/oidc"}, "providers.corp.issuer",
                 id="loopback-issuer"),
    pytest.param({"issuer": "https://localhost/oidc"}, "providers.corp.issuer",
                 id="localhost-issuer"),
    pytest.param({"s3_endpoint": "http://s3.example.com"}, "aws.s3_endpoint",
                 id="http-aws-endpoint"),
    pytest.param({"cognito_identity_endpoint": "https://[::1]:9100"},
                 "aws.cognito_identity_endpoint", id="loopback-aws-endpoint"),
    # The probes read the roles' trust policies here with the site's own AWS identity.
    pytest.param({"iam_endpoint": "http://127.0.0.1:9102"}, "aws.iam_endpoint",
                 id="loopback-iam-endpoint"),
    # Other spellings of this machine, and the link-local range (cloud metadata).
    pytest.param({"issuer": "https://127.1:9000/oidc"}, "providers.corp.issuer",
                 id="short-loopback-issuer"),
    pytest.param({"issuer": "https://2130706433:9000/oidc"}, "providers.corp.issuer",
                 id="decimal-loopback-issuer"),
    pytest.param({"issuer": "https://0x7f.0.0.1:9000/oidc"}, "providers.corp.issuer",
                 id="hex-loopback-issuer"),
    pytest.param({"issuer": "https://[::ffff:127.0.0.1]:9000/oidc"}, "providers.corp.issuer",
                 id="ipv4-mapped-loopback-issuer"),
    pytest.param({"issuer": "https://0.0.0.0:9000/oidc"}, "providers.corp.issuer",
                 id="unspecified-issuer"),
    pytest.param({"issuer": "https://[::127.0.0.1]:9000/oidc"}, "providers.corp.issuer",
                 id="ipv4-compatible-loopback-issuer"),
    pytest.param({"issuer": "https://ip6-localhost:9000/oidc"}, "providers.corp.issuer",
                 id="etc-hosts-loopback-name-issuer"),
    pytest.param({"s3_endpoint": "https://localhost.localdomain:9101"}, "aws.s3_endpoint",
                 id="localdomain-aws-endpoint"),
    pytest.param({"sts_endpoint": "https://169.254.169.254"}, "aws.sts_endpoint",
                 id="link-local-aws-endpoint"),
    pytest.param({"s3_endpoint": "https://[fe80::1]:9102"}, "aws.s3_endpoint",
                 id="link-local-ipv6-aws-endpoint"),
    pytest.param({"standins": True}, "standins", id="standins-table"),
    pytest.param({"facebook": "http://127.0.0.1:9000/facebook"}, "providers.fb.dialog_url",
                 id="loopback-dialog-url"),
    # Where sign-out everywhere sends the visitor's access token (GlobalSignOut).
    pytest.param({"cognito_api": "http://127.0.0.1:9000/cognito-idp"},
                 "providers.pool.api_endpoint", id="loopback-cognito-api-endpoint"),
    pytest.param({"amazon": "http://127.0.0.1:9000/amazon-api"}, "providers.lwa.api_url",
                 id="loopback-amazon-api-url"),
]


def lab_text(change: dict[str, object]) -> str:
    text = SITE
    if "issuer" in change:
        text = text.replace('issuer = "https://login.example.com/realms/main"',
                            f'issuer = "{change["issuer"]}"')
    for key in ENDPOINT_KEYS:
        if key in change:
            text = text.replace("[aws]\n", f'[aws]\n{key} = "{change[key]}"\n')
    if "standins" in change:
        text += '\n[standins]\nurl = "http://127.0.0.1:9000"\n'
    if "facebook" in change:
        text += (f'\n[providers.fb]\nkind = "facebook"\nclient_id = "100000000000001"\n'
                 f'client_secret = "{secrets.token_urlsafe(32)}"\ngraph_version = "v21.0"\n'
                 f'dialog_url = "{change["facebook"]}"\n')
    if "cognito_api" in change:
        text += (f'\n[providers.pool]\nkind = "cognito"\nclient_id = "1example23456789"\n'
                 f'client_secret = "{secrets.token_urlsafe(32)}"\nregion = "us-east-1"\n'
                 f'user_pool_id = "us-east-1_AbCdEf123"\n'
                 f'domain = "myapp.auth.us-east-1.amazoncognito.com"\n'
                 f'api_endpoint = "{change["cognito_api"]}"\n')
    if "amazon" in change:
        text += ('\n[providers.lwa]\nkind = "amazon"\n'
                 'client_id = "amzn1.application-oa2-client.0123456789abcdef"\n'
                 f'client_secret = "{secrets.token_urlsafe(32)}"\n'
                 'app_id = "amzn1.application.0123456789abcdef"\n'
                 f'api_url = "{change["amazon"]}"\n')
    return text


@pytest.mark.parametrize(("change", "key"), LAB_CASES)
def test_lab_addresses_are_refused(serve, tmp_path, change, key):
    refused(serve, production_env(tmp_path, lab_text(change)), key)


@pytest.mark.parametrize(("change", "key"), LAB_CASES)
def test_the_lab_opt_in_accepts_them_and_says_so(serve, tmp_path, change, key):
    result = serve(production_env(tmp_path, lab_text(change), FEDLAB_ALLOW_LAB="1"))
    assert "the configuration was accepted" in result.stderr, result.stderr
    assert "WARNING: allow_lab is on" in result.stderr


def test_the_demo_secrets_file_is_refused(serve, tmp_path):
    secrets_file = tmp_path / "secrets.toml"
    write_secrets(secrets_file, {"corp": {}})
    env = production_env(tmp_path, SITE.replace("external_url", f'secrets_file = '
                                                f'"{secrets_file}"\nexternal_url'))
    for name in ("FEDLAB_SECRET_KEY", "FEDLAB_SESSION__ENCRYPTION_KEY",
                 "FEDLAB_PROVIDERS__CORP__CLIENT_SECRET"):
        env.pop(name)
    refused(serve, env, "secrets_file")


@pytest.mark.parametrize(("environ", "key"), [
    pytest.param({"FEDLAB_EXTERNAL_URL": "http://fedlab.example.com"}, "external_url",
                 id="http-external-url"),
    pytest.param({"FEDLAB_EXTERNAL_URL": ""}, "external_url", id="proxy-without-external-url"),
    # No proxy, the hosts listed: still no Secure cookie, no HSTS, URLs from the Host.
    pytest.param({"FEDLAB_EXTERNAL_URL": "", "FEDLAB_TRUSTED_PROXIES": "0",
                  "FEDLAB_TRUSTED_HOSTS": "fedlab.example.com"}, "external_url",
                 id="no-external-url-without-proxy"),
    pytest.param({"FEDLAB_EXTERNAL_URL": "", "FEDLAB_TRUSTED_PROXIES": "0"}, "external_url",
                 id="no-host-at-all"),
    pytest.param({"FEDLAB_TRUSTED_HOSTS": ".com"}, "trusted_hosts", id="every-dot-com"),
    pytest.param({"FEDLAB_DIAGNOSTICS__PROBE_INTERVAL": "0"}, "diagnostics.probe_interval",
                 id="probes-without-rate-limit"),
    pytest.param({"FEDLAB_DIAGNOSTICS__PROBE_INTERVAL": "9"}, "diagnostics.probe_interval",
                 id="probes-nearly-without-rate-limit"),
    pytest.param({"FEDLAB_SESSION__REDIS_URL": "redis://sessions.example.com:6379/0"},
                 "session.redis_url", id="plain-redis-elsewhere"),
    pytest.param({"FEDLAB_SECRET_KEY": SAME_KEY, "FEDLAB_SESSION__ENCRYPTION_KEY": SAME_KEY},
                 "session.encryption_key", id="encryption-key-is-secret-key"),
    pytest.param({"FEDLAB_SECRET_KEY": "a" * 20 + "b" * 20}, "secret_key",
                 id="few-distinct-characters"),
    pytest.param({"FEDLAB_SECRET_KEY": "Xq7Lm2Rt9V" * 4}, "secret_key", id="repeated-pattern"),
    pytest.param({"FEDLAB_SECRET_KEY": "Xq7Lm2Rt9V" * 4 + "!"}, "secret_key",
                 id="repeated-pattern-and-one-more"),
    pytest.param({"FEDLAB_SECRET_KEY": "Xq7Lm2Rt9V" * 3 + "Xq7L"}, "secret_key",
                 id="repeated-pattern-cut-short"),
    pytest.param({"FEDLAB_CONFIG": ""}, "FEDLAB_CONFIG", id="empty-config-variable"),
    pytest.param({"FEDLAB_PROVIDERS__CORP__AUTHORIZE_PARAMS__STATE": "fixed"},
                 "providers.corp.authorize_params.state", id="fixed-state"),
    pytest.param({"FEDLAB_LOG_LEVEL": "verbose"}, "log_level", id="unknown-log-level"),
    pytest.param({"FEDLAB_AWS__BUCKET": "my bucket"}, "aws.bucket", id="bucket-with-a-space"),
    pytest.param({"FEDLAB_AWS__BUCKET": "arn:aws:s3:::fedlab-example-bucket"}, "aws.bucket",
                 id="bucket-as-an-arn"),
    pytest.param({"FEDLAB_EXTERNAL_URL": "https://[::1"}, "external_url",
                 id="external-url-unclosed-bracket"),
    pytest.param({"FEDLAB_SESSION__REDIS_URL": "sessions.example.com:6380/0"},
                 "session.redis_url", id="redis-url-without-scheme"),
    pytest.param({"FEDLAB_SESSION__REDIS_URL": "rediss://[bad"}, "session.redis_url",
                 id="redis-url-unclosed-bracket"),
    pytest.param({"FEDLAB_SECRET_KEY": "abcdefghijklmnopqrstuvwxyz0123456789"}, "secret_key",
                 id="a-run"),
    pytest.param({"FEDLAB_SESSION__ENCRYPTION_KEY": "changeme-please-to-a-long-value-0123"},
                 "session.encryption_key", id="placeholder"),
    pytest.param({"FEDLAB_SECRET_KEY": "my-fedlab-secret-key-for-production!"}, "secret_key",
                 id="secret-word"),
])
def test_each_refusal_names_its_key(serve, tmp_path, environ, key):
    refused(serve, production_env(tmp_path, **environ), key)


def test_a_redis_url_with_a_bad_port_is_refused_without_repeating_the_password(serve,
                                                                              tmp_path):
    stderr = refused(serve, production_env(
        tmp_path, FEDLAB_SESSION__REDIS_URL="rediss://:hunter2-store@sessions.example.com:abc/0"),
        "session.redis_url")
    assert "hunter2" not in stderr


@pytest.mark.parametrize("what", ["a-folder", "not-utf-8"])
def test_a_config_file_that_cannot_be_read_as_toml_is_named(serve, tmp_path, what):
    """The README's own `-v "$PWD/site:/config:ro"` makes a folder an easy mistake."""
    env = production_env(tmp_path)
    if what == "a-folder":
        env["FEDLAB_CONFIG"] = str(tmp_path)
    else:
        config = Path(env["FEDLAB_CONFIG"])
        config.write_bytes(config.read_text().replace("main", "caf\u00e9").encode("latin-1"))
    refused(serve, env, "FEDLAB_CONFIG")


def test_the_lab_opt_in_relaxes_nothing_else(serve, tmp_path):
    refused(serve, production_env(tmp_path, FEDLAB_ALLOW_LAB="1",
                           FEDLAB_EXTERNAL_URL="http://fedlab.example.com"), "external_url")


def test_every_level_name_logging_knows_is_accepted(serve, tmp_path):
    """WARN and FATAL are the logging module's too: the refusal is of what it does not
    know, not of what this site's message lists."""
    for level in ("warn", "FATAL", "debug"):
        result = serve(production_env(tmp_path, FEDLAB_LOG_LEVEL=level))
        assert "the configuration was accepted" in result.stderr, (level, result.stderr)


def test_the_least_limits_are_accepted(serve, tmp_path):
    """The control of the refusals above: ten seconds between runs, and a wildcard
    of two labels."""
    result = serve(production_env(tmp_path, FEDLAB_DIAGNOSTICS__PROBE_INTERVAL="10",
                                  FEDLAB_TRUSTED_HOSTS=".fedlab.example.com"))
    assert "the configuration was accepted" in result.stderr, result.stderr


def test_plain_redis_on_this_machine_is_accepted(serve, tmp_path):
    result = serve(production_env(tmp_path,
                                  FEDLAB_SESSION__REDIS_URL="redis://127.0.0.1:6379/0"))
    assert "the configuration was accepted" in result.stderr, result.stderr


def test_the_docker_image_sets_no_configuration_file():
    """The image runs ``fedlab serve`` with no FEDLAB_CONFIG of its own and
    carries no demo configuration, so an image run without one is refused
    (test_serve_needs_an_explicit_config_file)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["fedlab", "serve"]' in dockerfile
    assert "FEDLAB_CONFIG=" not in dockerfile.replace("-e FEDLAB_CONFIG=", "")
    assert "COPY config" not in dockerfile


def test_the_documented_example_is_a_production_configuration(serve, tmp_path):
    env = production_env(tmp_path, FEDLAB_CONFIG=str(ROOT / "config" / "example.toml"))
    for name in ("COGNITO", "COGNITO_GOOGLE", "AUTH0", "GOOGLE", "FACEBOOK", "AMAZON", "CORP"):
        env[f"FEDLAB_PROVIDERS__{name}__CLIENT_SECRET"] = secrets.token_urlsafe(32)
    result = serve(env)
    assert "the configuration was accepted" in result.stderr, result.stderr
