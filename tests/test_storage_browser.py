"""The storage pages in Chromium: the tabs and next steps of signed-out visitors and
guests, the browser's own size and type check, an upload S3 refuses shown failed, and
delete after a confirmation; each page checked by axe-core at two widths."""

from __future__ import annotations

import re

from webapp.config import settings

from . import test_browser
from .page_checks import inspect_page
from .test_browser import (
    click_through_provider,
    delete_by_clicking,
    sign_in_by_clicking,
    upload_by_clicking,
)

#: test_browser's fixtures: Debian's Chromium, one per module, and a fresh page per test.
chromium, page = test_browser.chromium, test_browser.page


def tab(page, label: str):
    return page.get_by_role("navigation", name="Storage levels").get_by_role(
        "link", name=re.compile(rf"^{label}\b"))


def test_signed_out_sign_in_from_the_private_tab_upload_and_delete(page, app_url, control,
                                                                   aws_control, tmp_path):
    page.goto(f"{app_url}/storage/private")
    assert page.get_by_role("heading", level=1).inner_text() == "Private files"
    assert page.get_by_role("heading", name="Sign in to use your private files").is_visible()
    assert tab(page, "Private").get_attribute("aria-current") == "page"
    assert "sign in first" in tab(page, "Protected").inner_text()
    inspect_page(page, "storage-flow-private-signed-out")
    click_through_provider(page, page.locator("[data-offer]").get_by_role(
                               "link", name="Sign in with Google", exact=True),
                           f"{app_url}/storage/private")
    assert page.get_by_role("heading", level=1).inner_text() == "Your private files"
    assert tab(page, "Protected").get_attribute("class") is None
    sample = tmp_path / "trip-plan.txt"
    sample.write_bytes(b"a plan\n")
    upload_by_clicking(page, app_url, "private", sample)
    inspect_page(page, "storage-flow-private")
    # Delete only opens the confirmation: the file is still there until it is confirmed.
    page.locator("summary", has_text="Delete trip-plan.txt").click()
    confirm = page.get_by_role("button", name="Yes, delete trip-plan.txt", exact=True)
    assert confirm.is_visible()
    assert page.get_by_role("link", name="trip-plan.txt").count() == 1
    inspect_page(page, "storage-flow-delete-confirm")
    page.locator("summary", has_text="Delete trip-plan.txt").click()  # closed again
    delete_by_clicking(page, "trip-plan.txt")
    assert page.get_by_role("link", name="trip-plan.txt").count() == 0


def test_a_guest_is_guided_from_the_tabs_it_cannot_use(page, app_url, aws_control):
    page.goto(f"{app_url}/storage/public")
    assert page.get_by_role("heading", level=1).inner_text() == "Public files"
    inspect_page(page, "storage-flow-public-signed-out")
    with page.expect_navigation():
        page.get_by_role("button", name="Continue as guest").click()
    assert page.url == f"{app_url}/storage/public"
    assert page.get_by_role("link", name="welcome.txt").is_visible()
    assert page.locator("#upload-form").count() == 0
    assert page.locator("details.confirm-delete").count() == 0
    inspect_page(page, "storage-flow-public-guest")
    for level in ("Protected", "Private"):
        assert "sign in first" in tab(page, level).inner_text()
        tab(page, level).click()
        page.get_by_role("heading", name=f"Sign in to use your {level.lower()} files").wait_for()
        assert page.locator("[data-error]").count() == 0
        inspect_page(page, f"storage-flow-{level.lower()}-guest")


def test_too_large_or_wrong_type_is_stopped_before_any_request(page, app, app_url, control,
                                                               aws_control):
    limit = settings(app).aws.max_upload_bytes
    sign_in_by_clicking(page, app_url, "Sign in with Google")
    page.goto(f"{app_url}/storage/private")
    assert page.locator("input[type=file]").get_attribute("accept") == ",".join(
        settings(app).aws.upload_content_types)
    aws_control("s3", "DELETE", "calls")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url}"))
    alert = page.get_by_role("alert")
    for upload, words in [
            ({"name": "huge.txt", "mimeType": "text/plain", "buffer": b"x" * (limit + 1)},
             "files may be at most 1 MB"),
            ({"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"},
             "is of type application/x-msdownload; accepted: text/plain")]:
        page.set_input_files("input[type=file]", files=[upload])
        page.get_by_role("button", name="Upload", exact=True).click()
        alert.filter(has_text=words).wait_for()
        assert "Nothing was sent" in alert.inner_text()
        assert page.locator("#upload-form").get_attribute("data-state") == "failed"
        assert page.locator("#upload-progress").is_hidden()
    assert sent == []  # neither the site nor S3 was asked anything
    assert aws_control("s3", "GET", "calls") == {}
    inspect_page(page, "storage-flow-upload-refused-in-browser")


