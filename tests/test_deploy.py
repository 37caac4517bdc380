"""deploy/: the CloudFormation template carries the same IAM documents as the site."""

from __future__ import annotations

import fnmatch
import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from webapp import policies
from webapp.providers import KINDS, build
from webapp.providers.apple import Apple
from webapp.providers.base import (
    AUTHENTICATED_ROLE,
    AmbiguousRoleResolution,
    MappingRule,
    MatchType,
    PoolRegistration,
    PoolTemplate,
    RoleMapping,
    RoleMappingType,
    TemplateParameter,
    UserPoolGroup,
)
from webapp.providers.oidc import OpenIDConnect

from .conftest import ROOT, require


def template_module() -> dict:
    return runpy.run_path(str(ROOT / "deploy" / "template.py"))


def test_the_committed_template_is_the_generated_one():
    committed = (ROOT / "deploy" / "identity-pool.json").read_text()
    assert committed == template_module()["render"](), (
        "run: python deploy/template.py > deploy/identity-pool.json")


def committed() -> dict[str, Any]:
    return json.loads((ROOT / "deploy" / "identity-pool.json").read_text())


#: The role resources and the amr each must trust: the mapped ones are signed-in roles.
ROLES = {"AuthenticatedRole": "authenticated", "GuestRole": "unauthenticated",
         "AdminsRole": "authenticated", "ReadersRole": "authenticated"}


def test_every_mapped_role_is_in_the_template():
    names = {f"{mapped.key.capitalize()}Role" for mapped in policies.MAPPED_ROLES}
    roles = {name for name, resource in committed()["Resources"].items()
             if resource["Type"] == "AWS::IAM::Role"}
    assert roles == set(ROLES) and names <= roles


