"""Identity Pool federation over real HTTP: the local Cognito Identity, moto's STS."""

from __future__ import annotations

import re
import secrets
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from webapp import signin
from webapp.config import settings

from .conftest import PROVIDERS
from .flows import sign_in, wait_until
from .test_sessions import session_cookie, stored_session

LOGINS_KEYS = {
    "cognito": "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab",
    "cognito-google": "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab",
    "cognito-amazon": "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab",
    "auth0": "fedlab-demo.us.auth0.com",
    "google": "accounts.google.com",
    "facebook": "graph.facebook.com",
    "amazon": "www.amazon.com",
    "apple": "appleid.apple.com",
    "cognito-apple": "cognito-idp.us-east-1.amazonaws.com/us-east-1_FedLab",
}


def field(page, name: str) -> str:
    match = re.search(rf'class="{name}">([^<]*)<', page.text)
    assert match, page.text[:1500]
    return match.group(1)


def page_calls(page) -> list[tuple[str, str]]:
    """The AWS calls the page lists: (operation, outcome)."""
    listed = re.search(r'<ol class="calls">(.*?)</ol>', page.text, re.S)
    return re.findall(r"<code>([^<]+)</code>: ([\w-]+)", listed.group(1)) if listed else []


def calls(aws_control) -> dict:
    return aws_control("identity", "GET", "calls")


#: The role alice gets per provider under config/demo.toml's role mappings: Google and
#: Auth0 have rules, and her verified address at the demo's domain matches the admins
#: rule; at Cognito her groups' roles are in the id token and the Token mapping takes
#: the preferred one (admins, of lowest precedence); the Cognito app clients straight to
#: Google and to Amazon map the token's role, and their federated users have none; the
#: other providers have no mapping.
ROLES = {"cognito": "fedlab-admins", "cognito-google": "fedlab-authenticated",
         "cognito-amazon": "fedlab-authenticated",
         "auth0": "fedlab-admins", "google": "fedlab-admins",
         "facebook": "fedlab-authenticated", "amazon": "fedlab-authenticated",
         "apple": "fedlab-authenticated", "cognito-apple": "fedlab-authenticated"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_federation_for_every_provider(browser, app_url, control, aws_control, provider):
    sign_in(browser, app_url, provider)
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:800]
    assert 'data-aws-state="authenticated"' in page.text
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", field(page, "identity-id"))
    assert field(page, "logins-key") == LOGINS_KEYS[provider]
    assert f"assumed-role/{ROLES[provider]}/" in field(page, "role")
    assert "<code>GetId</code>: ok" in page.text
    assert "<code>GetCredentialsForIdentity</code>: ok" in page.text


def test_the_secret_key_and_session_token_never_reach_the_page(browser, app, app_url, control,
                                                              aws_control):
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    credentials = stored_session(app, session_cookie(browser).value)["aws"]["credentials"]
    secret, token = credentials["secret_key"], credentials["session_token"]
    assert len(secret) >= 20 and len(token) >= 40  # the real ones, not placeholders
    assert field(page, "access-key") == credentials["access_key_id"]
    for shown in (page.text, browser.get(f"{app_url}/credentials").text):
        assert secret not in shown and secret[:-4] not in shown  # at most its last 4
        assert token not in shown and token[:16] not in shown


def test_federation_for_an_oidc_provider(browser, app_url, standins_url, config_dir, control,
                                         aws_control, swap_app, pool_with):
    """The oidc kind: the Logins key is the issuer's host and path, and the pool lists
    the issuer (an IAM OIDC provider) with this client id."""
    issuer = f"{standins_url}/oidc"
    # config/oidc.toml's provider beside the demo's, with its secret from the secrets file.
    secrets = tomllib.loads((config_dir / "secrets.toml").read_text())
    corp = {"kind": "oidc", "client_id": "fedlab-oidc-client", "issuer": issuer,
            "client_secret": secrets["providers"]["corp"]["client_secret"]}
    other = swap_app(providers={"corp": corp})
    pool_with("fresh", other)
    sign_in(browser, app_url, "corp")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200, page.text[:800]
    assert 'data-aws-state="authenticated"' in page.text
    assert field(page, "logins-key") == issuer.removeprefix("http://")
    assert "fedlab-authenticated" in field(page, "role")
    assert page_calls(page) == [("GetId", "ok"), ("GetCredentialsForIdentity", "ok"),
                                ("GetCallerIdentity", "ok")]


