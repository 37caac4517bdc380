"""Linked logins through the app: a second sign-in links its login to the person's identity."""

from __future__ import annotations

import re

import pytest

from webapp.config import settings

from .browser import Browser, forms
from .flows import sign_in, through_provider
from .test_credentials import LOGINS_KEYS, field
from .test_sessions import session_cookie, stored_session

COGNITO = LOGINS_KEYS["cognito"]
GOOGLE = LOGINS_KEYS["google"]


def admin_identity(app, servers):
    """The AWS stand-in's Cognito Identity as an operator calls it (the admin key)."""
    import boto3

    from standins.aws.settings import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

    return boto3.client("cognito-identity", region_name=settings(app).aws.region,
                        endpoint_url=f"http://127.0.0.1:{servers[2].port}",
                        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
                        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY)


def pool_logins_of(app, servers, identity_id: str) -> list[str]:
    """The identity's logins as the pool itself answers DescribeIdentity."""
    return sorted(admin_identity(app, servers).describe_identity(
        IdentityId=identity_id).get("Logins") or [])


def listed_logins(page) -> list[str]:
    """The logins the credentials page lists for the identity."""
    section = re.search(r'<ul class="logins"[^>]*>(.*?)</ul>', page.text, re.S)
    assert section, page.text[:2000]
    return sorted(re.findall(r'data-login="([^"]+)"', section.group(1)))


def unlink_buttons(page) -> list[str]:
    """The logins the page offers to unlink (its Unlink buttons' values)."""
    return [value for form in forms(page.text) for label, _, value in form.buttons
            if label == "Unlink"]


def identity_of(app_url: str, provider: str, user: str = "alice") -> str:
    """The identity id a fresh browser gets signing in with ``provider`` alone."""
    other = Browser()
    sign_in(other, app_url, provider, user=user)
    return field(other.get(f"{app_url}/credentials"), "identity-id")


def start_link(browser, app_url: str, provider: str, user: str = "alice"):
    """Press "Link <provider>" on the credentials page and sign in there as ``user``."""
    page = browser.get(f"{app_url}/credentials")
    return through_provider(browser, browser.click(page, provider_label(provider)), app_url,
                            user)


def provider_label(provider: str) -> str:
    return {"google": "Link Google", "auth0": "Link Auth0", "facebook": "Link Facebook",
            "cognito": "Link Amazon Cognito"}[provider]


def test_a_second_login_is_linked_listed_and_unlinked(browser, app, servers, app_url, control,
                                                      aws_control, pool_with):
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    first = browser.get(f"{app_url}/credentials")
    identity_id = field(first, "identity-id")
    assert listed_logins(first) == [COGNITO]
    aws_control("identity", "DELETE", "calls")

    page = start_link(browser, app_url, "google")
    assert page.url == f"{app_url}/credentials", page.url
    assert field(page, "identity-id") == identity_id
    assert listed_logins(page) == sorted([COGNITO, GOOGLE])
    assert 'data-source="DescribeIdentity"' in page.text
    # The link: both logins for the identity, then the pool's own list of them.
    assert aws_control("identity", "GET", "calls") == {"GetCredentialsForIdentity": 1,
                                                       "DescribeIdentity": 1}
    assert pool_logins_of(app, servers, identity_id) == sorted([COGNITO, GOOGLE])
    # Google alone now gives the same identity: they are one identity in the pool.
    assert identity_of(app_url, "google") == identity_id
    # Google's login may be unlinked, the one in use may not.
    assert "Link Google" not in browser.buttons(page)
    assert unlink_buttons(page) == [GOOGLE]

    page = browser.click(page, "Unlink")
    assert page.status_code == 200, page.text[:1500]
    assert listed_logins(page) == [COGNITO]
    assert pool_logins_of(app, servers, identity_id) == [COGNITO]
    assert identity_of(app_url, "google") != identity_id  # a new identity for Google alone


def test_a_link_keeps_the_sign_in_and_the_session(browser, app, app_url, control, aws_control,
                                                  pool_with):
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    browser.get(f"{app_url}/credentials")
    cookie = session_cookie(browser).value
    before = stored_session(app, cookie)["auth"]
    aws_before = stored_session(app, cookie)["aws"]
    start_link(browser, app_url, "google")
    assert session_cookie(browser).value == cookie  # no new session id
    after = stored_session(app, cookie)
    # The session's credentials are still the sign-in's own, not the linking call's
    # (whose role the second provider's mapping may have chosen).
    assert after["aws"] == aws_before
    assert (after["auth"]["iss"], after["auth"]["sub"]) == (before["iss"], before["sub"])
    assert after["auth"]["tokens"] == before["tokens"]  # Google's tokens were not kept
    assert after["auth"]["provider"] == "cognito"
    account = browser.get(f"{app_url}/account")
    assert before["iss"] in account.text and "Signed in via Amazon Cognito" in account.text


