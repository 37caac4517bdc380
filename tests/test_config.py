"""Configuration: layers in order, and errors that name the key and the fix."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from webapp.config import ConfigError, DiagnosticsSettings, load_config
from webapp.setup import load

from .conftest import ROOT, make_app

SECRET = "s" * 40
#: What every configuration needs from the secrets file or the environment.
SECRETS = f'secret_key = "{SECRET}"\n[session]\nencryption_key = "{"e" * 40}"\n'


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(__import__("os").environ):
        if name.startswith("FEDLAB_"):
            monkeypatch.delenv(name)
    return monkeypatch


def write(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


OIDC = SECRETS + """
[providers.corp]
kind = "oidc"
client_id = "abc"
client_secret = "from-file"
issuer = "https://id.example.com"
"""


def test_layers_file_then_environment_then_overrides(tmp_path, clean_env):
    path = write(tmp_path, OIDC)
    clean_env.setenv("FEDLAB_PROVIDERS__CORP__CLIENT_SECRET", "from-env")
    clean_env.setenv("FEDLAB_HTTP_TIMEOUT", "3")
    loaded = load({"config_file": path})
    assert loaded.providers["corp"].client_secret == "from-env"
    assert loaded.settings.http_timeout == 3.0
    config = load_config({"config_file": path, "http_timeout": 7})
    assert config.http_timeout == 7.0


def test_the_gunicorn_config_variables_are_not_settings(tmp_path, clean_env):
    """deploy/gunicorn.conf.py reads FEDLAB_BIND and the like; an instance that sets
    them must still start (they once failed every worker as unknown keys). The
    names are read from that file, so a variable added there is covered too."""
    conf = (Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py").read_text()
    names = set(re.findall(r"""environ\.get\(\s*["'](FEDLAB_[A-Z_]+)["']""", conf))
    assert {"FEDLAB_BIND", "FEDLAB_WORKERS"} <= names
    path = write(tmp_path, OIDC)
    for name in names:
        clean_env.setenv(name, "2")
    config = load_config({"config_file": path})
    assert not {name[len("FEDLAB_"):].lower() for name in names} & {
        field.name for field in fields(config)}


def test_secrets_file_is_a_layer(tmp_path, clean_env):
    path = write(tmp_path, OIDC.replace(f'secret_key = "{SECRET}"', ""))
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'secret_key = "{SECRET}"\n[providers.corp]\nclient_secret = "x"\n')
    providers = load({"config_file": path, "secrets_file": str(secrets)}).providers
    assert providers["corp"].client_secret == "x"


def test_dashed_provider_names_map_from_the_environment(tmp_path, clean_env):
    path = write(tmp_path, OIDC.replace("providers.corp", "providers.corp-two"))
    clean_env.setenv("FEDLAB_PROVIDERS__CORP_TWO__CLIENT_SECRET", "env")
    assert load({"config_file": path}).providers["corp-two"].client_secret == "env"


@pytest.mark.parametrize(("change", "key"), [
    (("secret_key", ""), "secret_key: missing"),
    (("secret_key", "short"), "secret_key: too short"),
    (("http_timeout", "fast"), "http_timeout"),
    (("external_url", "https://x.example/path"), "external_url"),
    (("no_such_key", 1), "no_such_key: unknown key"),
    (("session", {"type": "memcached"}), "session.type"),
    (("session", {"idle_timeout": 10}), "session.idle_timeout"),
    (("session", {"client_cache": -1}), "session.client_cache: must be at least 0"),
    (("session", {"client_cache": "many"}), "session.client_cache: must be a whole number"),
    (("session", {"encryption_key": ""}), "session.encryption_key: missing"),
    (("session", {"encryption_key": "short"}), "session.encryption_key: too short"),
    (("session", {"encryption_key": SECRET}), "session.encryption_key: must differ from"),
    (("trusted_hosts", ["https://fedlab.example.com"]), "trusted_hosts: 'https://"),
    (("trusted_hosts", ["fedlab.example.com:443"]), "trusted_hosts: 'fedlab.example.com:443'"),
    (("trusted_hosts", [".com"]), "trusted_hosts: '.com' admits every host"),
    (("trusted_hosts", "fedlab.example.com, .example"), "trusted_hosts: '.example' admits"),
])
def test_bad_keys_are_named(tmp_path, clean_env, change, key):
    path = write(tmp_path, OIDC)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config({"config_file": path, change[0]: change[1]})


@pytest.mark.parametrize(("entry", "key"), [
    ({"kind": "saml"}, "providers.corp.kind"),
    ({"kind": "oidc", "client_id": "a", "client_secret": "b"}, "providers.corp.issuer: missing"),
    ({"kind": "oidc", "issuer": "https://i", "client_secret": "b"}, "providers.corp.client_id"),
    ({"kind": "oidc", "issuer": "https://i", "client_id": "a"}, "CLIENT_SECRET"),
    ({"kind": "google", "client_id": "a", "client_secret": "b", "domain": "x"},
     "providers.corp.domain: not a key of kind 'google'"),
    ({"kind": "cognito", "client_id": "a", "client_secret": "b", "region": "us-east-1",
      "user_pool_id": "us-east-1_x"}, "providers.corp.domain: missing"),
    ({"kind": "cognito", "client_id": "a", "client_secret": "b", "region": "nowhere",
      "user_pool_id": "x", "domain": "d"}, "providers.corp.region"),
    ({"kind": "facebook", "client_id": "a", "client_secret": "b", "graph_version": "21"},
     "providers.corp.graph_version"),
])
def test_bad_provider_keys_are_named(tmp_path, clean_env, entry, key):
    path = write(tmp_path, SECRETS)
    with pytest.raises(ConfigError, match=key):
        load({"config_file": path, "providers": {"corp": entry}})


def test_a_missing_file_is_named(tmp_path, clean_env):
    with pytest.raises(ConfigError, match="FEDLAB_CONFIG: no file"):
        load_config({"config_file": str(tmp_path / "nope.toml")})


def test_cognito_defaults_follow_the_real_service(tmp_path, clean_env):
    path = write(tmp_path, SECRETS)
    provider = load({"config_file": path, "providers": {"pool": {
        "kind": "cognito", "client_id": "a", "client_secret": "b", "region": "eu-west-1",
        "user_pool_id": "eu-west-1_Abc", "domain": "me.auth.eu-west-1.amazoncognito.com",
        "identity_provider": "Google"}}}).providers["pool"]
    assert provider.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc"
    assert provider.endpoints["logout"] == "https://me.auth.eu-west-1.amazoncognito.com/logout"
    assert provider.authorize_params == {"identity_provider": "Google"}


LAB_POOL = {"kind": "cognito", "client_id": "a", "client_secret": "b", "region": "us-east-1",
            "user_pool_id": "us-east-1_FedLab", "domain": "me.auth.us-east-1.amazoncognito.com"}


@pytest.mark.parametrize("lab", [
    {"issuer": "http://127.0.0.1:9000/cognito-idp/us-east-1_FedLab"},
    {"hosted_ui_url": "http://127.0.0.1:9000/cognito"},
    {"hosted_ui_url": "https://localhost:9443/cognito"},
    {"issuer": "http://127.0.0.1:9000/cognito-idp/us-east-1_FedLab",
     "api_endpoint": "https://cognito-idp.us-east-1.amazonaws.com"},
])
def test_a_lab_cognito_is_refused_with_aws_user_pool_api(tmp_path, clean_env, lab):
    """GlobalSignOut would send the access token a stand-in minted to AWS."""
    path = write(tmp_path, SECRETS)
    with pytest.raises(ConfigError, match=r"providers\.pool\.api_endpoint: .*lab"):
        load({"config_file": path, "providers": {"pool": {**LAB_POOL, **lab}}})
    loaded = load({"config_file": path, "providers": {"pool": {
        **LAB_POOL, **lab, "api_endpoint": "http://127.0.0.1:9000/cognito-idp"}}})
    assert loaded.providers["pool"].settings["api_endpoint"] == \
        "http://127.0.0.1:9000/cognito-idp"


@pytest.mark.parametrize("api", [
    "https://cognito-idp.us-east-1.amazonaws.com:443",
    "https://COGNITO-IDP.us-east-1.amazonaws.com",
    "https://cognito-idp.us-east-1.amazonaws.com.",
    "https://cognito-idp-fips.us-east-1.amazonaws.com",
    "https://cognito-idp.eu-west-1.amazonaws.com",
    "https://user-pools.example.com"])
def test_a_lab_cognito_names_the_labs_user_pool_api_however_aws_is_spelled(tmp_path, clean_env,
                                                                            api):
    path = write(tmp_path, SECRETS)
    with pytest.raises(ConfigError, match=r"providers\.pool\.api_endpoint: .*lab"):
        load({"config_file": path, "providers": {"pool": {
            **LAB_POOL, "issuer": "http://127.0.0.1:9000/cognito-idp/us-east-1_FedLab",
            "api_endpoint": api}}})


def test_the_documented_example_is_valid(clean_env):
    # Every table the example leaves uncommented, whatever a new kind adds there.
    names = tuple(tomllib.loads((ROOT / "config" / "example.toml").read_text())["providers"])
    assert "corp" in names and "cognito" in names
    loaded = load({"config_file": "config/example.toml", "secret_key": SECRET,
                   "session": {"encryption_key": "e" * 40},
                   "providers": {n: {"client_secret": "s"} for n in names}})
    assert sorted(loaded.providers) == sorted(names)
    assert loaded.settings.external_url == "https://fedlab.example.com"


def test_secrets_of_other_providers_are_ignored(tmp_path, clean_env):
    path = write(tmp_path, OIDC)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[providers.corp]\nclient_secret = "x"\n'
                       '[providers.other]\nclient_secret = "y"\n')
    loaded = load({"config_file": path, "secrets_file": str(secrets)})
    assert list(loaded.providers) == ["corp"]


