"""The S3 pages with a visitor's own credentials, against the AWS stand-in."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from webapp.config import settings

from .browser import Browser, forms
from .conftest import PROVIDERS
from .flows import sign_in, through_provider

CONTENT = b"hello from Federation Lab\n" * 10


def identity_of(browser, app_url) -> str:
    page = browser.get(f"{app_url}/credentials")
    return re.search(r'class="identity-id">([^<]*)<', page.text).group(1)


def upload_csrf(page) -> str:
    """The token the page's upload script sends in X-CSRFToken."""
    return re.search(r'data-csrf="([^"]+)"', page.text).group(1)


def grant(browser, app_url, level, name="notes.txt", kind="text/plain", csrf=None):
    if csrf is None:
        csrf = upload_csrf(browser.get(f"{app_url}/storage/{level}"))
    return browser.post(f"{app_url}/storage/{level}/upload", json={"name": name, "type": kind},
                        headers={"X-CSRFToken": csrf})


def upload(browser, app_url, level, data=CONTENT, name="notes.txt", csrf=None):
    answer = grant(browser, app_url, level, name, csrf=csrf)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    response = requests.post(body["url"], data=body["fields"],
                             files={"file": (name, data, "text/plain")}, timeout=10)
    return answer, body, response


@pytest.mark.parametrize("provider", PROVIDERS)
def test_private_upload_list_download_delete(browser, app_url, control, aws_control, provider):
    sign_in(browser, app_url, provider)
    identity = identity_of(browser, app_url)
    _, body, stored = upload(browser, app_url, "private")
    assert stored.status_code in (200, 201, 204), stored.text
    assert body["key"] == f"private/{identity}/notes.txt"
    listing = browser.get(f"{app_url}/storage/private")
    assert f'data-key="private/{identity}/notes.txt"' in listing.text
    download = browser.get(f"{app_url}/storage/private/download",
                           params={"key": body["key"]}, allow_redirects=False)
    assert download.status_code == 302
    assert requests.get(download.headers["Location"], timeout=10).content == CONTENT
    page = browser.get(f"{app_url}/storage/private")
    deleted = browser.post(f"{app_url}/storage/private/delete",
                           data={"key": body["key"], "csrf_token": browser.csrf(page)})
    assert 'data-count="0"' in deleted.text


def test_no_object_bytes_pass_through_the_app(browser, app_url, control, aws_control):
    sign_in(browser, app_url, "auth0")
    answer, body, _ = upload(browser, app_url, "private")
    assert aws_control("s3", "GET", "bytes")["received"] >= len(CONTENT)  # S3 got them
    assert len(answer.content) < 4096 and CONTENT not in answer.content
    assert not body["url"].startswith(app_url)
    download = browser.get(f"{app_url}/storage/private/download", params={"key": body["key"]},
                           allow_redirects=False)
    assert CONTENT not in download.content and len(download.content) < 4096
    assert not download.headers["Location"].startswith(app_url)
    assert requests.get(download.headers["Location"], timeout=10).content == CONTENT
    assert aws_control("s3", "GET", "bytes")["served"] >= len(CONTENT)  # from S3, not us


def test_presigned_post_enforces_the_size_limit(browser, app_url, control, aws_control,
                                                live_app):
    sign_in(browser, app_url, "google")
    limit = settings(live_app).aws.max_upload_bytes
    _, _, refused = upload(browser, app_url, "private", data=b"x" * (limit + 1))
    assert refused.status_code == 400 and "EntityTooLarge" in refused.text


def test_only_configured_content_types_get_an_upload_form(browser, app_url, control,
                                                          aws_control):
    sign_in(browser, app_url, "google")
    refused = grant(browser, app_url, "private", "tool.exe", "application/x-msdownload")
    assert refused.status_code == 400 and "not accepted" in refused.json()["error"]
    refused = grant(browser, app_url, "private", "../../etc/passwd")
    assert refused.status_code == 400