def test_the_identity_id_is_stable_per_person(app_url, control, aws_control):
    from .browser import Browser

    ids = []
    for user in ("alice", "alice", "bob"):
        visitor = Browser()
        sign_in(visitor, app_url, "google", user=user)
        ids.append(field(visitor.get(f"{app_url}/credentials"), "identity-id"))
    assert ids[0] == ids[1] != ids[2]


def credentials_left(aws_control, minutes: int) -> None:
    """Have the pool issue credentials with ``minutes`` left, as if they were fetched
    an hour minus that ago: time moved forward for them, nothing patched in the app."""
    aws_control("identity", "POST", "faults", fault="credentials_lifetime", seconds=minutes * 60)


def test_repeat_views_make_no_aws_call(browser, app_url, control, aws_control, moto_requests):
    sign_in(browser, app_url, "auth0")
    first = browser.get(f"{app_url}/credentials")
    assert "GetCallerIdentity" in moto_requests.sts()  # the recorder sees the app's STS calls
    aws_control("identity", "DELETE", "calls")
    moto_requests.start()
    for _ in range(5):
        page = browser.get(f"{app_url}/credentials")
        assert 'class="calls-none"' in page.text
    assert sum(calls(aws_control).values()) == 0
    assert moto_requests.sts() == []
    assert field(page, "access-key") == field(first, "access-key")


def view_again_with(minutes: int, provider: str, browser, app_url, aws_control,
                    moto_requests):
    """The credentials page twice, the first view's credentials having ``minutes`` left;
    AWS calls are counted from the second view on."""
    credentials_left(aws_control, minutes)
    sign_in(browser, app_url, provider)
    first = browser.get(f"{app_url}/credentials")
    aws_control("identity", "DELETE", "calls")
    moto_requests.start()
    return first, browser.get(f"{app_url}/credentials")


def test_credentials_with_six_minutes_left_are_reused(browser, app_url, control, aws_control,
                                                      moto_requests):
    first, page = view_again_with(6, "auth0", browser, app_url, aws_control, moto_requests)
    assert sum(calls(aws_control).values()) == 0  # no Cognito Identity call
    assert moto_requests.sts() == []  # and no STS call, by the app or for it
    assert 'class="calls-none"' in page.text and "Renewed</th><td>0 times" in page.text
    assert field(page, "access-key") == field(first, "access-key")


def test_credentials_with_four_minutes_left_are_renewed(browser, app_url, control, aws_control,
                                                        moto_requests):
    first, page = view_again_with(4, "cognito", browser, app_url, aws_control, moto_requests)
    assert calls(aws_control) == {"GetCredentialsForIdentity": 1}  # no GetId: same identity
    # The pool assumes the role for the new keys; the app asks STS who they are.
    assert sorted(moto_requests.sts()) == ["AssumeRoleWithWebIdentity", "GetCallerIdentity"]
    assert field(page, "identity-id") == field(first, "identity-id")
    assert field(page, "access-key") != field(first, "access-key")
    assert "Renewed</th><td>1 time<" in page.text


def test_renewal_refreshes_an_expired_id_token_first(browser, app_url, control, aws_control,
                                                     monkeypatch):
    credentials_left(aws_control, 4)
    sign_in(browser, app_url, "cognito")
    browser.get(f"{app_url}/credentials")
    control("DELETE", "calls")
    # The provider's tokens: the app has no clock of its own to move for them.
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 200
    assert control("GET", "calls")["cognito"]["token"] == 1
    assert "Renewed</th><td>1 time<" in page.text
    assert 'data-state="refreshed"' in browser.get(f"{app_url}/account").text