def test_an_environment_secret_for_an_unconfigured_provider_is_named(tmp_path, clean_env):
    clean_env.setenv("FEDLAB_PROVIDERS__GHOST__CLIENT_SECRET", "x")
    with pytest.raises(ConfigError, match=r"providers\.ghost: set in the environment"):
        load_config({"config_file": write(tmp_path, OIDC)})



@pytest.mark.parametrize(("diagnostics", "key"), [
    ({"operators": [{"issuer": "https://id.example.com"}]},
     r"diagnostics\.operators\[0\]\.subject: missing"),
    ({"operators": [{"issuer": "https://id.example.com", "subject": "a", "email": "x"}]},
     r"diagnostics\.operators\[0\]\.email: unknown key"),
    ({"operators": "https://id.example.com"}, r"diagnostics\.operators\[0\]: write the issuer"),
    ({"operators": 7}, r"diagnostics\.operators: must be a list"),
    ({"probe_interval": -1}, r"diagnostics\.probe_interval: must be at least 0"),
    ({"who": []}, r"diagnostics\.who: unknown key"),
])
def test_bad_diagnostics_keys_are_named(tmp_path, clean_env, diagnostics, key):
    with pytest.raises(ConfigError, match=key):
        load_config({"config_file": write(tmp_path, OIDC), "diagnostics": diagnostics})