def test_upload_form_and_delete_need_csrf(browser, app_url, control, aws_control):
    sign_in(browser, app_url, "google")
    answer = browser.post(f"{app_url}/storage/private/upload",
                          json={"name": "a.txt", "type": "text/plain"})
    assert answer.status_code == 400
    _, body, _ = upload(browser, app_url, "private", name="keep.txt")
    refused = browser.post(f"{app_url}/storage/private/delete", data={"key": body["key"]})
    assert refused.status_code == 400 and 'data-error="csrf_failed"' in refused.text
    assert 'keep.txt' in browser.get(f"{app_url}/storage/private").text


def deletes_offered(page) -> list[str]:
    """The confirm buttons of the listing's Delete steps ("Yes, delete notes.txt")."""
    return [b[0] for f in forms(page.text) for b in f.buttons if b[0].startswith("Yes, delete")]


def test_protected_files_are_readable_by_others_but_not_deletable(app_url, control,
                                                                  aws_control):
    """bob (Facebook: the plain authenticated role, which writes its own protected/
    only) on alice's protected files: no Delete, no Upload offered; a forged delete
    is still refused by S3 and explained."""
    alice, bob = Browser(), Browser()
    sign_in(alice, app_url, "cognito", user="alice")
    sign_in(bob, app_url, "facebook", user="bob")
    _, body, _ = upload(alice, app_url, "protected", name="shared.txt")
    owner = identity_of(alice, app_url)
    own = bob.get(f"{app_url}/storage/protected")
    assert 'id="upload-form"' in own.text  # his own protected/: his role may write there
    listing = bob.get(f"{app_url}/storage/protected", params={"owner": owner})
    assert "shared.txt" in listing.text
    assert "Another identity&#39;s protected files" in listing.text
    assert deletes_offered(listing) == [] and "<summary>Delete" not in listing.text
    assert 'id="upload-form"' not in listing.text and "data-read-only" in listing.text
    download = bob.get(f"{app_url}/storage/protected/download",
                       params={"key": body["key"], "owner": owner}, allow_redirects=False)
    assert requests.get(download.headers["Location"], timeout=10).content == CONTENT
    refused = bob.post(f"{app_url}/storage/protected/delete",
                       data={"key": body["key"], "owner": owner,
                             "csrf_token": bob.csrf(bob.get(f"{app_url}/account"))})
    assert refused.status_code == 403 and 'data-error="s3_access_denied"' in refused.text
    assert "${cognito-identity.amazonaws.com:sub}" in refused.text
    assert 'href="/diagnostics#provider-facebook"' in refused.text
    assert "shared.txt" in bob.get(f"{app_url}/storage/protected",
                                   params={"owner": owner}).text


def test_readers_are_offered_no_upload_or_delete(app_url, control, aws_control):
    """bob at Cognito is in the readers group (fedlab-readers: read only): even his own
    private files offer neither, and S3 refuses the upload his page did not offer."""
    alice, bob = Browser(), Browser()
    sign_in(alice, app_url, "cognito", user="alice")
    sign_in(bob, app_url, "cognito", user="bob")
    upload(alice, app_url, "public", name="from-alice.txt")
    for level in ("public", "protected", "private"):
        page = bob.get(f"{app_url}/storage/{level}")
        assert page.status_code == 200 and '<code class="role-name">fedlab-readers' in page.text
        assert 'id="upload-form"' not in page.text and deletes_offered(page) == []
        assert "may not upload here" in page.text
    assert "from-alice.txt" in bob.get(f"{app_url}/storage/public").text
    token = bob.csrf(bob.get(f"{app_url}/account"))
    _, _, refused = upload(bob, app_url, "private", name="nope.txt", csrf=token)
    assert refused.status_code == 403 and "AccessDenied" in refused.text


