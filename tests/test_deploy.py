"""deploy/: the CloudFormation template carries the same IAM documents as the site."""

from __future__ import annotations

import json
import runpy

from webapp import policies

from .conftest import ROOT


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