def test_a_wildcard_of_two_labels_and_no_rate_limit_are_a_labs_choice(tmp_path, clean_env):
    """Outside production the probes may run back to back (tests, the demo);
    ``fedlab serve`` refuses it (tests/test_production.py)."""
    config = load_config({"config_file": write(tmp_path, OIDC), "diagnostics": {
        "probe_interval": 0}, "trusted_hosts": [".fedlab.example.com"]})
    assert config.diagnostics.probe_interval == 0
    assert ".fedlab.example.com" in config.trusted_hosts


def test_operators_from_the_file_or_the_environment(tmp_path, clean_env):
    path = write(tmp_path, OIDC + '\n[[diagnostics.operators]]\nissuer = "https://id.example.com"'
                                  '\nsubject = "248289761001"\n')
    (operator,) = load_config({"config_file": path}).diagnostics.operators
    assert (operator.issuer, operator.subject) == ("https://id.example.com", "248289761001")
    clean_env.setenv("FEDLAB_DIAGNOSTICS__OPERATORS",
                     "https://id.example.com 1, https://other.example.com/t 2")
    operators = load_config({"config_file": path}).diagnostics.operators
    assert [(o.issuer, o.subject) for o in operators] == [
        ("https://id.example.com", "1"), ("https://other.example.com/t", "2")]
    clean_env.delenv("FEDLAB_DIAGNOSTICS__OPERATORS")
    assert load_config({"config_file": write(tmp_path, OIDC)}).diagnostics == \
        DiagnosticsSettings(operators=(), probe_interval=60)


