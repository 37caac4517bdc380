"""deploy/: the CloudFormation template carries the same IAM documents as the site."""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from webapp import policies
from webapp.providers import KINDS, build
from webapp.providers.base import PoolRegistration, PoolTemplate, TemplateParameter
from webapp.providers.oidc import OpenIDConnect

from .conftest import ROOT, require


def template_module() -> dict:
    return runpy.run_path(str(ROOT / "deploy" / "template.py"))


def test_the_committed_template_is_the_generated_one():
    committed = (ROOT / "deploy" / "identity-pool.json").read_text()
    assert committed == template_module()["render"](), (
        "run: python deploy/template.py > deploy/identity-pool.json")


def test_roles_trust_only_this_pool_and_the_right_amr():
    resources = json.loads((ROOT / "deploy" / "identity-pool.json").read_text())["Resources"]
    for name, amr in (("AuthenticatedRole", "authenticated"), ("GuestRole", "unauthenticated")):
        condition = resources[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0][
            "Condition"]
        assert condition["StringEquals"]["cognito-identity.amazonaws.com:aud"] == {
            "Ref": "IdentityPool"}
        assert condition["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == amr


def test_storage_statements_are_the_sites_own():
    module = template_module()
    resources = json.loads((ROOT / "deploy" / "identity-pool.json").read_text())["Resources"]
    document = resources["AuthenticatedRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    expected = module["sub"](policies.policy(policies.authenticated_statements("BUCKETNAME")))
    assert document == expected
    private = json.dumps(document)
    assert "private/${!cognito-identity.amazonaws.com:sub}/*" in private


def test_the_generated_template_passes_cfn_lint(tmp_path):
    """What CloudFormation would refuse (E3012: a condition function as a property value)
    or warn about: the template is generated into tmp and cfn-lint reads that file, with
    informational checks too; it must say nothing at all."""
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    require(cfn_lint is not None, "cfn-lint is not installed (pip install -e '.[test]')")
    generated = tmp_path / "identity-pool.json"
    with generated.open("w") as out:
        subprocess.run([sys.executable, str(ROOT / "deploy" / "template.py")], check=True,
                       stdout=out, cwd=ROOT, timeout=60)
    assert generated.read_text() == (ROOT / "deploy" / "identity-pool.json").read_text(), (
        "run: python deploy/template.py > deploy/identity-pool.json")
    assert cfn_lint_findings(generated) == (0, "")


def cfn_lint_findings(path: Path) -> tuple[int, str]:
    """cfn-lint's exit status and everything it says about ``path``, informational
    checks included."""
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    require(cfn_lint is not None, "cfn-lint is not installed (pip install -e '.[test]')")
    lint = subprocess.run([cfn_lint, "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=300)
    return lint.returncode, lint.stdout + lint.stderr


def test_any_openid_connect_issuer_has_a_slot_on_the_pool():
    """A provider of kind oidc federates through an IAM OIDC provider of its issuer,
    created only when the issuer and client id are given."""
    template = json.loads((ROOT / "deploy" / "identity-pool.json").read_text())
    provider = template["Resources"]["OidcProvider"]
    assert provider["Condition"] == "HasOidc"
    assert provider["Properties"] == {"Url": {"Ref": "OidcIssuer"},
                                      "ClientIdList": [{"Ref": "OidcClientId"}]}
    arns = template["Resources"]["IdentityPool"]["Properties"]["OpenIdConnectProviderARNs"]
    assert {"Fn::If": ["HasOidc", {"Ref": "OidcProvider"}, {"Ref": "AWS::NoValue"}]} in arns


class ExampleLogin(OpenIDConnect):
    """A kind the pool knows as a supported login provider, as Login with Amazon
    (``www.amazon.com``) and Sign in with Apple (``appleid.apple.com``) are."""

    KIND: ClassVar[str] = "example-login"
    DISPLAY_NAME: ClassVar[str] = "Example Login"
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(PoolRegistration.LOGIN_PROVIDER, name="ExampleLogin",
                     provider="login.example.com",
                     client_id=TemplateParameter("ExampleAppId", "The Example app id")),
    )


class ExampleIssuer(OpenIDConnect):
    """A kind the pool knows as an IAM OIDC provider of a tenant's issuer."""

    KIND: ClassVar[str] = "example-issuer"
    DISPLAY_NAME: ClassVar[str] = "Example Issuer"
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(PoolRegistration.OIDC_PROVIDER, name="ExampleIssuer",
                     resource="ExampleIssuerOidcProvider",
                     provider="https://${ExampleTenant}.id.example/",
                     parameters=(TemplateParameter("ExampleTenant", "e.g. acme"),),
                     client_id=TemplateParameter("ExampleIssuerClientId")),
    )


def test_a_new_kind_is_on_the_pool_with_no_change_to_the_template_code(monkeypatch, tmp_path):
    """Two kinds the template code has never heard of, registered as KINDS finds
    kinds: each gets its parameters, its condition and its place on the pool; all
    that was there stays; cfn-lint still says nothing."""
    committed = json.loads((ROOT / "deploy" / "identity-pool.json").read_text())
    monkeypatch.setitem(KINDS, ExampleLogin.KIND, ExampleLogin)
    monkeypatch.setitem(KINDS, ExampleIssuer.KIND, ExampleIssuer)
    rendered = template_module()["render"]()
    template = json.loads(rendered)

    parameters = template["Parameters"]
    assert parameters["ExampleAppId"] == {"Type": "String", "Default": "",
                                          "Description": "The Example app id"}
    assert parameters["ExampleTenant"] == {"Type": "String", "Default": "",
                                           "Description": "e.g. acme"}
    assert parameters["ExampleIssuerClientId"] == {"Type": "String", "Default": ""}
    assert template["Conditions"]["HasExampleLogin"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ExampleAppId"}, ""]}]}
    assert template["Conditions"]["HasExampleIssuer"] == {"Fn::And": [
        {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]}
        for name in ("ExampleTenant", "ExampleIssuerClientId")]}

    resources = template["Resources"]
    assert resources["ExampleIssuerOidcProvider"] == {
        "Type": "AWS::IAM::OIDCProvider", "Condition": "HasExampleIssuer",
        "Properties": {"Url": {"Fn::Sub": "https://${ExampleTenant}.id.example/"},
                       "ClientIdList": [{"Ref": "ExampleIssuerClientId"}]}}
    pool = resources["IdentityPool"]["Properties"]
    assert pool["SupportedLoginProviders"]["login.example.com"] == {
        "Fn::If": ["HasExampleLogin", {"Ref": "ExampleAppId"}, {"Ref": "AWS::NoValue"}]}
    assert {"Fn::If": ["HasExampleIssuer", {"Ref": "ExampleIssuerOidcProvider"},
                       {"Ref": "AWS::NoValue"}]} in pool["OpenIdConnectProviderARNs"]
    assert "Example Login" in template["Description"]

    # Everything the committed template has is still there, unchanged.
    for section in ("Parameters", "Conditions", "Resources", "Outputs"):
        for name, value in committed[section].items():
            if name != "IdentityPool":
                assert template[section][name] == value, (section, name)
    committed_pool = committed["Resources"]["IdentityPool"]["Properties"]
    assert pool["CognitoIdentityProviders"] == committed_pool["CognitoIdentityProviders"]
    assert pool["SupportedLoginProviders"].items() >= committed_pool[
        "SupportedLoginProviders"].items()
    assert pool["OpenIdConnectProviderARNs"][:-1] == committed_pool["OpenIdConnectProviderARNs"]

    generated = tmp_path / "identity-pool.json"
    generated.write_text(rendered)
    assert cfn_lint_findings(generated) == (0, "")


def test_a_kind_that_would_register_twice_is_refused(monkeypatch):
    """A kind built on another one that does not declare its own registration would
    register the other's names again: the template refuses to be written, naming it.
    So does a second kind claiming a Logins domain that is taken."""

    class Inherits(OpenIDConnect):
        KIND: ClassVar[str] = "inherits"

    class SameDomain(OpenIDConnect):
        KIND: ClassVar[str] = "same-domain"
        POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
            PoolTemplate(PoolRegistration.LOGIN_PROVIDER, name="SameDomain",
                         provider=KINDS["google"].POOL_TEMPLATES[0].provider,
                         client_id=TemplateParameter("SameDomainAppId")),
        )

    module = template_module()
    with monkeypatch.context() as patch:
        patch.setitem(KINDS, Inherits.KIND, Inherits)
        with pytest.raises(TypeError, match=r"'inherits' .* declares no POOL_TEMPLATES"):
            module["template"]()
    with monkeypatch.context() as patch:
        patch.setitem(KINDS, SameDomain.KIND, SameDomain)
        with pytest.raises(ValueError, match=re.escape(
                "Logins domain accounts.google.com is registered twice on the pool, by kinds "
                "'google' and 'same-domain'")):
            module["template"]()


def test_a_registration_reading_an_undeclared_parameter_is_refused_at_once():
    with pytest.raises(TypeError, match=r"reads \$\{Tenant\}, which is not one of its"):
        PoolTemplate(PoolRegistration.OIDC_PROVIDER, name="Typo", resource="TypoOidcProvider",
                     provider="https://${Tenant}.id.example/",
                     parameters=(TemplateParameter("TenantName"),),
                     client_id=TemplateParameter("TypoClientId"))


#: For each kind: a table, and the template parameters a deployment of that
#: provider would be given (besides its client id).
DEPLOYED = {
    "auth0": ({"domain": "example.us.auth0.com"}, {"Auth0Domain": "example.us.auth0.com"}),
    "cognito": ({"region": "eu-west-1", "user_pool_id": "eu-west-1_AbCdEf123",
                 "domain": "fedlab.auth.eu-west-1.amazoncognito.com"},
                {"AWS::Region": "eu-west-1", "CognitoUserPoolId": "eu-west-1_AbCdEf123"}),
    "facebook": ({}, {}),
    "google": ({}, {}),
    "oidc": ({"issuer": "https://login.example.com/corp"},
             {"OidcIssuer": "https://login.example.com/corp"}),
}


@pytest.mark.parametrize("kind", sorted(DEPLOYED))
def test_the_pool_knows_each_kind_by_the_logins_key_it_is_sent(kind):
    """What the template registers (a user pool's ProviderName, a Logins domain, an
    IAM OIDC provider's issuer URL) is what the site puts in ``Logins`` for a
    provider of that kind, deployed with the matching parameters."""
    table, parameters = DEPLOYED[kind]
    provider = build("p", {"kind": kind, "client_id": "c", "client_secret": "s", **table})
    for pool in type(provider).POOL_TEMPLATES:
        registered = re.sub(r"\$\{([^}]+)\}", lambda m: parameters[m.group(1)], pool.provider)
        if pool.registration is PoolRegistration.OIDC_PROVIDER:
            assert registered == provider.issuer
            registered = registered.split("://", 1)[1].rstrip("/")
        assert registered == provider.logins_key
        assert provider.pool_provider()["logins_key"] == provider.logins_key


def test_every_kind_is_in_that_table():
    assert sorted(DEPLOYED) == sorted(KINDS)


def test_the_template_code_names_no_provider():
    """deploy/template.py reads every provider's names from its kind; none is written
    there (so a new kind cannot need an edit of it)."""
    code = (ROOT / "deploy" / "template.py").read_text()
    for kind in KINDS.values():
        for pool in kind.POOL_TEMPLATES:
            names = [p.name for p in pool.all_parameters] + [kind.DISPLAY_NAME]
            names += [pool.resource or "", pool.provider]
            assert not [name for name in names if name and name in code], kind.KIND
