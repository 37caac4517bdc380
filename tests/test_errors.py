"""The error catalogue cannot be misused: an unknown code fails where it is raised,
every code the source raises or picks has an entry, every entry is raised by
something, and an unexpected exception reaches a developer but never a visitor."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from webapp import aws, errors, probes
from webapp.errors import AUTHORIZATION_ERRORS, CATALOGUE, FedlabError

from .conftest import make_app

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"

#: Calls whose code argument names a catalogue entry: the callable's name, and the
#: position and keyword of that argument (Verdict's ``error``, explained by its entry).
CODE_ARGUMENTS = {"FedlabError": (0, "code"), "Verdict": (5, "error")}

#: The code arguments that are not literals, and where the codes they can hold come
#: from; each source is checked by test_every_code_the_source_can_pick_is_in_the_catalogue.
#: A new one fails test_no_code_comes_from_an_unchecked_place until it is listed here.
DYNAMIC_CODES = {
    # aws.errors_explained: an entry of aws.IDENTITY_ERRORS, else "aws_error".
    "identity_error(code, message)",
    # signin.authorization_error (AUTHORIZATION_ERRORS or a literal) and errors.handle_http
    # (errors._HTTP_CODES or a literal): `code = ...` assignments, collected below.
    "code",
    # A verdict's entry, itself a literal or e.code of a FedlabError (checked when made).
    "verdict.error",
    "e.code",
}

#: Tables that map someone else's error codes (AWS's, RFC 6749's, HTTP's) to entries.
TABLES = {
    "aws.IDENTITY_ERRORS": {entry for _, _, entry in aws.IDENTITY_ERRORS},
    "errors.AUTHORIZATION_ERRORS": set(AUTHORIZATION_ERRORS),
    "errors._HTTP_CODES": set(errors._HTTP_CODES.values()),
    "probes.POOL_FAILURES": set(probes.POOL_FAILURES),
    "probes.POOL_UNASKED": set(probes.POOL_UNASKED),
    "aws.identity_error's fallback": {aws.identity_error("NoSuchAwsCode", "")},
}


def sources() -> Iterator[tuple[str, ast.AST]]:
    for path in sorted(WEBAPP.rglob("*.py")):
        yield str(path.relative_to(WEBAPP.parent)), ast.parse(path.read_text(), str(path))


def literals(node: ast.AST) -> set[str]:
    """The strings a code expression can be: a literal, or either branch of an if."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return literals(node.body) | literals(node.orelse)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(literals(e) for e in node.elts))
    return set()


def callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def code_argument(call: ast.Call) -> ast.expr | None:
    position, keyword = CODE_ARGUMENTS[callee(call)]
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def is_code(node: ast.AST) -> bool:
    """``code`` or ``<anything>.code``: a variable or attribute holding an entry's code."""
    return (isinstance(node, ast.Name) and node.id == "code") or (
        isinstance(node, ast.Attribute) and node.attr == "code")


def picked_codes() -> tuple[dict[str, set[str]], set[str]]:
    """Every literal code in the source, by where it was found; and the dynamic ones."""
    found: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    for name, tree in sources():
        for node in ast.walk(tree):
            codes: set[str] = set()
            if isinstance(node, ast.Call) and callee(node) in CODE_ARGUMENTS:
                argument = code_argument(node)
                if argument is not None:
                    codes = literals(argument)
                    if not codes:
                        dynamic.add(ast.unparse(argument))
            elif isinstance(node, ast.Compare) and is_code(node.left):
                # e.code == "token_request_failed", e.code in ("...", "...")
                codes = set().union(*(literals(c) for c in node.comparators))
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
                # code = error if error in AUTHORIZATION_ERRORS else "provider_error"
                # code = _HTTP_CODES.get(error.code or 500, "bad_request")
                value = node.value
                codes = literals(value)
                if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                        and value.func.attr == "get" and len(value.args) == 2):
                    codes = literals(value.args[1])
            for code in codes:
                found.setdefault(code, set()).add(f"{name}:{node.lineno}")
    return found, dynamic


def test_the_scan_finds_what_it_should():
    """The scan is not vacuous: it sees literals, both branches of an if, comparisons."""
    found, dynamic = picked_codes()
    assert {"state_mismatch", "provider_timeout", "provider_unreachable",
            "redirect_mismatch", "token_request_failed", "provider_error"} <= set(found)
    assert "identity_error(code, message)" in dynamic
    assert len(found) > 30


def test_no_code_comes_from_an_unchecked_place():
    _, dynamic = picked_codes()
    assert dynamic <= DYNAMIC_CODES, f"check where {dynamic - DYNAMIC_CODES} come from"


def test_every_code_the_source_can_pick_is_in_the_catalogue():
    found, _ = picked_codes()
    missing = {code: sorted(where) for code, where in found.items() if code not in CATALOGUE}
    assert not missing
    for table, codes in TABLES.items():
        assert codes <= set(CATALOGUE), f"{table}: {codes - set(CATALOGUE)}"


def test_every_catalogue_entry_is_raised_by_something():
    found, _ = picked_codes()
    picked = set(found).union(*TABLES.values())
    assert set(CATALOGUE) - picked == set()


def test_an_unknown_code_fails_where_it_is_raised():
    with pytest.raises(KeyError, match="provider_eror"):
        FedlabError("provider_eror", provider="google")
    assert FedlabError("provider_error").code == "provider_error"


# -- what a developer and a visitor see when something goes wrong

@pytest.fixture(scope="module")
def failing_app(config_dir, tmp_path_factory):
    """An app (debug and testing off, as in production) with views that fail."""
    app = make_app(config_dir, tmp_path_factory.mktemp("failing"))

    @app.get("/_typo")
    def typo():
        raise FedlabError("state_mismatched")

    @app.get("/_bug")
    def bug():
        return {}["missing"]

    @app.get("/_known")
    def known():
        raise FedlabError("state_expired")

    return app


@pytest.fixture
def developing(failing_app):
    """The same app with one of Flask's developer flags on, then off again."""
    def turn_on(flag: str):
        setattr(failing_app, flag, True)
        return failing_app.test_client()

    yield turn_on
    failing_app.testing = failing_app.debug = False


@pytest.mark.parametrize("flag", ["testing", "debug"])
def test_an_unexpected_exception_reaches_the_developer(developing, flag):
    client = developing(flag)
    with pytest.raises(KeyError, match="missing"):
        client.get("/_bug")
    with pytest.raises(KeyError, match="state_mismatched"):
        client.get("/_typo")
    # The catalogue's own errors are still pages: they are answers, not bugs.
    known = client.get("/_known")
    assert known.status_code == 400 and 'data-error="state_expired"' in known.text


def test_a_visitor_gets_the_clear_page_and_no_stack_trace(failing_app, caplog):
    assert not failing_app.testing and not failing_app.debug
    client = failing_app.test_client()
    for path in ("/_bug", "/_typo"):
        page = client.get(path)
        assert page.status_code == 500, path
        assert 'data-error="internal_error"' in page.text
        assert 'data-error="provider_error"' not in page.text  # a typo is not the provider's
        assert "Traceback" not in page.text and "KeyError" not in page.text
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