def test_a_login_linked_to_another_identity_is_refused_and_explained(browser, app, servers,
                                                                     app_url, control,
                                                                     aws_control, pool_with):
    pool_with("fresh")
    bobs = identity_of(app_url, "google", user="bob")  # bob's Google login: his identity
    sign_in(browser, app_url, "cognito")
    mine = field(browser.get(f"{app_url}/credentials"), "identity-id")
    page = start_link(browser, app_url, "google", user="bob")
    assert page.status_code == 409, page.text[:1500]
    assert 'data-error="login_linked_elsewhere"' in page.text
    assert "ResourceConflictException" in page.text and GOOGLE in page.text
    assert "unlink it from the other identity" in page.text
    # Nothing changed: both identities as they were, and alice still signed in as herself.
    assert pool_logins_of(app, servers, mine) == [COGNITO]
    assert pool_logins_of(app, servers, bobs) == [GOOGLE]
    again = browser.get(f"{app_url}/credentials")
    assert field(again, "identity-id") == mine and listed_logins(again) == [COGNITO]
    assert "Signed in via Amazon Cognito" in browser.get(f"{app_url}/account").text


def link_callback(browser, app_url: str, provider: str) -> str:
    """Start a link and walk the provider's pages up to its redirect to the callback;
    return that URL unfollowed."""
    from urllib.parse import urljoin

    page = browser.get(f"{app_url}/credentials")
    answer = browser.click(page, provider_label(provider), follow=False)
    callback = f"{app_url}/auth/{provider}/callback"
    while True:
        location = answer.headers.get("Location")
        if location and location.startswith(callback):
            return location
        if location:
            answer = browser.get(urljoin(answer.url, location), allow_redirects=False)
            continue
        buttons = browser.buttons(answer)
        answer = browser.click(answer, "Sign in as alice" if "Sign in as alice" in buttons
                               else "Allow", follow=False)


@pytest.mark.parametrize("who", ["replayed", "another browser"])
def test_a_link_callback_replayed_or_elsewhere_is_refused_like_a_sign_in(
        browser, app, servers, app_url, control, aws_control, pool_with, who):
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    identity_id = field(browser.get(f"{app_url}/credentials"), "identity-id")
    callback = link_callback(browser, app_url, "google")
    if who == "replayed":
        assert browser.get(callback).status_code == 200  # linked, once
        page = browser.get(callback)
        expected = [COGNITO, GOOGLE]
    else:
        other = Browser()
        sign_in(other, app_url, "auth0")
        page = other.get(callback)
        expected = [COGNITO]
    assert page.status_code == 400 and 'data-error="state_mismatch"' in page.text
    assert pool_logins_of(app, servers, identity_id) == sorted(expected)


def test_a_link_whose_browser_signed_in_as_someone_else_meanwhile_is_refused(
        browser, app, servers, app_url, control, aws_control, pool_with):
    """A new sign-in starts a new session, and the link under way is gone with the
    old one: nothing is linked to alice's identity, nor to bob's."""
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    alices = field(browser.get(f"{app_url}/credentials"), "identity-id")
    callback = link_callback(browser, app_url, "google")
    sign_in(browser, app_url, "auth0", user="bob")  # a new sign-in in the same browser
    page = browser.get(callback)
    assert page.status_code == 400
    assert pool_logins_of(app, servers, alices) == [COGNITO]


def test_providers_sharing_the_login_are_not_offered(browser, app_url, control, aws_control):
    sign_in(browser, app_url, "cognito")
    buttons = browser.buttons(browser.get(f"{app_url}/credentials"))
    offered = sorted(b for b in buttons if b.startswith("Link "))
    # "Google, through Cognito", "Amazon, through Cognito" and "Apple, through Cognito"
    # are app clients of the same user pool: the same login.
    assert offered == ["Link Amazon", "Link Apple", "Link Auth0", "Link Facebook",
                       "Link Google"]


def test_linking_the_login_in_use_is_refused(browser, app_url, control, aws_control):
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    refused = browser.post(f"{app_url}/credentials/link",
                           data={"provider": "cognito-google", "csrf_token": browser.csrf(page)})
    assert refused.status_code == 400 and 'data-error="link_same_login"' in refused.text


def test_unlinking_the_login_in_use_is_refused(browser, app, servers, app_url, control,
                                               aws_control):
    sign_in(browser, app_url, "cognito")
    page = browser.get(f"{app_url}/credentials")
    refused = browser.post(f"{app_url}/credentials/unlink",
                           data={"login": COGNITO, "csrf_token": browser.csrf(page)})
    assert refused.status_code == 400 and 'data-error="bad_request"' in refused.text
    assert pool_logins_of(app, servers, field(page, "identity-id")) == [COGNITO]


def test_linking_needs_csrf(browser, app_url, control, aws_control):
    sign_in(browser, app_url, "cognito")
    page = browser.post(f"{app_url}/credentials/link", data={"provider": "google"})
    assert page.status_code == 400 and 'data-error="csrf_failed"' in page.text


