"""How the storage pages read a role's statements: ``policies.allows`` decides what a
page offers, so it must never offer what IAM's own reading of the statements refuses."""

from __future__ import annotations

import pytest

from webapp import policies

BUCKET = "fedlab-demo"
KEY = policies.object_arn(BUCKET, "public/notes.txt")
ALLOW_PUT = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}


@pytest.mark.parametrize("deny", [
    {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"},
    {"Effect": "Deny", "Action": "s3:*", "NotResource": f"arn:aws:s3:::{BUCKET}/private/*"},
    {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "*",
     "Resource": "*"},
])
def test_a_deny_with_a_negated_field_is_honoured(deny):
    assert policies.allows([ALLOW_PUT], "s3:PutObject", KEY, "id")
    assert not policies.allows([ALLOW_PUT, deny], "s3:PutObject", KEY, "id")


@pytest.mark.parametrize("deny", [
    {"Effect": "Deny", "NotAction": ["s3:PutObject", "s3:Get*"], "Resource": "*"},
    {"Effect": "Deny", "Action": "s3:*", "NotResource": f"arn:aws:s3:::{BUCKET}/public/*"},
])
def test_a_deny_that_leaves_the_request_out_does_not_refuse_it(deny):
    assert policies.allows([ALLOW_PUT, deny], "s3:PutObject", KEY, "id")


@pytest.mark.parametrize("allow", [
    {"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::other/*"},
    {**ALLOW_PUT, "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}},
])
def test_an_allow_with_a_negated_field_is_not_counted_on(allow):
    assert not policies.allows([allow], "s3:PutObject", KEY, "id")


@pytest.mark.parametrize("name", ["fedlab-ReadersRole-1A2B3C", "someone-elses-role", None])
def test_a_role_the_site_does_not_know_has_no_statements_to_vouch_for(name):
    assert policies.role_statements(BUCKET, name) == []
    assert policies.role_statements(BUCKET, name, guest=True) == []
    assert not policies.allows(policies.role_statements(BUCKET, name), "s3:GetObject", KEY, "id")