def test_failed_renewal_asks_to_sign_in_again(browser, app_url, control, aws_control,
                                              monkeypatch):
    credentials_left(aws_control, 4)
    sign_in(browser, app_url, "cognito")
    browser.get(f"{app_url}/credentials")
    control("POST", "faults", tenant="cognito", fault="refresh_fails")
    monkeypatch.setattr(signin, "REFRESH_MARGIN", 10**7)
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 401 and 'data-error="federated_tokens_invalid"' in page.text
    assert 'data-state="refresh_failed"' in browser.get(f"{app_url}/account").text


def test_guests_get_unauthenticated_credentials_then_sign_in(browser, app_url, control,
                                                             aws_control):
    page = browser.get(f"{app_url}/credentials")
    assert "Continue as guest" in page.text
    page = browser.click(page, "Continue as guest")
    assert 'data-aws-state="guest"' in page.text
    assert "fedlab-guest" in field(page, "role")
    guest_id = field(page, "identity-id")
    sign_in(browser, app_url, "google")
    aws_control("identity", "DELETE", "calls")
    # Asked first: no identity is federated, linked or merged before the answer.
    page = browser.get(f"{app_url}/credentials")
    assert f'data-guest-offer="{guest_id}"' in page.text
    assert re.search(rf"this browser was guest identity <code>{guest_id}</code>\s+"
                     rf"\(since \d\d:\d\d UTC\)", page.text), page.text[:2000]
    assert browser.buttons(page)[-2:] == ["Keep it", "Go on without it"]
    assert "data-aws-state=" not in page.text and calls(aws_control) == {}
    page = browser.click(page, "Keep it")
    assert 'data-aws-state="authenticated"' in page.text
    assert f"<code>{guest_id}</code>" in page.text and "data-guest-move=" in page.text
    assert "AWS calls when you chose Keep it" in page.text


def guest_then_sign_in(browser, app_url, provider: str, user: str = "alice"):
    """Continue as guest, sign in, and keep the guest identity when the credentials
    page offers it; return the guest id and the page."""
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    guest_id = field(page, "identity-id")
    sign_in(browser, app_url, provider, user=user)
    offer = browser.get(f"{app_url}/credentials")
    assert f'data-guest-offer="{guest_id}"' in offer.text, offer.text[:2000]
    return guest_id, browser.click(offer, "Keep it")


def pool_logins(app, servers) -> dict[str, list[str]]:
    """Each identity of the AWS stand-in's pool and the Logins keys linked to it, as
    ListIdentities gives them (a guest's: none)."""
    return {identity["IdentityId"]: identity["Logins"]
            for identity in list_identities(app, servers)}


def test_going_on_without_the_guest_identity_leaves_it_behind(browser, app, servers, app_url,
                                                              control, aws_control,
                                                              pool_with):
    from .browser import Browser

    pool_with("fresh")
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    guest_id = field(page, "identity-id")
    sign_in(browser, app_url, "google")
    offer = browser.get(f"{app_url}/credentials")
    assert f'data-guest-offer="{guest_id}"' in offer.text
    page = browser.click(offer, "Go on without it")
    assert 'data-aws-state="authenticated"' in page.text
    own_id = field(page, "identity-id")
    assert own_id != guest_id and "data-guest-move=" not in page.text
    assert page_calls(page) == [("GetId", "ok"), ("GetCredentialsForIdentity", "ok"),
                                ("GetCallerIdentity", "ok")]
    assert "AWS calls when you chose Go on without it" in page.text
    # The guest is still a guest in the pool; the sign-in has its own identity.
    assert pool_logins(app, servers) == {guest_id: [], own_id: ["accounts.google.com"]}
    other = Browser()
    sign_in(other, app_url, "google")
    assert field(other.get(f"{app_url}/credentials"), "identity-id") == own_id
    # Answered once: the page does not ask again, and a second answer changes nothing.
    again = browser.get(f"{app_url}/credentials")
    assert "data-guest-offer=" not in again.text and field(again, "identity-id") == own_id
    late = browser.post(f"{app_url}/credentials/guest-move",
                        data={"choice": "keep", "csrf_token": browser.csrf(offer)})
    assert field(late, "identity-id") == own_id
    assert pool_logins(app, servers)[guest_id] == []