def test_another_session_sees_the_link_when_it_asks_the_pool(browser, app, servers, app_url,
                                                             control, aws_control, pool_with):
    """A plain view makes no AWS call, so a session that did not make the link lists
    its sign-in's login until it asks; then the pool's answer, and it may unlink."""
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    browser.get(f"{app_url}/credentials")
    start_link(browser, app_url, "auth0")
    later = Browser()
    sign_in(later, app_url, "cognito")
    page = later.get(f"{app_url}/credentials")
    assert listed_logins(page) == [COGNITO] and 'data-source="session"' in page.text
    aws_control("identity", "DELETE", "calls")
    page = later.click(page, "Ask the pool")
    assert aws_control("identity", "GET", "calls") == {"DescribeIdentity": 1}
    assert listed_logins(page) == sorted([COGNITO, LOGINS_KEYS["auth0"]])
    assert 'data-source="DescribeIdentity"' in page.text
    assert unlink_buttons(page) == [LOGINS_KEYS["auth0"]]


def test_without_site_keys_the_list_is_what_the_session_did(browser, app, servers, app_url,
                                                            control, aws_control, pool_with,
                                                            swap_app, monkeypatch):
    """Linking needs no AWS keys of the site's (GetCredentialsForIdentity and
    UnlinkIdentity are public); listing from the pool does, so without them the page
    lists what this session linked, and offers no "Ask the pool"."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    swap_app()
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    identity_id = field(browser.get(f"{app_url}/credentials"), "identity-id")
    page = start_link(browser, app_url, "google")
    assert listed_logins(page) == sorted([COGNITO, GOOGLE])
    assert 'data-source="session"' in page.text and "Ask the pool" not in browser.buttons(page)
    assert "DescribeIdentity" not in aws_control("identity", "GET", "calls")
    assert pool_logins_of(app, servers, identity_id) == sorted([COGNITO, GOOGLE])
    page = browser.click(page, "Unlink")
    assert listed_logins(page) == [COGNITO]
    assert pool_logins_of(app, servers, identity_id) == [COGNITO]


def test_a_session_whose_login_was_unlinked_elsewhere_gets_a_new_identity(
        browser, app, servers, app_url, control, aws_control, pool_with):
    """A links Google, B signs in with Google alone (the same identity), A unlinks it:
    B's next renewal is refused by the pool (Logins don't match), and the site
    federates B afresh, as AWS says an unlinked login is a new identity next time."""
    from .test_credentials import page_calls

    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    identity_id = field(browser.get(f"{app_url}/credentials"), "identity-id")
    start_link(browser, app_url, "google")
    # Credentials this short are never "good for five more minutes": each view renews.
    aws_control("identity", "POST", "faults", fault="credentials_lifetime", seconds=60)
    other = Browser()
    sign_in(other, app_url, "google")
    seen = other.click(other.get(f"{app_url}/credentials"), "Ask the pool")
    assert field(seen, "identity-id") == identity_id
    assert listed_logins(seen) == sorted([COGNITO, GOOGLE])
    browser.click(browser.get(f"{app_url}/credentials"), "Unlink")
    assert pool_logins_of(app, servers, identity_id) == [COGNITO]

    page = other.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:1500]
    new_id = field(page, "identity-id")
    assert new_id != identity_id
    assert page_calls(page) == [("GetCredentialsForIdentity", "identity_logins_mismatch"),
                                ("GetId", "ok"), ("GetCredentialsForIdentity", "ok"),
                                ("GetCallerIdentity", "ok")]
    notice = re.search(r'<p class="notice" role="status">(.*?)</p>', page.text, re.S)
    assert notice and identity_id in notice.group(1) and new_id in notice.group(1)
    assert "it was unlinked there" in notice.group(1)
    # The login list the session knew (of the old identity) is gone with it.
    assert listed_logins(page) == [GOOGLE] and 'data-source="session"' in page.text
    assert "identity_logins" not in stored_session(app, session_cookie(other).value)
    assert pool_logins_of(app, servers, new_id) == [GOOGLE]
    # The storage pages work again with the new identity, and no notice repeats.
    again = other.get(f"{app_url}/storage")
    assert again.status_code == 200 and "Your identity changed" not in again.text


def test_a_role_choice_after_the_login_was_unlinked_elsewhere_gets_a_new_identity(
        browser, app, servers, app_url, control, aws_control, pool_with):
    """The same while B's credentials are still fresh (no renewal due): B's next use
    of the identity, a role choice, is what the pool refuses, and B federates afresh."""
    pool_with("fresh")
    sign_in(browser, app_url, "cognito")
    identity_id = field(browser.get(f"{app_url}/credentials"), "identity-id")
    start_link(browser, app_url, "google")
    other = Browser()
    sign_in(other, app_url, "google")
    held = other.get(f"{app_url}/credentials")
    assert field(held, "identity-id") == identity_id
    browser.click(browser.get(f"{app_url}/credentials"), "Unlink")

    page = other.post(f"{app_url}/credentials/role",
                      data={"role_arn": "", "csrf_token": other.csrf(held)})
    assert page.status_code == 200, page.text[:1500]
    new_id = field(page, "identity-id")
    assert new_id != identity_id and "Your identity changed" in page.text
    assert pool_logins_of(app, servers, new_id) == [GOOGLE]