def test_admins_may_delete_others_shared_files_after_confirming(app_url, control,
                                                                aws_control):
    """alice at Cognito gets fedlab-admins, whose ModerateProtected statement lets her
    delete anyone's protected files (not upload there): the page offers exactly that,
    and the delete ends in a notice naming the file."""
    alice, carol = Browser(), Browser()
    sign_in(carol, app_url, "facebook", user="carol")
    sign_in(alice, app_url, "cognito", user="alice")
    _, body, _ = upload(carol, app_url, "protected", name="carols.txt")
    owner = identity_of(carol, app_url)
    listing = alice.get(f"{app_url}/storage/protected", params={"owner": owner})
    assert deletes_offered(listing) == ["Yes, delete carols.txt"]
    assert 'id="upload-form"' not in listing.text
    done = alice.click(listing, "Yes, delete carols.txt")
    assert urlsplit(done.url).path == "/storage/protected"
    assert "Deleted carols.txt." in done.text and 'data-key="' + body["key"] not in done.text


def test_guests_read_public_and_are_denied_the_rest(browser, app_url, aws_control):
    page = browser.get(f"{app_url}/credentials")
    token = browser.csrf(page)  # the guest's page has no upload form: S3 must refuse anyway
    browser.click(page, "Continue as guest")
    listing = browser.get(f"{app_url}/storage/public")
    assert listing.status_code == 200 and "welcome.txt" in listing.text
    download = browser.get(f"{app_url}/storage/public/download",
                           params={"key": "public/welcome.txt"}, allow_redirects=False)
    assert requests.get(download.headers["Location"], timeout=10).status_code == 200
    aws_control("s3", "DELETE", "calls")
    for level in ("protected", "private"):  # the next step in place, not S3's refusal
        guided = browser.get(f"{app_url}/storage/{level}")
        assert guided.status_code == 401  # needs a sign-in, as the account page does
        assert 'data-guided="storage" data-standing="guest"' in guided.text
        assert f"Sign in to use your {level} files" in guided.text
        assert f'/auth/cognito/login?next=/storage/{level}"' in guided.text
    assert aws_control("s3", "GET", "calls") == {}  # nothing was asked of S3
    _, _, refused = upload(browser, app_url, "public", name="guest.txt", csrf=token)
    assert refused.status_code == 403 and "AccessDenied" in refused.text


def test_guests_see_no_upload_or_delete_on_public(browser, app_url, control, aws_control):
    signed_in = Browser()
    sign_in(signed_in, app_url, "google")
    page = signed_in.get(f"{app_url}/storage/public")
    assert deletes_offered(page) and 'id="upload-form"' in page.text
    browser.click(browser.get(f"{app_url}/credentials"), "Continue as guest")
    listing = browser.get(f"{app_url}/storage/public")
    assert "welcome.txt" in listing.text  # the guest role can list and read public/
    assert deletes_offered(listing) == [] and "Upload" not in browser.buttons(listing)
    assert "<summary>Delete" not in listing.text
    assert 'id="upload-form"' not in listing.text
    assert "to upload or delete" in listing.text


def tabs(page) -> dict[str, str | None]:
    """Each level tab's label and its note ("sign in first"), or None where usable."""
    found = re.findall(r'<a href="/storage/(\w+)"[^>]*>(\w+)(?: <span class="tab-note">'
                       r'\(([^)]*)\)</span>)?</a>', page.text)
    return {level: note or None for level, _, note in found}


@pytest.mark.parametrize("level", ["public", "protected", "private"])
def test_signed_out_visitors_get_the_next_step_in_place(browser, app_url, aws_control, level):
    aws_control("s3", "DELETE", "calls")
    aws_control("identity", "DELETE", "calls")
    page = browser.get(f"{app_url}/storage/{level}")
    # Public files are a guest's too (200, as the credentials page); the rest need a
    # sign-in (401, as the account page).
    assert page.status_code == (200 if level == "public" else 401)
    assert 'data-guided="storage" data-standing="signed_out"' in page.text
    assert 'data-error="' not in page.text
    for provider in PROVIDERS:  # every way in, coming back to this tab
        assert f'/auth/{provider}/login?next=/storage/{level}"' in page.text
    assert ("Continue as guest" in browser.buttons(page)) == (level == "public")
    assert tabs(page) == {"public": "sign in or continue as guest first",
                          "protected": "sign in first", "private": "sign in first"}
    assert f'href="/storage/{level}" aria-current="page"' in page.text
    assert aws_control("s3", "GET", "calls") == {}
    assert aws_control("identity", "GET", "calls") == {}