def test_a_storage_page_asks_about_the_guest_identity_first(browser, app, servers, app_url,
                                                            control, aws_control, pool_with):
    pool_with("fresh")
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    guest_id = field(page, "identity-id")
    sign_in(browser, app_url, "google")
    listing = browser.get(f"{app_url}/storage/private")
    assert listing.url == f"{app_url}/credentials"
    assert f'data-guest-offer="{guest_id}"' in listing.text
    assert pool_logins(app, servers) == {guest_id: []}  # nothing federated meanwhile


def test_a_first_sign_in_after_guest_keeps_the_guest_identity(browser, app_url, control,
                                                              aws_control, pool_with):
    pool_with("fresh")  # nobody has signed in to this pool yet
    guest_id, page = guest_then_sign_in(browser, app_url, "google")
    assert 'data-aws-state="authenticated"' in page.text
    assert field(page, "identity-id") == guest_id
    assert f"assumed-role/{ROLES['google']}/" in field(page, "role")
    assert 'data-guest-move="linked"' in page.text
    # As the SDKs do: the guest's id with the Logins, no new GetId.
    assert page_calls(page) == [("GetCredentialsForIdentity", "ok"),
                                ("GetCallerIdentity", "ok")]
    # The sign-in is linked to that identity: another browser gets the same id.
    from .browser import Browser

    other = Browser()
    sign_in(other, app_url, "google")
    assert field(other.get(f"{app_url}/credentials"), "identity-id") == guest_id


def test_a_known_person_after_guest_gets_their_identity_and_the_guest_is_merged(
        browser, app_url, control, aws_control, pool_with):
    from .browser import Browser

    pool_with("fresh")
    earlier = Browser()
    sign_in(earlier, app_url, "auth0", user="bob")
    known_id = field(earlier.get(f"{app_url}/credentials"), "identity-id")
    guest_id, page = guest_then_sign_in(browser, app_url, "auth0", user="bob")
    assert guest_id != known_id
    assert field(page, "identity-id") == known_id
    assert 'data-aws-state="authenticated"' in page.text
    move = re.search(r'data-guest-move="merged">(.*?)</p>', page.text, re.S)
    assert move, page.text[:2000]
    assert f"<code>{guest_id}</code>" in move.group(1)
    assert f"<code>{known_id}</code>" in move.group(1)


def test_continue_as_guest_shows_the_calls_it_made(browser, app_url, control, aws_control):
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    assert 'data-aws-state="guest"' in page.text
    assert 'class="calls-none"' not in page.text
    assert page_calls(page) == [("GetId", "ok"), ("GetCredentialsForIdentity", "ok"),
                                ("GetCallerIdentity", "ok")]
    assert "when you chose Continue as guest" in page.text
    again = browser.get(f"{app_url}/credentials")  # now they are reused, and it says so
    assert 'class="calls-none"' in again.text and page_calls(again) == []


def test_guest_without_csrf_is_refused(browser, app_url, aws_control):
    page = browser.post(f"{app_url}/credentials/guest")
    assert page.status_code == 400 and 'data-error="csrf_failed"' in page.text


@pytest.mark.parametrize(("change", "provider", "code", "aws_code"), [
    ("drop_auth0", "auth0", "identity_provider_not_configured", "NotAuthorizedException"),
    ("google_other_client", "google", "identity_wrong_audience", "NotAuthorizedException"),
])
def test_pool_misconfiguration_is_refused_and_explained(browser, app_url, control,
                                                        aws_control, pool_with, change,
                                                        provider, code, aws_code):
    pool_with(change)
    sign_in(browser, app_url, provider)
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 403
    assert f'data-error="{code}"' in page.text and aws_code in page.text
    # The fix is at the provider's registration on the pool: link to its matrix row.
    assert f'class="check-provider" href="/diagnostics#provider-{provider}"' in page.text