def test_roles_trust_only_this_pool_and_the_right_amr():
    resources = committed()["Resources"]
    for name, amr in ROLES.items():
        condition = resources[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0][
            "Condition"]
        assert condition["StringEquals"]["cognito-identity.amazonaws.com:aud"] == {
            "Ref": "IdentityPool"}
        assert condition["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == amr


def test_storage_statements_are_the_sites_own():
    """Each role's policy, as CloudFormation makes it for a bucket, is webapp/policies.py's
    for that bucket: the same statements the pages show and the stand-in enforces."""
    stack = Stack(committed(), DEPLOYMENT)
    statements = {"AuthenticatedRole": policies.authenticated_statements,
                  "GuestRole": policies.guest_statements,
                  **{f"{m.key.capitalize()}Role": m.statements for m in policies.MAPPED_ROLES}}
    for name, make in statements.items():
        document = stack.properties(name)["Policies"][0]["PolicyDocument"]
        assert document == policies.policy(make(DEPLOYMENT["BucketName"])), name
    resources = committed()["Resources"]
    private = json.dumps(resources["AuthenticatedRole"]["Properties"]["Policies"])
    assert "private/${!cognito-identity.amazonaws.com:sub}/*" in private


def test_the_site_policy_is_the_sites_own_on_this_pool_and_its_roles():
    """SitePolicy is policies.site_statements for this pool's ARN and a pattern that
    takes in every role of the stack and nothing outside it; it is attached to the
    role or the user named, if any, and says where the site's keys come from."""
    stack = Stack(committed(), DEPLOYMENT)
    pool_arn = (f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/"
                f"{stack.refs['IdentityPool']}")
    roles = f"arn:aws:iam::{ACCOUNT}:role/{STACK}/*"
    properties = stack.properties("SitePolicy")
    assert properties["PolicyDocument"] == policies.policy(
        policies.site_statements(pool_arn, roles))
    for name in ROLES:
        assert fnmatch.fnmatchcase(stack.get_att(name, "Arn"), roles), name
    outside = f"arn:aws:iam::{ACCOUNT}:role/other-stack/OtherRole"
    assert not fnmatch.fnmatchcase(outside, roles)
    assert "environment" in properties["Description"]
    assert "instance role" in properties["Description"]
    assert "Roles" not in properties and "Users" not in properties
    attached = Stack(committed(), {**DEPLOYMENT, "SiteRoleName": "fedlab-web",
                                   "SiteUserName": "fedlab-site"})
    assert attached.properties("SitePolicy")["Roles"] == ["fedlab-web"]
    assert attached.properties("SitePolicy")["Users"] == ["fedlab-site"]
    outputs = committed()["Outputs"]
    assert outputs["SitePolicyArn"]["Value"] == {"Ref": "SitePolicy"}
    assert outputs["AdminsRoleArn"]["Value"] == {"Fn::GetAtt": ["AdminsRole", "Arn"]}
    assert outputs["ReadersRoleArn"]["Value"] == {"Fn::GetAtt": ["ReadersRole", "Arn"]}


# -- what CloudFormation makes of the template, for one deployment -------------------------

REGION, ACCOUNT, STACK = "eu-west-1", "123456789012", "federation-lab"
#: A deployment's parameters: every provider, the staff domain, the site's identity.
DEPLOYMENT = {
    "BucketName": "fedlab-bucket", "AppOrigin": "https://fedlab.example.com",
    "CognitoUserPoolId": "eu-west-1_AbCdEf123", "CognitoAppClientId": "web-client",
    "CognitoSecondAppClientId": "google-client", "GoogleClientId": "g.apps.example",
    "FacebookAppId": "100000000000001", "Auth0Domain": "example.us.auth0.com",
    "Auth0ClientId": "auth0-client", "OidcIssuer": "https://login.example.com/corp",
    "OidcClientId": "corp-client", "StaffEmailDomain": "example.com",
}
NO_VALUE = object()


class Stack:
    """What CloudFormation makes of the template for ``parameters``: the intrinsic
    functions the template uses (Ref, Fn::Sub, Fn::GetAtt of a role's Arn, Fn::If,
    Fn::Select, Fn::Split and the conditions) evaluated as CloudFormation does, so a
    test reads a resource's properties as deployed, with AWS::NoValue left out."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template["Parameters"].items()}
        self.values.update(parameters)
        self.values.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                            "AWS::Partition": "aws", "AWS::StackName": STACK,
                            "AWS::NoValue": NO_VALUE})
        missing = [n for n, v in self.values.items() if v is None]
        assert not missing, f"no value for the required parameters {missing}"
        #: What Ref of a resource gives: a pool's id, a policy's ARN, else its name.
        self.refs = {"IdentityPool": f"{REGION}:4a7b0c3e-1111-4222-8333-444455556666",
                     "StorageBucket": self.values["BucketName"],
                     "SitePolicy": f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-SitePolicy"}

    def exists(self, name: str) -> bool:
        condition = self.template["Resources"][name].get("Condition")
        return condition is None or self.condition(condition)

    def properties(self, name: str) -> dict[str, Any]:
        assert self.exists(name), f"{name} is not created with these parameters"
        return self.resolve(self.template["Resources"][name]["Properties"])

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.template["Resources"][name]
        assert (resource["Type"], attribute) == ("AWS::IAM::Role", "Arn"), (name, attribute)
        # IAM makes a role's ARN of its path and its name (CloudFormation names it).
        path = self.resolve(resource["Properties"].get("Path", "/"))
        return f"arn:aws:iam::{ACCOUNT}:role{path}{STACK}-{name}-1A2B3C"

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), = value.items()
            if function in FUNCTIONS:
                return FUNCTIONS[function](self, argument)
        items = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        assert name in self.template["Resources"], f"Ref of an unknown name {name}"
        return self.refs.get(name, name)

    def sub(self, text: str) -> str:
        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))
        return re.sub(r"\$\{([^}]+)\}", variable, text)


FUNCTIONS = {
    "Ref": Stack.ref,
    "Fn::Sub": Stack.sub,
    "Fn::GetAtt": lambda stack, argument: stack.get_att(*argument),
    "Fn::If": lambda stack, argument: stack.resolve(
        argument[1] if stack.condition(argument[0]) else argument[2]),
    "Fn::Select": lambda stack, argument: stack.resolve(argument[1])[argument[0]],
    "Fn::Split": lambda stack, argument: stack.resolve(argument[1]).split(argument[0]),
    "Fn::Equals": lambda stack, argument: stack.resolve(argument[0]) == stack.resolve(
        argument[1]),
    "Fn::Not": lambda stack, argument: not stack.resolve(argument[0]),
    "Fn::And": lambda stack, argument: all(stack.resolve(a) for a in argument),
    "Condition": Stack.condition,
}


def test_the_role_mappings_as_deployed():
    """Cognito's app clients take the role from the token (groups); Google by one rule,
    a Workspace account of the staff domain (``hd`` Equals); each under AWS's identity
    provider string for that registration. Auth0, an OIDC issuer and Facebook have none:
    their identities get the authenticated role."""
    stack = Stack(committed(), DEPLOYMENT)
    mappings = stack.properties("RoleAttachment")["RoleMappings"]
    pool = f"cognito-idp.{REGION}.amazonaws.com/eu-west-1_AbCdEf123"
    token = {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}
    assert mappings == {
        "Cognito": {**token, "IdentityProvider": f"{pool}:web-client"},
        "SecondCognitoClient": {**token, "IdentityProvider": f"{pool}:google-client"},
        "Google": {"Type": "Rules", "IdentityProvider": "accounts.google.com",
                   "AmbiguousRoleResolution": "AuthenticatedRole",
                   "RulesConfiguration": {"Rules": [
                       {"Claim": "hd", "MatchType": "Equals", "Value": "example.com",
                        "RoleARN": stack.get_att("AdminsRole", "Arn")}]}},
    }
    assert stack.properties("RoleAttachment")["Roles"] == {
        "authenticated": stack.get_att("AuthenticatedRole", "Arn"),
        "unauthenticated": stack.get_att("GuestRole", "Arn")}


def test_no_rule_gives_a_role_by_what_a_stranger_can_claim():
    """AWS's rules have no "ends with": ``Contains`` (or ``StartsWith``) ``@example.com``
    also matches ``x@example.com.evil.test``, and ``NotEqual`` nearly anything; and an
    e-mail address, even verified, says who reads its mail, not whom an organisation
    vouches for (a Google account can be made for any address). So no rule of any
    kind's registration, and none in the template as deployed, gives a role above the
    authenticated one but by ``Equals``, nor by the e-mail."""
    for kind in KINDS.values():
        for pool in kind.POOL_TEMPLATES:
            for rule in pool.role_mapping.rules if pool.role_mapping else ():
                if rule.role != AUTHENTICATED_ROLE:
                    assert rule.match_type is MatchType.EQUALS, (kind.KIND, rule)
                    assert not rule.claim.startswith("email"), (kind.KIND, rule)
    stack = Stack(committed(), DEPLOYMENT)
    authenticated = stack.get_att("AuthenticatedRole", "Arn")
    deployed = stack.properties("RoleAttachment")["RoleMappings"]
    rules = [rule for mapping in deployed.values()
             for rule in mapping.get("RulesConfiguration", {}).get("Rules", [])]
    elevating = [rule for rule in rules if rule["RoleARN"] != authenticated]
    assert elevating  # Google's: the checks below have something to look at
    for rule in elevating:
        assert rule["MatchType"] == "Equals" and not rule["Claim"].startswith("email"), rule


def test_the_rule_needs_the_staff_domain_and_its_provider():
    """Without StaffEmailDomain no rule is made (an empty domain would compare every
    account's ``hd`` with nothing); a provider not deployed has no mapping either."""
    bare = {k: v for k, v in DEPLOYMENT.items()
            if k not in ("StaffEmailDomain", "CognitoSecondAppClientId")}
    mappings = Stack(committed(), bare).properties("RoleAttachment")["RoleMappings"]
    assert set(mappings) == {"Cognito"}
    no_google = {**DEPLOYMENT, "GoogleClientId": ""}
    mappings = Stack(committed(), no_google).properties("RoleAttachment")["RoleMappings"]
    assert set(mappings) == {"Cognito", "SecondCognitoClient"}


def test_the_user_pool_groups_choose_the_mapped_roles():
    stack = Stack(committed(), DEPLOYMENT)
    groups = {resource["Properties"]["GroupName"]: name
              for name, resource in committed()["Resources"].items()
              if resource["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert set(groups) == {"admins", "readers"}
    for group, role, precedence in (("admins", "AdminsRole", 1), ("readers", "ReadersRole", 2)):
        properties = stack.properties(groups[group])
        assert properties["UserPoolId"] == "eu-west-1_AbCdEf123"
        assert properties["RoleArn"] == stack.get_att(role, "Arn")
        assert properties["Precedence"] == precedence
        # In the user pool the stack is given, which the Cognito registration needs.
        assert "Condition" not in committed()["Resources"][groups[group]]


def test_the_pool_takes_a_developer_provider_and_the_classic_flow_when_asked():
    pool = Stack(committed(), DEPLOYMENT).properties("IdentityPool")
    assert "DeveloperProviderName" not in pool and pool["AllowClassicFlow"] is False
    asked = {**DEPLOYMENT, "DeveloperProviderName": "login.fedlab.example",
             "AllowClassicFlow": "true"}
    pool = Stack(committed(), asked).properties("IdentityPool")
    assert pool["DeveloperProviderName"] == "login.fedlab.example"
    assert pool["AllowClassicFlow"] is True
    parameters = committed()["Parameters"]
    assert parameters["AllowClassicFlow"]["AllowedValues"] == ["true", "false"]
    assert parameters["AllowClassicFlow"]["Default"] == "false"
    assert re.fullmatch(parameters["DeveloperProviderName"]["AllowedPattern"], "")
    assert not re.fullmatch(parameters["DeveloperProviderName"]["AllowedPattern"], "a b")


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


def test_cfn_lint_speaks_of_a_warning(tmp_path):
    """The lint check above fails on a warning, not only on an error: the template
    with a ``Fn::Sub`` that substitutes nothing (W1020) gets a finding."""
    template = committed()
    template["Resources"]["GuestRole"]["Properties"]["Description"] = {
        "Fn::Sub": "Federation Lab guest identities"}
    warned = tmp_path / "warned.json"
    warned.write_text(json.dumps(template))
    status, said = cfn_lint_findings(warned)
    assert status != 0 and "W1020" in said


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


class MappedLogin(OpenIDConnect):
    """A kind whose registration maps roles by a rule of its own, denying the rest."""

    KIND: ClassVar[str] = "mapped-login"
    DISPLAY_NAME: ClassVar[str] = "Mapped Login"
    POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
        PoolTemplate(PoolRegistration.LOGIN_PROVIDER, name="MappedLogin",
                     provider="login.example.net",
                     client_id=TemplateParameter("MappedLoginAppId"),
                     role_mapping=RoleMapping(
                         RoleMappingType.RULES, AmbiguousRoleResolution.DENY,
                         rules=(MappingRule("groups", MatchType.CONTAINS, "${ReaderGroup}",
                                            "readers"),),
                         parameters=(TemplateParameter("ReaderGroup", "e.g. library"),))),
    )


def test_a_new_kinds_role_mapping_needs_no_change_to_the_template_code(monkeypatch, tmp_path):
    monkeypatch.setitem(KINDS, MappedLogin.KIND, MappedLogin)
    rendered = template_module()["render"]()
    template = json.loads(rendered)
    assert template["Parameters"]["ReaderGroup"] == {"Type": "String", "Default": "",
                                                    "Description": "e.g. library"}
    assert template["Conditions"]["HasMappedLoginRoleMapping"] == {"Fn::And": [
        {"Condition": "HasMappedLogin"},
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReaderGroup"}, ""]}]}]}
    deployed = {**DEPLOYMENT, "MappedLoginAppId": "app", "ReaderGroup": "library"}
    stack = Stack(template, deployed)
    mapping = stack.properties("RoleAttachment")["RoleMappings"]["MappedLogin"]
    assert mapping == {"Type": "Rules", "IdentityProvider": "login.example.net",
                       "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
                           {"Claim": "groups", "MatchType": "Contains", "Value": "library",
                            "RoleARN": stack.get_att("ReadersRole", "Arn")}]}}
    unmapped = Stack(template, {**deployed, "ReaderGroup": ""})
    assert "MappedLogin" not in unmapped.properties("RoleAttachment")["RoleMappings"]
    generated = tmp_path / "identity-pool.json"
    generated.write_text(rendered)
    assert cfn_lint_findings(generated) == (0, "")


def test_a_role_mapping_the_pool_could_not_take_is_refused(monkeypatch):
    """A rule or group naming a role the template has not, a token mapping or groups
    on a provider that is no user pool, a rule reading an undeclared parameter."""
    class UnknownRole(OpenIDConnect):
        KIND: ClassVar[str] = "unknown-role"
        POOL_TEMPLATES: ClassVar[tuple[PoolTemplate, ...]] = (
            PoolTemplate(PoolRegistration.LOGIN_PROVIDER, name="UnknownRole",
                         provider="login.example.org",
                         client_id=TemplateParameter("UnknownRoleAppId"),
                         role_mapping=RoleMapping(RoleMappingType.RULES, rules=(
                             MappingRule("email", MatchType.EQUALS, "a@b.c", "owners"),))),
        )

    with monkeypatch.context() as patch:
        patch.setitem(KINDS, UnknownRole.KIND, UnknownRole)
        with pytest.raises(ValueError, match=r"role 'owners' is none of the template's: "
                                             r"authenticated, admins, readers"):
            template_module()["template"]()
    login = {"registration": PoolRegistration.LOGIN_PROVIDER, "name": "Login",
             "provider": "login.example.org", "client_id": TemplateParameter("LoginAppId")}
    with pytest.raises(TypeError, match="only a user pool's tokens name roles"):
        PoolTemplate(**login, role_mapping=RoleMapping(RoleMappingType.TOKEN))
    with pytest.raises(TypeError, match="groups belong to a user pool"):
        PoolTemplate(**login, groups=(UserPoolGroup("LoginGroup", "g", "admins", 1),))
    with pytest.raises(TypeError, match=r"reads \$\{Domain\}, which is not one of"):
        RoleMapping(RoleMappingType.RULES,
                    rules=(MappingRule("email", MatchType.CONTAINS, "@${Domain}", "admins"),))
    with pytest.raises(TypeError, match="1 to 25 rules"):
        RoleMapping(RoleMappingType.RULES)


def test_a_registration_reading_an_undeclared_parameter_is_refused_at_once():
    with pytest.raises(TypeError, match=r"reads \$\{Tenant\}, which is not one of its"):
        PoolTemplate(PoolRegistration.OIDC_PROVIDER, name="Typo", resource="TypoOidcProvider",
                     provider="https://${Tenant}.id.example/",
                     parameters=(TemplateParameter("TenantName"),),
                     client_id=TemplateParameter("TypoClientId"))


#: For each kind: a table, and the template parameters a deployment of that
#: provider would be given (besides its client id).
DEPLOYED = {
    "amazon": ({"app_id": "amzn1.application.0123456789abcdef0123456789abcdef"}, {}),
    "apple": ({"team_id": "ABCDE12345", "key_id": "KEY1234567",
               "private_key": Apple.demo_secrets()["private_key"]}, {}),
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


@pytest.mark.parametrize("kind", sorted(DEPLOYED))
def test_each_role_mapping_names_the_provider_as_aws_does(kind):
    """A registration's role mapping, as deployed, is for AWS's identity provider
    string of what the site signs in with (the provider's ``role_mapping_key``): a
    user pool's ``<logins key>:<app client id>``, anyone else's ``Logins`` key."""
    table, parameters = DEPLOYED[kind]
    region = parameters.get("AWS::Region", REGION)
    deployed = {**DEPLOYMENT, **{k: v for k, v in parameters.items() if k != "AWS::Region"}}
    stack = Stack(committed(), deployed)
    stack.values["AWS::Region"] = region
    mappings = stack.properties("RoleAttachment")["RoleMappings"]
    for pool in KINDS[kind].POOL_TEMPLATES:
        if pool.role_mapping is None:
            assert pool.name not in mappings
            continue
        client_id = deployed[pool.client_id.name]
        provider = build("p", {"kind": kind, "client_id": client_id, "client_secret": "s",
                               **table})
        expected = provider.logins_key
        if pool.registration is PoolRegistration.COGNITO_USER_POOL:
            expected += f":{client_id}"
        assert mappings[pool.name]["IdentityProvider"] == expected == provider.role_mapping_key


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


def test_every_role_is_named_as_the_site_knows_it():
    """The storage pages know the visitor's role by the name in STS's assumed-role ARN:
    a generated name would be no role of the site's, so each role has its fixed one."""
    resources = json.loads((ROOT / "deploy" / "identity-pool.json").read_text())["Resources"]
    named = {logical: resource["Properties"].get("RoleName")
             for logical, resource in resources.items()
             if resource["Type"] == "AWS::IAM::Role"}
    assert named == {"AuthenticatedRole": "fedlab-authenticated", "GuestRole": "fedlab-guest",
                     **{f"{m.key.capitalize()}Role": m.name for m in policies.MAPPED_ROLES}}
    assert sorted(named.values()) == sorted(policies.SITE_ROLE_NAMES)