def test_continue_as_guest_from_the_public_tab(browser, app_url, aws_control):
    listing = browser.click(browser.get(f"{app_url}/storage/public"), "Continue as guest")
    assert urlsplit(listing.url).path == "/storage/public"
    assert "welcome.txt" in listing.text and "data-guest-read-only" in listing.text
    assert tabs(listing) == {"public": None, "protected": "sign in first",
                             "private": "sign in first"}


def test_signing_in_from_a_guided_tab_comes_back_to_it(browser, app_url, control,
                                                       aws_control):
    page = browser.get(f"{app_url}/storage/private")
    link = re.search(r'href="(/auth/auth0/login\?next=[^"]+)"', page.text).group(1)
    back = through_provider(browser, browser.get(app_url + link), app_url, "alice",
                            "Allow", True)
    assert urlsplit(back.url).path == "/storage/private"
    assert "Your private files" in back.text and 'id="upload-form"' in back.text
    assert tabs(back) == {"public": None, "protected": None, "private": None}


@pytest.fixture(scope="module")
def many_objects(app, servers):
    """10,000 objects under one identity's protected/ prefix, seeded through the S3
    stand-in's control API (uploads over HTTP would take a minute; the listing
    itself goes over HTTP)."""
    owner = "us-east-1:00000000-0000-4000-8000-00000000beef"
    requests.post(f"http://127.0.0.1:{servers[3].port}/_control/objects", timeout=30,
                  json={"prefix": f"protected/{owner}/", "count": 10_000}).raise_for_status()
    return owner


def test_listing_pages_through_ten_thousand_objects(browser, app_url, aws_control,
                                                    many_objects):
    sign_in(browser, app_url, "google")
    first = browser.get(f"{app_url}/storage/protected", params={"owner": many_objects})
    assert 'data-count="100"' in first.text and "file-00000.txt" in first.text
    next_link = re.search(r'class="next-page" href="([^"]+)"', first.text).group(1)
    second = browser.get(app_url + next_link.replace("&amp;", "&"))
    assert 'data-count="100"' in second.text and "file-00100.txt" in second.text
    assert "file-00000.txt" not in second.text


@pytest.mark.parametrize("token", [
    "not a token!",        # not the shape of any page token: refused before asking S3
    "x" * 2000,            # far longer than S3's
    "0" * 32,              # the right shape, but S3 never issued it: S3's InvalidArgument
])
def test_a_bogus_page_token_is_a_clear_bad_request(browser, app_url, control, aws_control,
                                                   token):
    sign_in(browser, app_url, "google")
    aws_control("s3", "DELETE", "calls")
    page = browser.get(f"{app_url}/storage/public", params={"after": token})
    assert page.status_code == 400 and 'data-error="bad_page_token"' in page.text
    assert "first page" in page.text and "/storage/public" in page.text
    lists = aws_control("s3", "GET", "calls").get("ListObjectsV2", 0)
    assert lists == (1 if token == "0" * 32 else 0)  # asked once, not retried


def issued_keys(browser, app_url) -> tuple[str, str, str]:
    """The visitor's access key id (shown on the credentials page), and the secret key
    and session token STS issued with it, as the STS stand-in (moto) holds them."""
    from moto.sts.models import sts_backends

    page = browser.get(f"{app_url}/credentials")
    key_id = re.search(r'class="access-key">([^<]*)<', page.text).group(1)
    account = re.search(r'class="role">arn:aws:(?:sts|iam)::(\d+):', page.text).group(1)
    role = sts_backends[account]["aws"].get_assumed_role_from_access_key(key_id)
    assert role is not None, key_id
    return key_id, role.secret_access_key, role.session_token