def test_a_wrong_identity_pool_id_ends_on_its_explained_page(browser, app_url, control,
                                                             aws_control, swap_app):
    wrong = "us-east-1:00000000-0000-4000-8000-000000000000"
    swap_app(aws={"identity_pool_id": wrong})
    sign_in(browser, app_url, "google")
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 404
    assert 'data-error="identity_pool_not_found"' in page.text
    assert "ResourceNotFoundException" in page.text and wrong in page.text
    assert "aws.identity_pool_id" in page.text  # the fix names the setting
    assert "Traceback" not in page.text


def test_guests_refused_by_the_pool_end_on_their_explained_page(browser, app_url, control,
                                                                aws_control, pool_with):
    pool_with("no_guests")  # the site offers guests, the pool does not take them
    page = browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    assert page.status_code == 403
    assert 'data-error="guests_not_allowed"' in page.text
    assert "Unauthenticated access is not supported for this identity pool." in page.text
    assert "enable unauthenticated identities" in page.text
    assert 'data-aws-state="guest"' not in browser.get(f"{app_url}/credentials").text


def test_an_expired_token_is_refused_as_aws_does(browser, app_url, control, aws_control,
                                                 monkeypatch):
    sign_in(browser, app_url, "google")
    aws_control("identity", "POST", "clock", skew_seconds=7200)
    monkeypatch.setattr(signin, "REFRESH_MARGIN", -(10**7))  # keep the app from refreshing
    page = browser.get(f"{app_url}/credentials")
    assert page.status_code == 401
    assert 'data-error="identity_token_expired"' in page.text
    assert "NotAuthorizedException" in page.text and "Token expired" in page.text


@pytest.mark.parametrize(("fault", "code"), [("throttle", "aws_throttled"),
                                             ("bad_trust_policy", "identity_pool_roles_invalid")])
def test_identity_pool_faults_are_explained(browser, app_url, control, aws_control, fault,
                                            code):
    sign_in(browser, app_url, "auth0")
    aws_control("identity", "POST", "faults", fault=fault)
    page = browser.get(f"{app_url}/credentials")
    assert f'data-error="{code}"' in page.text
    assert 'href="/diagnostics#provider-auth0"' in page.text
    assert "Traceback" not in page.text


def test_every_page_says_aws_is_a_stand_in(browser, app_url):
    assert "AWS here is a local stand-in" in browser.get(f"{app_url}/").text


# -- guest identities: one per browser session, made at a bounded rate, never planted


