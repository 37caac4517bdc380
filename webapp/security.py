"""Security headers on every response: CSP, framing, sniffing, referrers, HSTS, caching.

The Content-Security-Policy is built once per app from the configuration:

- ``connect-src`` adds the S3 origins, because ``static/upload.js`` POSTs the
  file straight to S3 with a presigned POST (the app only signs). With an
  ``s3_endpoint`` (the stand-in, or another S3) that origin; for AWS itself
  the bucket's virtual-hosted origins (regional and global) and the regional
  path-style origin, which is what boto3's presigned POST may name.
- ``img-src`` adds the origins the configured providers serve profile pictures
  from (``Provider.picture_origins``: Google's, Facebook's, Auth0's Gravatar and
  avatar CDN, a stand-in's own origin), so the header can show the visitor's
  picture; nothing else loads from elsewhere.
- ``form-action`` adds every configured provider's origin: our forms only post
  to this site, but sign-out's POST is answered by a redirect to the
  provider's sign-out page, and Chromium checks form-action on the redirect
  targets of a form submission too.

Referrer-Policy is ``no-referrer`` on the callback, whose URL carries the
authorization code and state, and ``strict-origin-when-cross-origin``
elsewhere. Not ``no-referrer`` everywhere: over https Flask-WTF's CSRF check
(``WTF_CSRF_SSL_STRICT``) refuses a POST without a same-origin Referer, and
every other URL of the site is safe to send to itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

from . import aws as aws_service
from . import config, visitor
from .config import AwsSettings, Settings
from .providers import Provider, registry
from .urls import origin_of

#: Blueprints whose pages show tokens, credentials, presigned URLs (which carry
#: the visitor's session token) or the picture of a sign-in: never stored by a
#: browser or a shared cache, whoever asks.
NO_STORE_BLUEPRINTS = ("auth", "account", "credentials", "storage", "picture_page")
CALLBACK_ENDPOINT = "auth.callback"


def init_app(app: Flask) -> None:
    settings = config.settings(app)
    headers = {
        "Content-Security-Policy": content_security_policy(settings,
                                                           registry.providers(app).values()),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    if settings.external_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    fixed = tuple(headers.items())

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # The names the view set, read once: werkzeug's Headers looks a name up
        # by scanning, and these are a page's most frequent headers.
        present = {name.lower() for name, _ in response.headers}
        added = [(name, value) for name, value in fixed if name.lower() not in present]
        endpoint = request.endpoint or ""
        policy = ("no-referrer" if endpoint == CALLBACK_ENDPOINT
                  else "strict-origin-when-cross-origin")
        if "referrer-policy" in present:
            response.headers["Referrer-Policy"] = policy
        else:
            added.append(("Referrer-Policy", policy))
        if shows_visitor_data(endpoint):
            if "cache-control" in present or "expires" in present:
                response.headers["Cache-Control"] = "no-store"
                response.headers.pop("Expires", None)
            else:
                added.append(("Cache-Control", "no-store"))
        response.headers.extend(added)
        return response


def shows_visitor_data(endpoint: str) -> bool:
    """Whether this response may show something of the visitor, so no browser or
    shared cache may keep it: the token pages always, and every page but a static
    file once the session holds someone (the header on every page, error pages
    included, shows the signed-in person's name and picture, or that they are a
    guest). Static files show no one and stay cacheable; a signed-out visitor's
    home page is the same for everyone."""
    if endpoint == "static" or endpoint.endswith(".static"):
        return False
    if endpoint.split(".", 1)[0] in NO_STORE_BLUEPRINTS:
        return True
    return visitor.standing() != "signed_out"


def content_security_policy(settings: Settings, providers: Iterable[Provider]) -> str:
    providers = list(providers)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *picture_origins(providers)],
        "connect-src": ["'self'", *s3_origins(settings.aws)],
        "form-action": ["'self'", *provider_origins(providers)],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def s3_origins(aws: AwsSettings) -> list[str]:
    """Where the browser sends an upload, and nowhere else: the presigned POST's URL
    as botocore makes it (:func:`webapp.aws.upload_url`). The bucket's own host is
    its origin; a path-style URL (a bucket name with dots) shares S3's host with
    every bucket, so the source is that URL whole, which CSP matches exactly, and
    an injected script cannot post to another bucket there. A lab's endpoint
    (``aws.s3_endpoint``) is the stand-in's origin, which holds only the lab's."""
    if not aws.identity_pool_id or not aws.bucket:
        return []
    if aws.s3_endpoint:
        return [origin_of(aws.s3_endpoint)]
    url = urlsplit(aws_service.upload_url(aws))
    origin = f"{url.scheme}://{url.netloc}"
    if url.path not in ("", "/"):
        return [origin + url.path]
    # S3 may answer a new bucket's global name with a 307 to its regional one for a
    # day; connect-src checks where a redirect goes too. Both are the bucket's own.
    regional = f"https://{aws.bucket}.s3.{aws.region}.amazonaws.com"
    return [origin] if regional == origin else [origin, regional]


def picture_origins(providers: Iterable[Provider]) -> list[str]:
    """Where the configured providers' profile pictures come from, each once."""
    found: list[str] = []
    for provider in providers:
        found += [o for o in provider.picture_origins() if o not in found]
    return found


def provider_origins(providers: Any) -> list[str]:
    """Origins of the providers' sign-in and sign-out endpoints, each once, in order:
    each kind says which are its own (``Provider.form_action_origins``)."""
    found: list[str] = []
    for provider in providers:
        found += [o for o in provider.form_action_origins() if o not in found]
    return found

