"""deploy/: the CloudFormation template carries the same IAM documents as the site."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

from webapp import policies

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
    lint = subprocess.run([cfn_lint, "--include-checks", "I", "--", str(generated)],
                          capture_output=True, text=True, timeout=300)
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


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