def list_identities(app, servers) -> list[dict]:
    """Every identity the AWS stand-in's pool holds, as an operator lists them
    (ListIdentities, a page of 60 at a time, signed with the stand-in's admin key)."""
    import boto3

    client = boto3.client("cognito-identity", region_name="us-east-1",
                          endpoint_url=f"http://127.0.0.1:{servers[2].port}",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    pool = settings(app).aws.identity_pool_id
    found, more = [], {}
    while True:
        page = client.list_identities(IdentityPoolId=pool, MaxResults=60, **more)
        found += page["Identities"]
        if not page.get("NextToken"):
            return found
        more = {"NextToken": page["NextToken"]}


def pool_identities(app, servers) -> list[str]:
    """The ids of every identity the AWS stand-in's pool holds."""
    return [identity["IdentityId"] for identity in list_identities(app, servers)]


def continue_as_guest(browser, app_url):
    """Press "Continue as guest" (a guest's page has no such button: the form's POST
    again, with the token the browser was given with it)."""
    page = browser.get(f"{app_url}/credentials")
    if "Continue as guest" in browser.buttons(page):
        browser.guest_token = browser.csrf(page)
        return browser.click(page, "Continue as guest")
    return browser.post(f"{app_url}/credentials/guest", data={"csrf_token": browser.guest_token})


def test_twenty_guest_posts_make_one_identity(browser, app, servers, app_url, aws_control,
                                              pool_with):
    pool_with("fresh")
    guest_id = field(continue_as_guest(browser, app_url), "identity-id")
    for _ in range(19):
        again = continue_as_guest(browser, app_url)
        assert again.status_code == 200 and field(again, "identity-id") == guest_id
    assert pool_identities(app, servers) == [guest_id]
    assert calls(aws_control).get("GetId") == 1


def test_a_guest_whose_credentials_expire_keeps_the_same_identity(browser, app, servers,
                                                                  app_url, aws_control,
                                                                  pool_with):
    pool_with("fresh")
    # Credentials this short are never "good for five more minutes": each POST renews.
    aws_control("identity", "POST", "faults", fault="credentials_lifetime", seconds=60)
    guest_id = field(continue_as_guest(browser, app_url), "identity-id")
    again = continue_as_guest(browser, app_url)
    assert field(again, "identity-id") == guest_id
    assert page_calls(again) == [("GetCredentialsForIdentity", "ok"), ("GetCallerIdentity", "ok")]
    assert pool_identities(app, servers) == [guest_id]


def test_new_guest_identities_are_limited_per_process(app_url, servers, aws_control, swap_app,
                                                      pool_with):
    from .browser import Browser

    served = swap_app(aws={"guest_identities_per_minute": 3})
    pool_with("fresh")
    pages = [continue_as_guest(Browser(), app_url) for _ in range(5)]  # five new visitors
    assert [p.status_code for p in pages] == [200, 200, 200, 429, 429]
    assert all('data-aws-state="guest"' in p.text for p in pages[:3])
    for refused in pages[3:]:
        assert 'data-error="guest_limit"' in refused.text
        assert "at most 3 new guest identities a minute" in refused.text
    assert sorted(pool_identities(served, servers)) == sorted(
        field(p, "identity-id") for p in pages[:3])


def test_one_browser_session_gets_few_new_guest_identities(browser, app, servers, app_url,
                                                           aws_control, pool_with):
    made = []
    for _ in range(3):
        # A new pool each time (as a reset pool would be): the session's guest is gone,
        # so the next POST must make a new one.
        pool_with("fresh")
        aws_control("identity", "POST", "faults", fault="credentials_lifetime", seconds=60)
        page = continue_as_guest(browser, app_url)
        made.append(field(page, "identity-id"))
        assert pool_identities(app, servers) == [made[-1]]
    assert len(set(made)) == 3
    pool_with("fresh")
    aws_control("identity", "POST", "faults", fault="credentials_lifetime", seconds=60)
    refused = continue_as_guest(browser, app_url)
    assert refused.status_code == 429 and 'data-error="guest_limit"' in refused.text
    assert "This browser session has already had 3 guest identities made" in refused.text
    assert pool_identities(app, servers) == []


def plant_attackers_session(browser, app_url, *, as_guest: bool):
    """An attacker's session cookie, planted in the victim's ``browser``: a session with
    a record (an id without one is never given one: the victim's sign-in would move to a
    new id), the attacker having pressed "Continue as guest" in it already or not.
    Returns the attacker's browser (with the CSRF token of the planted session's guest
    form) and the credentials page it holds."""
    from .browser import Browser

    attacker = Browser()
    if as_guest:
        page = attacker.get(f"{app_url}/credentials")
        attacker.guest_token = attacker.csrf(page)
        page = attacker.click(page, "Continue as guest")
    else:  # a sign-in the attacker started and left, and the guest form, not yet pressed
        attacker.get(f"{app_url}/auth/google/login", allow_redirects=False)
        page = attacker.get(f"{app_url}/credentials")
        attacker.guest_token = attacker.csrf(page)
    browser.http.cookies.set_cookie(session_cookie(attacker))
    return attacker, page


def test_a_guest_identity_planted_before_the_sign_in_is_only_offered(browser, app, servers,
                                                                     app_url, control,
                                                                     aws_control, pool_with):
    """The attacker continues as guest (identity G), then plants that session's cookie in
    the victim's browser; the victim signs in there. Nothing on the server can tell the
    planted session from the victim's own, so G is not moved into the sign-in: the page
    asks, the attacker cannot answer for the victim (the sign-in's new session id
    brought a new CSRF secret), and the victim who goes on without it keeps G out."""
    pool_with("fresh")  # the victim has no identity yet: a guest's would become theirs
    attacker, attackers_page = plant_attackers_session(browser, app_url, as_guest=True)
    attacker_guest = field(attackers_page, "identity-id")
    assert sign_in(browser, app_url, "google").url == f"{app_url}/account"

    page = browser.get(f"{app_url}/credentials")
    assert f'data-guest-offer="{attacker_guest}"' in page.text
    assert "data-aws-state=" not in page.text and "data-guest-move=" not in page.text
    assert pool_logins(app, servers) == {attacker_guest: []}  # nothing linked yet
    # "Keep it" with the attacker's token, from the planted session, on the victim's
    # signed-in session: refused, and the offer is still the victim's to answer.
    forged = browser.post(f"{app_url}/credentials/guest-move",
                          data={"choice": "keep", "csrf_token": attacker.guest_token})
    assert forged.status_code == 400 and 'data-error="csrf_failed"' in forged.text
    assert pool_logins(app, servers) == {attacker_guest: []}
    page = browser.get(f"{app_url}/credentials")
    assert f'data-guest-offer="{attacker_guest}"' in page.text

    page = browser.click(page, "Go on without it")
    assert 'data-aws-state="authenticated"' in page.text
    victim_id = field(page, "identity-id")
    assert victim_id != attacker_guest and "data-guest-move=" not in page.text
    assert pool_logins(app, servers) == {attacker_guest: [],
                                         victim_id: ["accounts.google.com"]}


def test_a_guest_identity_planted_during_the_sign_in_is_not_even_offered(
        browser, app, servers, app_url, control, aws_control, pool_with):
    """The attacker's session cookie is planted in the victim's browser; the victim starts
    signing in there; meanwhile the attacker, holding the same cookie, continues as
    guest. The sign-in did not start with that guest identity: it is neither offered
    nor carried over."""
    from .flows import stop_at_callback

    pool_with("fresh")
    attacker, guest_form = plant_attackers_session(browser, app_url, as_guest=False)
    planted = session_cookie(attacker)
    callback = stop_at_callback(browser, app_url, "google")  # the victim, at the provider
    assert session_cookie(browser).value == planted.value  # still the planted session
    attacker_guest = field(attacker.click(guest_form, "Continue as guest"), "identity-id")

    signed_in = browser.get(callback)
    assert signed_in.url == f"{app_url}/account" and signed_in.status_code == 200
    page = browser.get(f"{app_url}/credentials")
    assert 'data-aws-state="authenticated"' in page.text
    assert field(page, "identity-id") != attacker_guest
    assert attacker_guest not in page.text  # neither offered, linked, merged nor mentioned
    assert "data-guest-offer=" not in page.text and "data-guest-move=" not in page.text
    assert pool_logins(app, servers) == {attacker_guest: [],
                                         field(page, "identity-id"): ["accounts.google.com"]}


def test_with_redis_the_guest_limit_is_shared_by_every_instance(app_url, servers, aws_control,
                                                                swap_app, pool_with, redis_url):
    import redis

    from .browser import Browser

    store = redis.Redis.from_url(redis_url)
    prefix = f"fedlab-test-{secrets.token_hex(4)}:"
    try:
        shared = {"session": {"type": "redis", "redis_url": redis_url, "key_prefix": prefix},
                  "aws": {"guest_identities_per_minute": 3}}
        pool_with("fresh")
        swap_app(**shared)  # instance one
        first = [continue_as_guest(Browser(), app_url) for _ in range(2)]
        served = swap_app(**shared)  # instance two, the same Redis
        second = [continue_as_guest(Browser(), app_url) for _ in range(2)]
        assert [p.status_code for p in first + second] == [200, 200, 200, 429]
        assert 'data-error="guest_limit"' in second[1].text
        assert len(pool_identities(served, servers)) == 3
        assert store.zcard(f"{prefix}guests:per-minute") == 3
    finally:
        forget(store, prefix)


def forget(store, prefix: str) -> None:
    """Delete every Redis key under ``prefix`` (this test's own)."""
    keys = store.keys(f"{prefix}*")
    if keys:
        store.delete(*keys)


def test_sites_under_other_key_prefixes_have_their_own_guest_rate(app_url, servers, aws_control,
                                                                  swap_app, pool_with,
                                                                  redis_url):
    """Two sites on one Redis database, each under its own ``session.key_prefix``: the
    guests one makes do not count against the other's per-minute limit."""
    import redis

    from .browser import Browser

    store = redis.Redis.from_url(redis_url)
    prefixes = [f"fedlab-test-{secrets.token_hex(4)}:" for _ in range(2)]
    try:
        pool_with("fresh")
        pages = []
        for prefix in prefixes:
            served = swap_app(session={"type": "redis", "redis_url": redis_url,
                                       "key_prefix": prefix},
                              aws={"guest_identities_per_minute": 2})
            pages += [continue_as_guest(Browser(), app_url) for _ in range(2)]
        assert [p.status_code for p in pages] == [200, 200, 200, 200]
        assert len(pool_identities(served, servers)) == 4
    finally:
        for prefix in prefixes:
            forget(store, prefix)


@pytest.mark.parametrize("store", ["redis", "files"])
def test_parallel_guest_posts_with_one_cookie_make_at_most_three_identities(
        browser, app_url, servers, aws_control, swap_app, pool_with, redis_url, store):
    """Twenty "Continue as guest" POSTs sent at once with one cookie and its CSRF token:
    each request reads its own copy of the session, so only a count kept beside the
    sessions, taken atomically, holds them to the browser's three."""
    import redis

    prefix = f"fedlab-test-{secrets.token_hex(4)}:"
    session = {"type": "redis", "redis_url": redis_url, "key_prefix": prefix} \
        if store == "redis" else {}
    try:
        # The site's own per-minute limit is far above twenty: only the browser's counts.
        served = swap_app(session=session, aws={"guest_identities_per_minute": 1000})
        pool_with("fresh")
        page = browser.get(f"{app_url}/credentials")
        token, cookie = browser.csrf(page), session_cookie(browser)
        start = threading.Barrier(20)

        def press(_: int) -> requests.Response:
            start.wait(timeout=30)
            return requests.post(f"{app_url}/credentials/guest", data={"csrf_token": token},
                                 cookies={cookie.name: cookie.value}, allow_redirects=False,
                                 timeout=30)

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(press, range(20)))
        made = [a for a in answers if a.status_code == 302]
        refused = [a for a in answers if a.status_code == 429]
        assert len(made) + len(refused) == 20, [a.status_code for a in answers]
        assert len(pool_identities(served, servers)) == len(made) == 3
        for answer in refused:
            assert 'data-error="guest_limit"' in answer.text
            assert "This browser session has already had 3 guest identities made" in answer.text
    finally:
        if store == "redis":
            forget(redis.Redis.from_url(redis_url), prefix)


