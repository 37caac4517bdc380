"""Provider kinds as classes: one list of kinds, and how a kind's callback arrives."""

from __future__ import annotations

import tomllib
from typing import ClassVar

import pytest

from standins import FLAVOURS
from webapp.config import ConfigError
from webapp.providers import KINDS, build
from webapp.providers.oidc import OpenIDConnect

from .conftest import PROVIDERS, ROOT


class FormPost(OpenIDConnect):
    """A kind whose callback is a cross-site POST (``response_mode=form_post``), as
    Sign in with Apple's is: what a future kind declares, and nothing else."""

    KIND: ClassVar[str] = "form-post-example"
    RESPONSE_MODE: ClassVar[str] = "form_post"


TABLE = {"kind": "form-post-example", "client_id": "c", "client_secret": "s",
         "issuer": "https://id.example"}


def test_every_kind_but_apple_is_called_back_by_a_get_redirect():
    assert {kind.KIND for kind in KINDS.values() if kind.RESPONSE_MODE != "query"} == {"apple"}
    for table in ({"kind": "google", "client_id": "c", "client_secret": "s"},
                  {"kind": "oidc", "client_id": "c", "client_secret": "s",
                   "issuer": "https://id.example"}):
        provider = build("p", table)
        assert "response_mode" not in provider.authorize_params
        assert provider.response_mode == "query"


def test_a_form_post_kind_asks_for_it(monkeypatch):
    """How the posted form is then read: tests/test_form_post.py, over HTTP."""
    monkeypatch.setitem(KINDS, FormPost.KIND, FormPost)
    provider = build("apple-like", TABLE)
    assert provider.authorize_params["response_mode"] == "form_post"
    assert provider.response_mode == "form_post"
    assert build("plain", {**TABLE, "kind": "oidc"}).response_mode == "query"


def test_an_oidc_provider_may_be_configured_for_form_post():
    table = {**TABLE, "kind": "oidc", "authorize_params": {"response_mode": "form_post"}}
    assert build("corp", table).response_mode == "form_post"
    for mode in ("fragment", "web_message", "form_post.jwt"):
        with pytest.raises(ConfigError, match=r"^providers\.corp\.authorize_params\."
                                              r"response_mode: one of query, form_post;"):
            build("corp", {**table, "authorize_params": {"response_mode": mode}})


@pytest.mark.parametrize("param", ["state", "nonce", "code_verifier", "code_challenge",
                                   "code_challenge_method", "redirect_uri", "client_id",
                                   "response_type", "scope", "request", "request_uri"])
def test_authorize_params_cannot_set_what_each_sign_in_sets(param):
    """A fixed state, nonce or verifier would be everyone's (authlib takes a given one
    over a fresh one); a fixed redirect_uri broke every sign-in with a 500."""
    table = {**TABLE, "kind": "oidc", "authorize_params": {param: "fixed"}}
    with pytest.raises(ConfigError, match=rf"^providers\.corp\.authorize_params\.{param}: "
                                          r"set by each sign-in itself"):
        build("corp", table)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_get_kinds_callback_takes_no_other_method(browser, app_url, method):
    response = browser.http.request(method, f"{app_url}/auth/google/callback",
                                    data={"state": "x", "code": "y"}, timeout=5)
    assert response.status_code == 405


EXAMPLE_KIND = '''
"""An example kind, written as a new provider's module would be."""

from typing import ClassVar

from .oidc import OpenIDConnect


class Example(OpenIDConnect):
    KIND: ClassVar[str] = "example"
    DISPLAY_NAME: ClassVar[str] = "Example ID"
'''

CHECK_NEW_KIND = """
from webapp.providers import KINDS, build
provider = build("corp", {"kind": "example", "client_id": "c", "client_secret": "s",
                          "issuer": "https://id.example"})
print(sorted(KINDS), type(provider).__name__, provider.display_name)
"""