def test_presigned_links_carry_the_session_token_never_the_secret_key(browser, app_url,
                                                                      control, aws_control):
    sign_in(browser, app_url, "cognito")
    key_id, secret, token = issued_keys(browser, app_url)
    answer, body, stored = upload(browser, app_url, "private")
    assert stored.status_code in (200, 201, 204)
    # The presigned POST the browser receives: the session token is one of its fields.
    assert body["fields"]["x-amz-security-token"] == token
    assert secret not in answer.text and secret not in json.dumps(body)
    # The presigned GET the browser is sent to: key id and session token in the URL.
    download = browser.get(f"{app_url}/storage/private/download", params={"key": body["key"]},
                           allow_redirects=False)
    location = download.headers["Location"]
    # Signature V2 or V4 spell the names differently; the values are what count.
    query = {k.lower(): v for k, v in parse_qsl(urlsplit(location).query)}
    assert query["x-amz-security-token"] == token
    assert (query.get("awsaccesskeyid") or query["x-amz-credential"].split("/")[0]) == key_id
    assert secret not in location and secret not in download.text
    # The credentials page says so, rather than "kept on the server".
    page = browser.get(f"{app_url}/credentials")
    assert secret not in page.text and token not in page.text
    # Not even its last characters: "never leaves the server" is no part of it either.
    assert secret[-4:] not in page.text
    assert "every presigned link" in page.text


def test_an_upload_form_works_for_five_minutes(browser, app_url, control, aws_control):
    """The README's 300 s: the upload policy S3 enforces (its base64 JSON) expires
    five minutes after the form was given."""
    sign_in(browser, app_url, "google")
    before = datetime.now(UTC)
    grant = browser.post(f"{app_url}/storage/private/upload",
                         json={"name": "later.txt", "type": "text/plain"},
                         headers={"X-CSRFToken": re.search(
                             r'data-csrf="([^"]+)"',
                             browser.get(f"{app_url}/storage/private").text).group(1)})
    policy = json.loads(base64.b64decode(grant.json()["fields"]["policy"]))
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(seconds=295) <= expires - before <= timedelta(seconds=305), policy


def test_presigned_links_are_signed_with_signature_version_4(browser, app_url, control,
                                                             aws_control):
    """S3 takes no Signature Version 2 on buckets made since June 2020 (such as the one
    deploy/ makes), and botocore still presigns with it in us-east-1 unless told."""
    sign_in(browser, app_url, "google")
    _, body, stored = upload(browser, app_url, "private")
    assert stored.status_code in (200, 201, 204)
    fields = {k.lower() for k in body["fields"]}
    assert {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} <= fields
    assert body["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "signature" not in fields and "awsaccesskeyid" not in fields
    download = browser.get(f"{app_url}/storage/private/download", params={"key": body["key"]},
                           allow_redirects=False)
    query = dict(parse_qsl(urlsplit(download.headers["Location"]).query))
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert int(query["X-Amz-Expires"]) == 60 and "Signature" not in query
    assert requests.get(download.headers["Location"], timeout=10).content == CONTENT


def test_a_page_waits_for_aws_a_bounded_time_in_all(browser, app_url, control, aws_control,
                                                     swap_app):
    """An S3 that takes connections and never answers: each try ends at aws.timeout,
    and once the page has waited two of them for AWS no other try starts, however
    many botocore's retries would make; the page says so (504), the stand-in
    counts the tries it was sent."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(hole.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        swap_app(aws={"timeout": 1.0, "s3_endpoint": f"http://127.0.0.1:{hole.getsockname()[1]}"})
        sign_in(browser, app_url, "google")
        assert browser.get(f"{app_url}/credentials").status_code == 200  # AWS state made
        page = browser.get(f"{app_url}/storage/private", timeout=60)
        assert page.status_code == 504 and 'data-error="aws_timeout"' in page.text
        assert "the most it gives AWS, so this try was not sent" in html.unescape(page.text)
        # botocore would try ListObjectsV2 three times; the wait allows two at most
        # (one, when botocore's random backoff before the second runs past it).
        assert 1 <= len(held) <= 2
    finally:
        hole.close()
        for connection in held:
            connection.close()