def test_an_answer_to_the_guest_offer_outlives_a_slower_request(browser, app_url, control,
                                                                aws_control, pool_with):
    """A slow request (userinfo) read the session while the offer stood; the visitor
    answers "Go on without it" meanwhile. When the slow request writes its own change,
    the answer stands: the offer does not come back to be kept after all."""
    pool_with("fresh")
    guest_id = field(continue_as_guest(browser, app_url), "identity-id")
    sign_in(browser, app_url, "auth0")
    offer = browser.get(f"{app_url}/credentials")
    assert f'data-guest-offer="{guest_id}"' in offer.text
    sid = session_cookie(browser).value
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="userinfo", seconds=2)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, f"{app_url}/account/userinfo",
                           cookies={"fedlab": sid}, data={"csrf_token": browser.csrf(offer)},
                           allow_redirects=False, timeout=30)
        wait_until(lambda: control("GET", "calls").get("auth0", {}).get("userinfo") == 1)
        answered = browser.click(offer, "Go on without it")
        own = field(answered, "identity-id")
        assert own != guest_id
        assert slow.result().status_code in (302, 303)
    page = browser.get(f"{app_url}/credentials")
    assert "data-guest-offer=" not in page.text
    assert 'data-aws-state="authenticated"' in page.text and field(page, "identity-id") == own
    # ... and the slow request's own change was kept beside the answer.
    assert '<pre class="userinfo">' in browser.get(f"{app_url}/account").text