def test_the_settings_cannot_be_changed(tmp_path, clean_env):
    """One Settings is shared by every request of an app: no field can be assigned,
    and no list or table inside it can grow."""
    path = write(tmp_path, OIDC + '\n[standins]\nusers = [{username = "alice"}]\n')
    config = load_config({"config_file": path, "trusted_hosts": ["fedlab.example.com"]})
    with pytest.raises(FrozenInstanceError):
        config.http_timeout = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        config.session.idle_timeout = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        config.aws.bucket = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        config.diagnostics.probe_interval = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.trusted_hosts.append("evil.example.com")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        config.aws.upload_content_types.append("text/html")  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        config.provider_tables["corp"]["issuer"] = "https://evil.example.com"  # type: ignore[index]
    with pytest.raises(TypeError):
        config.provider_tables["evil"] = {}  # type: ignore[index]
    with pytest.raises(AttributeError):
        config.standins["users"].append({"username": "mallory"})
    with pytest.raises(TypeError):
        config.standins["users"][0]["username"] = "mallory"
    assert config.trusted_hosts[0] == "fedlab.example.com"
    assert config.provider_tables["corp"]["issuer"] == "https://id.example.com"
    assert config.standins["users"][0]["username"] == "alice"


@pytest.mark.parametrize("written", ["files", "cachelib"])
def test_the_file_store_is_named_files_and_cachelib_still_means_it(tmp_path, clean_env, written):
    config = load_config({"config_file": write(tmp_path, OIDC), "session": {"type": written}})
    assert config.session.type == "files"
    clean_env.setenv("FEDLAB_SESSION__TYPE", written)
    assert load_config({"config_file": write(tmp_path, OIDC)}).session.type == "files"


@pytest.mark.parametrize("written", ["files", "cachelib"])
def test_an_app_with_either_name_keeps_its_sessions_in_files(app, config_dir, tmp_path,
                                                             written):
    """Seen from outside: the sign-in state lands in a file under session.dir, and
    /readyz names the store by its one name (``app``: the stand-ins answer)."""
    app = make_app(config_dir, tmp_path, session={"type": written})
    client = app.test_client()
    assert client.get("/auth/google/login").status_code == 302
    assert [p for p in (tmp_path / "sessions").rglob("*") if p.is_file()]
    assert client.get("/readyz").get_json()["session_store"] == "files"


def test_config_imports_no_other_module_of_the_package():
    """webapp.config is the bottom layer: loading it alone (the package's own
    __init__, which builds apps, left out) brings in no other webapp module."""
    code = ("import sys, types; package = types.ModuleType('webapp'); "
            f"package.__path__ = [{str(ROOT / 'webapp')!r}]; sys.modules['webapp'] = package; "
            "import webapp.config; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'webapp'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "['webapp', 'webapp.config']"