def assert_shown_failed(page, words: str) -> None:
    page.get_by_role("alert").filter(has_text=words).wait_for()
    bar = page.locator("#upload-progress")
    assert bar.is_visible() and "failed" in bar.get_attribute("class").split()
    assert "done" not in bar.get_attribute("class").split()
    assert bar.get_attribute("aria-valuetext") == "Upload failed"
    assert page.locator("#upload-form").get_attribute("data-state") == "failed"
    assert page.locator("#upload-status").inner_text() == ""


def test_an_upload_s3_refuses_is_shown_failed(page, app_url, control, aws_control, tmp_path):
    """A file the browser's check passes, which S3 refuses: alice (Cognito, fedlab-admins)
    opens her private files, then in another tab chooses the read-only fedlab-readers
    role; the upload form is signed with the new role's credentials, and S3 says no."""
    sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
    page.goto(f"{app_url}/storage/private")
    other = page.context.new_page()
    other.goto(f"{app_url}/credentials")
    with other.expect_navigation():
        other.get_by_role("button", name="Use fedlab-readers").click()
    assert other.locator(".role-given").inner_text() == "fedlab-readers"
    other.close()
    sample = tmp_path / "report.txt"
    sample.write_bytes(b"passes the browser's check\n")
    page.set_input_files("input[type=file]", str(sample))
    page.get_by_role("button", name="Upload", exact=True).click()
    assert_shown_failed(page, "S3 refused the upload: AccessDenied")
    inspect_page(page, "storage-flow-upload-failed")


def test_an_upload_to_an_s3_that_is_down_is_shown_failed(page, app_url, control, aws_control,
                                                         tmp_path):
    sign_in_by_clicking(page, app_url, "Sign in with Google")
    page.goto(f"{app_url}/storage/private")
    aws_control("s3", "POST", "faults", fault="down")  # after the listing: the upload fails
    sample = tmp_path / "report.txt"
    sample.write_bytes(b"passes the browser's check\n")
    page.set_input_files("input[type=file]", str(sample))
    page.get_by_role("button", name="Upload", exact=True).click()
    # The progress listener makes the POST preflighted: S3's 503 to the preflight
    # leaves the browser with no answer it may read.
    assert_shown_failed(page, "Upload failed: S3 could not be reached.")


def test_bob_on_alices_protected_files_is_offered_nothing_he_cannot_do(chromium, page,
                                                                       app_url, control,
                                                                       aws_control, tmp_path):
    """alice shares a file; bob (Facebook: the plain authenticated role) opens her
    protected files by identity id: he may download it, and is offered no Delete and
    no Upload (his role writes only under his own identity id)."""
    sign_in_by_clicking(page, app_url, "Sign in with Amazon Cognito")
    shared = tmp_path / "for-bob.txt"
    shared.write_bytes(b"shared\n")
    upload_by_clicking(page, app_url, "protected", shared)
    alice = page.locator(".identity-id").inner_text()
    bobs = chromium.new_context()
    try:
        bob = bobs.new_page()
        bob.set_default_timeout(15000)
        sign_in_by_clicking(bob, app_url, "Sign in with Facebook", user="bob")
        bob.goto(f"{app_url}/storage/protected")
        assert bob.locator("#upload-form").count() == 1  # his own: he may upload there
        bob.get_by_label("Browse another identity's protected files").fill(alice)
        with bob.expect_navigation():
            bob.get_by_role("button", name="Browse").click()
        assert bob.get_by_role("heading", level=1).inner_text() == (
            "Another identity's protected files")
        assert bob.get_by_role("link", name="for-bob.txt").is_visible()
        assert bob.locator("details.confirm-delete").count() == 0
        assert bob.get_by_role("columnheader", name="Actions").count() == 0
        assert bob.locator("#upload-form").count() == 0
        assert "may not upload here or delete these files" in bob.locator(
            "[data-read-only]").inner_text()
        inspect_page(bob, "storage-flow-protected-others")
    finally:
        bobs.close()