@pytest.mark.slow
def test_a_new_kind_is_its_module_and_nothing_else(tmp_path):
    """Adding a kind touches no list: a copy of the app with one more module in
    webapp/providers/ knows the kind, builds it from a table, and names it."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "webapp", tmp_path / "webapp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "webapp" / "providers" / "example.py").write_text(EXAMPLE_KIND)
    result = subprocess.run([sys.executable, "-c", CHECK_NEW_KIND], cwd=tmp_path,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "['amazon', 'apple', 'auth0', 'cognito', 'example', 'facebook', 'google', 'oidc'] Example "
        "Example ID")


def test_no_kind_is_named_outside_its_class_and_no_kind_dispatch_is_left():
    """The kinds are spelled in their classes only: no module of the app, template
    or deployment script compares or lists a kind's name, and no module copies a
    kind's function under another name (``x = oidc.x``) or dispatches by kind."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    kinds = set(KINDS)
    found = []
    for path in [*root.glob("webapp/**/*.py"), *root.glob("deploy/*.py")]:
        tree = ast.parse(path.read_text())
        in_providers = path.parent.name == "providers"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and node.value in kinds and not in_providers):
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.Name) and node.id == "kind_of":
                found.append(f"{path.relative_to(root)}:{node.lineno} kind_of")
        for node in tree.body:  # module level: an alias of another module's function
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute)
                    and isinstance(node.value.value, ast.Name)
                    and [getattr(t, "id", None) for t in node.targets] == [node.value.attr]):
                found.append(f"{path.relative_to(root)}:{node.lineno} alias {node.value.attr}")
    names = "|".join(kinds)
    quoted = re.compile(r"""kind\s*(==|!=|in)\s*["'(\[]|["'](""" + names + r""")["']""")
    for path in root.glob("templates/**/*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if quoted.search(line):
                found.append(f"{path.relative_to(root)}:{number} {line.strip()[:60]}")
    assert found == []


def test_a_kind_says_whether_it_sends_logout_tokens_and_where_to_register_them():
    """Back-Channel Logout is each kind's declaration (``SENDS_LOGOUT_TOKENS``), not
    guessed from its console words; the two agree: a kind that sends logout tokens
    says where its console registers the URL, and one that sends none has no place
    for it (a subclass of a sending kind says False: Google, Apple, Cognito)."""
    senders = {kind for kind, cls in KINDS.items() if cls.SENDS_LOGOUT_TOKENS is True}
    assert senders == {"oidc", "auth0"}
    for kind, cls in KINDS.items():
        assert cls.SENDS_LOGOUT_TOKENS in (True, False), kind
        assert bool(cls.CONSOLE.get("backchannel_logout")) is cls.SENDS_LOGOUT_TOKENS, kind
    tables = {"oidc": {"kind": "oidc", "client_id": "c", "client_secret": "s",
                       "issuer": "https://id.example"},
              "google": {"kind": "google", "client_id": "c", "client_secret": "s"}}
    assert build("p", tables["oidc"]).takes_logout_tokens is True
    assert build("p", tables["google"]).takes_logout_tokens is False


def test_a_kind_without_logout_tokens_takes_none_whatever_its_console_says(monkeypatch):
    """The declaration decides, not the console words a subclass inherits."""

    class Quiet(OpenIDConnect):
        KIND: ClassVar[str] = "quiet-example"
        SENDS_LOGOUT_TOKENS: ClassVar[bool] = False

    monkeypatch.setitem(KINDS, Quiet.KIND, Quiet)
    provider = build("quiet", {**TABLE, "kind": Quiet.KIND})
    assert provider.CONSOLE.get("backchannel_logout")  # inherited from oidc
    assert provider.takes_logout_tokens is False


@pytest.mark.parametrize(("upstream", "kind"), [
    ("Google", "google"), ("Facebook", "facebook"), ("LoginWithAmazon", "amazon"),
    ("SignInWithApple", "apple")])
def test_cognito_reads_what_is_upstream_from_the_upstream_kind(upstream, kind):
    """Straight to Google (say) through the Hosted UI: the mark, the picture origins
    and where to register Cognito's idpresponse URL are the google kind's own, in its
    console's words and forms (Facebook's and Apple's sites are bare host names)."""
    hosted = "https://fedlab.auth.us-east-1.amazoncognito.com"
    provider = build(f"cognito-{kind}", {
        "kind": "cognito", "client_id": "c", "client_secret": "s", "region": "us-east-1",
        "user_pool_id": "us-east-1_X", "hosted_ui_url": hosted, "identity_provider": upstream})
    cls = KINDS[kind]
    assert provider.mark == cls.MARK
    assert set(cls.PICTURE_ORIGINS) <= set(provider.picture_origins())
    callback, origin = provider.upstream_registrations()
    assert (callback.where, callback.value) == (cls.CONSOLE["callback"],
                                                f"{hosted}/oauth2/idpresponse")
    assert origin.where == cls.CONSOLE["origin"]
    assert origin.value == cls.CONSOLE_FORMS.get("origin").of(hosted)


def test_every_kind_has_its_stand_in_and_a_table_the_flows_sign_in_with():
    """The README's "Adding a provider kind": the package finds a new kind by itself,
    so no list names it; this fails until it has a stand-in (``FLAVOURS``) and a
    table in the demo's configuration (the generic kind: config/oidc.toml), and
    until the tests' ``PROVIDERS``, which every flow signs in with, are the demo's."""
    flavours = {flavour.name for flavour in FLAVOURS}
    tables: dict[str, list[str]] = {}
    for file in ("demo.toml", "oidc.toml"):
        providers = tomllib.loads((ROOT / "config" / file).read_text())["providers"]
        for name, table in providers.items():
            tables.setdefault(table["kind"], []).append(name)
    assert not [kind for kind in KINDS if kind not in flavours], flavours
    assert not [kind for kind in KINDS if not tables.get(kind)], tables
    demo = tomllib.loads((ROOT / "config" / "demo.toml").read_text())["providers"]
    assert sorted(PROVIDERS) == sorted(demo)
