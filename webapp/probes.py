"""Live probes: send what a sign-in would send, without a user, and read the answer.

Each probe returns a :class:`Verdict` with the evidence (status, the
provider's own words, the values compared) and, for a failure, the catalogue
entry that explains it. Probes run in parallel with short timeouts, so a check
of every provider takes seconds; the diagnostics page and ``fedlab check``
both call :func:`run_probes`.

Besides each provider's, the identity pool's own settings are checked, under
the name :data:`POOL` (:func:`probe_pool_settings`, :func:`probe_role_trust`):
they are read with the site's own AWS identity (:mod:`webapp.site_aws`), as
only a developer of the pool may read them; without one, those checks say they
could not run, which is no verdict on the pool.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import requests
from flask import Flask, current_app

from . import aws, policies, roles, site_aws
from .config import AwsSettings, Settings
from .errors import FedlabError
from .oauth import client_for
from .pagewords import page_words
from .providers import Provider
from .providers.base import RoleMappingType
from .tokens import LEEWAY

log = logging.getLogger(__name__)
#: Clock differences above this are worth a warning, above LEEWAY a failure.
CLOCK_WARN = 10
PROBE_LOGIN = "fedlab-probe-not-a-token"
#: Identity Pool answers that mean the pool, not the made-up token, is the problem.
POOL_FAILURES = ("identity_provider_not_configured", "identity_pool_not_found",
                 "identity_pool_roles_invalid")
#: Failures that mean the pool never answered the question: they say nothing about
#: whether it takes the provider.
POOL_UNASKED = ("aws_timeout", "aws_unreachable", "aws_throttled", "aws_error")
#: The verdicts' ``provider`` for the identity pool's own settings and roles.
POOL = "identity-pool"
#: The checks of the pool's settings and roles (the ones that need the site's identity).
POOL_CHECKS = ("developer_provider", "classic_flow", "role_trust")
#: AWS's codes for a caller its IAM policies do not allow (Cognito Identity's, IAM's).
NOT_PERMITTED = ("AccessDeniedException", "AccessDenied")
#: The trust policy's condition keys Cognito Identity sets (see policies.trust_policy).
AUD = "cognito-identity.amazonaws.com:aud"
AMR = "cognito-identity.amazonaws.com:amr"


@dataclass(frozen=True)
class Verdict:
    provider: str
    probe: str
    status: str  # pass | fail | warn | skip
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: Values for the catalogue entry's words ({expected}, {got}...) that are not
    #: evidence of their own; the diagnostics page fills the explanation with both.
    words: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_probes(settings: Settings, providers: Mapping[str, Provider],
               callback_urls: dict[str, str], sign_out_url: str,
               timeout: float = 3.0,
               logins: dict[str, dict[str, str]] | None = None,
               backchannel_urls: Mapping[str, str | None] | None = None) -> list[Verdict]:
    """Every probe for every provider, and the identity pool's, in parallel.

    ``logins`` maps a provider name to a real sign-in's ``Logins`` map (the
    diagnostics page passes the operator's own): with it the identity-pool
    probe also shows whether the pool lists this client id. ``backchannel_urls``
    maps a provider whose kind sends logout tokens to this site's back-channel
    logout URL (the matrix's), which :func:`probe_backchannel_logout` tries.
    """
    app = current_app._get_current_object()
    jobs: list[Job] = [
        Job(provider.name, probe_provider, (provider, callback_urls[provider.name],
                                            sign_out_url, timeout,
                                            (backchannel_urls or {}).get(provider.name)))
        for provider in providers.values()
    ]
    if settings.aws.identity_pool_id:
        # Its own client: the probe's timeout and one attempt, not the app's retries.
        identity = aws.identity_client(settings.aws, timeout=timeout, attempts=1)
        jobs += [Job(provider.name, probe_identity_pool, (provider, settings.aws, identity,
                                                          (logins or {}).get(provider.name)))
                 for provider in providers.values()]
        jobs += [Job(POOL, probe_pool_settings, (settings.aws, timeout)),
                 Job(POOL, probe_role_trust, (settings.aws, timeout))]
    with ThreadPoolExecutor(max_workers=min(8, len(jobs) or 1)) as pool:
        results = list(pool.map(lambda job: job.run(app), jobs))
    return [verdict for verdicts in results for verdict in verdicts]


@dataclass(frozen=True)
class Job:
    """One probe function's run for ``provider`` (a provider's name, or the pool's)."""

    provider: str
    function: Callable[..., list[Verdict]]
    args: tuple[Any, ...]

    def run(self, app: Flask) -> list[Verdict]:
        """The probes' verdicts. Each probe of a provider is :func:`guarded` on its own;
        should the rest stop on an error (discovery's reading, the pool's), one failing
        verdict says so, and every other job's verdicts stand: one odd answer never
        costs the whole report."""
        with app.app_context():
            try:
                return self.function(*self.args)
            except Exception as e:
                return [own_error(self.provider, self.function.__name__.removeprefix("probe_"),
                                  e)]


def probe_provider(provider: Provider, callback_url: str, sign_out_url: str,
                   timeout: float, backchannel_url: str | None = None) -> list[Verdict]:
    http = requests.Session()
    verdicts: list[Verdict] = []
    metadata: dict[str, Any] | None = dict(provider.endpoints)
    if provider.issuer is not None:
        metadata = probe_discovery(provider, http, timeout, verdicts)
    if metadata is None:
        skipped = ("callback", "sign_out", "client_secret")
        if backchannel_url:
            skipped += ("backchannel_logout",)
        verdicts += [Verdict(provider.name, p, "skip", "Skipped: discovery failed.")
                     for p in skipped]
        return verdicts
    name = provider.name
    verdicts.append(guarded(name, "callback", lambda: probe_callback(
        provider, metadata, callback_url, http, timeout)))
    verdicts.append(guarded(name, "sign_out", lambda: probe_sign_out(
        provider, metadata, sign_out_url, http, timeout)))
    verdicts.append(guarded(name, "client_secret", lambda: probe_client_secret(
        provider, callback_url, timeout)))
    if backchannel_url:
        verdicts.append(guarded(name, "backchannel_logout", lambda: probe_backchannel_logout(
            provider, metadata, backchannel_url, http, timeout)))
    return verdicts


def guarded(provider: str, probe: str, run: Callable[[], Verdict]) -> Verdict:
    """``run``'s verdict; should the probe stop on an error of its own (an answer no
    probe foresaw), a failing verdict under its name that says so, the error in the
    log: the provider's other probes still run and their verdicts stand."""
    try:
        return run()
    except Exception as e:
        return own_error(provider, probe, e)


def own_error(provider: str, probe: str, error: Exception) -> Verdict:
    """The verdict of a probe that stopped on ``error`` (being handled): logged with
    its traceback for the operator, its type alone on the page."""
    log.exception("probe %s of %s stopped on an error", probe, provider)
    return Verdict(provider, probe, "fail", f"This check stopped on an error of its own "
                   f"({type(error).__name__}); the other checks ran. The site's log has the "
                   f"details.", {"error": type(error).__name__})


def probe_discovery(provider: Provider, http: requests.Session, timeout: float,
                    verdicts: list[Verdict]) -> dict[str, Any] | None:
    """Discovery, its issuer, the keys it points at, and the provider's clock."""
    name, url = provider.name, provider.discovery_url or ""
    try:
        response = http.get(url, timeout=timeout)
        document = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as e:
        verdicts.append(unreachable(name, "discovery", url, e, timeout))
        return None
    if not isinstance(document, dict):
        verdicts.append(Verdict(name, "discovery", "fail",
                                f"Discovery answered HTTP {response.status_code}.",
                                {"url": url, "status": response.status_code,
                                 "endpoint": "discovery",
                                 "detail": f"HTTP {response.status_code}",
                                 "provider_says": page_words(response)},
                                "provider_bad_response"))
        return None
    evidence = {"url": url, "status": 200, "expected_issuer": provider.issuer,
                "issuer": document.get("issuer")}
    if document.get("issuer") != provider.issuer:
        verdicts.append(Verdict(name, "discovery", "fail",
                                "Discovery names another issuer than the one configured.",
                                evidence, "discovery_issuer_mismatch",
                                {"expected": provider.issuer, "got": document.get("issuer")}))
        return None
    verdicts.append(Verdict(name, "discovery", "pass", "Discovery is reachable and its "
                            "issuer is exactly the configured one.", evidence))
    verdicts.append(guarded(name, "clock", lambda: probe_clock(name, response)))
    verdicts.append(guarded(name, "keys", lambda: probe_keys(
        name, document.get("jwks_uri"), http, timeout)))
    return {**document, **provider.endpoints}


def probe_keys(name: str, uri: str | None, http: requests.Session, timeout: float) -> Verdict:
    if not uri:
        return Verdict(name, "keys", "fail", "Discovery has no jwks_uri.", {},
                       "discovery_invalid", {"detail": "Discovery has no jwks_uri"})
    try:
        response = http.get(uri, timeout=timeout)
        keys = response.json().get("keys") if response.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError) as e:
        return unreachable(name, "keys", uri, e, timeout)
    if not isinstance(keys, list) or not keys:
        return Verdict(name, "keys", "fail", "The key set is empty or unreadable.",
                       {"url": uri, "status": response.status_code, "endpoint": "jwks_uri",
                        "detail": "an empty or unreadable key set"}, "provider_bad_response")
    algorithms = sorted({k.get("alg") or k.get("kty", "?") for k in keys if isinstance(k, dict)})
    return Verdict(name, "keys", "pass", f"{len(keys)} signing key(s): "
                   f"{', '.join(algorithms)}.", {"url": uri, "count": len(keys),
                                                 "algorithms": algorithms})


def probe_clock(name: str, response: requests.Response) -> Verdict:
    """Id tokens carry iat and exp: a clock off by more than the leeway rejects them."""
    date = response.headers.get("Date")
    if not date:
        return Verdict(name, "clock", "skip", "The provider sent no Date header.")
    try:
        sent = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return Verdict(name, "clock", "skip", "The provider's Date header is not an HTTP "
                       "date, so its clock cannot be compared with ours.",
                       {"provider_date": date[:100]})
    if sent.tzinfo is None:  # "-0000": UTC, said without a zone (RFC 5322 3.3)
        sent = sent.replace(tzinfo=UTC)
    difference = round(sent.timestamp() - time.time())
    evidence = {"provider_date": date, "difference_seconds": difference, "leeway": LEEWAY}
    if abs(difference) > LEEWAY:
        return Verdict(name, "clock", "fail", f"The provider's clock is {difference:+d} s off "
                       f"ours, beyond the {LEEWAY} s leeway: its tokens will be refused.",
                       evidence, "id_token_rejected",
                       {"check": "iat/exp", "expected": f"clocks within {LEEWAY} s",
                        "got": f"{difference:+d} s"})
    status = "warn" if abs(difference) > CLOCK_WARN else "pass"
    return Verdict(name, "clock", status, f"Clocks differ by {difference:+d} s.", evidence)


def probe_callback(provider: Provider, metadata: dict[str, Any], callback_url: str,
                   http: requests.Session, timeout: float) -> Verdict:
    """An authorization request as sign-in sends it; the answer shows if the URL is registered."""
    endpoint = metadata.get("authorization_endpoint", "")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {"response_type": "code", "client_id": provider.client_id,
              "redirect_uri": callback_url, "scope": provider.scope,
              "state": "fedlab-probe", "nonce": secrets.token_urlsafe(16),
              "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
              **provider.authorize_params}
    url = endpoint + "?" + urlencode(params)
    try:
        response = http.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as e:
        return unreachable(provider.name, "callback", endpoint, e, timeout)
    evidence = {"callback_url": callback_url, "status": response.status_code,
                "location": response.headers.get("Location", "")[:300]}
    if response.status_code >= 500:
        # A provider refuses a callback URL with a 4xx page or a redirect; a 5xx is an
        # outage and says nothing about the registration.
        return Verdict(provider.name, "callback", "fail", f"The authorization endpoint "
                       f"answered HTTP {response.status_code}: the provider is not working.",
                       {**evidence, "endpoint": "authorization",
                        "detail": f"HTTP {response.status_code}",
                        "provider_says": page_words(response)}, "provider_bad_response")
    refusal = provider.callback_refusal(response, callback_url)
    if refusal is not None:
        return Verdict(provider.name, "callback", "fail", "The provider refuses this callback "
                       "URL: it is not registered for this client.",
                       {**evidence, "provider_says": refusal}, "redirect_mismatch")
    return Verdict(provider.name, "callback", "pass", "The provider accepts this callback URL "
                   "(it shows its sign-in page).", evidence)


def probe_sign_out(provider: Provider, metadata: dict[str, Any], sign_out_url: str,
                   http: requests.Session, timeout: float) -> Verdict:
    """Where the provider has a sign-out redirect, is the return URL allowed?

    A redirect back to our sign-out URL says yes at once: one request. A 200 page
    with a form that posts may be the confirmation RP-Initiated Logout 1.0 lets a
    provider show (oidc-provider, Keycloak), but a provider may as well answer an
    unregistered return URL with a sign-in page or an error page that has a form.
    So that page passes only when a second request, with a return URL on the same
    origin that nobody registered (ours plus a random path segment), is treated
    differently: refused (4xx), sent elsewhere than to it, or answered without the
    same forms (compared by the origin and path they post to, as the query may
    carry the return URL). A redirect to the unregistered one fails (nothing is
    checked); the same page for both, or an answer that refuses the asker rather
    than the URL (401, 403, 429), is a warning: it cannot tell.
    """
    response = _fetch_sign_out(provider, sign_out_url, http, timeout)
    if isinstance(response, Verdict):
        return response
    location = response.headers.get("Location", "")
    evidence = {"sign_out_url": sign_out_url, "status": response.status_code,
                "location": location[:300]}
    if response.is_redirect and location.startswith(sign_out_url):
        return Verdict(provider.name, "sign_out", "pass", "The provider accepts this sign-out "
                       "return URL.", evidence)
    forms = post_forms(response)
    if not forms:
        return Verdict(provider.name, "sign_out", "fail", "The provider refuses this sign-out "
                       "return URL: it is not an allowed sign-out/logout URL.",
                       {**evidence, "provider_says": page_words(response)}, "signout_mismatch")
    return probe_unregistered_sign_out(provider, response, forms, evidence, http, timeout)


def probe_unregistered_sign_out(provider: Provider, ours: requests.Response,
                                forms: frozenset[str], evidence: dict[str, Any],
                                http: requests.Session, timeout: float) -> Verdict:
    """Our return URL got a page with a form: does an unregistered one get it too?"""
    unregistered = unregistered_url(evidence["sign_out_url"])
    response = _fetch_sign_out(provider, unregistered, http, timeout)
    if isinstance(response, Verdict):
        return response
    location = response.headers.get("Location", "")
    status = response.status_code
    evidence = {**evidence, "unregistered_url": unregistered, "unregistered_status": status,
                "unregistered_location": location[:300]}
    if status >= 500:
        # An outage says nothing about which return URLs are registered.
        return Verdict(provider.name, "sign_out", "fail", f"The end-session endpoint "
                       f"answered HTTP {status} for an unregistered return URL: the provider "
                       "is not working.", {**evidence, "endpoint": "end_session",
                                           "detail": f"HTTP {status}",
                                           "provider_says": page_words(response)},
                       "provider_bad_response")
    if 400 < status < 500:
        # Not the invalid_request a provider answers a bad return URL with, but a
        # refusal of the asker (401, 403) or of the pace (429): it tells nothing.
        return Verdict(provider.name, "sign_out", "warn", f"The end-session endpoint answered "
                       f"HTTP {status} for an unregistered return URL, which says nothing about "
                       "the URLs it allows: whether this sign-out URL is allowed is not known. "
                       "Try the sign-out in a browser.",
                       {**evidence, "provider_says": page_words(response)})
    if status == 400:
        refused = True
    elif response.is_redirect:
        refused = not location.startswith(unregistered)
    else:
        refused = post_forms(response) != forms
    if refused:
        return Verdict(provider.name, "sign_out", "pass", "The provider accepts this sign-out "
                       "return URL: it asks the visitor to confirm the sign-out first, and "
                       f"answers an unregistered return URL otherwise (HTTP {status}).",
                       evidence)
    if response.is_redirect:  # it goes anywhere it is told: nothing is checked
        same = f"a redirect to it (HTTP {status})"
        return Verdict(provider.name, "sign_out", "fail", "The provider answers an "
                       f"unregistered return URL with {same}: it does not check sign-out "
                       "return URLs, or its page for ours is not a confirmation.",
                       {**evidence, "same_answer": same, "provider_says": page_words(ours)},
                       "signout_mismatch")
    # The same page for both: ours may be unregistered (a sign-in page for any URL),
    # or both allowed (a wildcard registration such as Keycloak's https://site/*).
    same = f"the same page (HTTP {status}, a form posting to {', '.join(sorted(forms))})"
    return Verdict(provider.name, "sign_out", "warn", "The provider answers an unregistered "
                   f"return URL with {same}: either both are allowed (a wildcard "
                   "registration) or neither is, so whether this sign-out URL is allowed is "
                   "not known. Try the sign-out in a browser.",
                   {**evidence, "same_answer": same, "provider_says": page_words(ours)})


def _fetch_sign_out(provider: Provider, return_to: str, http: requests.Session,
                    timeout: float) -> requests.Response | Verdict:
    """The provider's first answer to its sign-out URL for this return URL.

    Redirects are not followed: where the provider sends the browser is the
    answer. A Verdict instead when there is nothing to ask (no sign-out redirect),
    the URL cannot be built, or nothing answers.
    """
    try:
        plan = provider.sign_out(client_for(provider), None, return_to)
    except FedlabError as e:
        return Verdict(provider.name, "sign_out", "fail", "Could not build the sign-out URL.",
                       dict(e.details), e.code)
    if plan.url is None:
        return Verdict(provider.name, "sign_out", "skip", f"{provider.display_name} has no "
                       f"sign-out redirect: signing out ends the session here only.")
    try:
        return http.get(plan.url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as e:
        return unreachable(provider.name, "sign_out", plan.url, e, timeout)


def unregistered_url(sign_out_url: str) -> str:
    """Our sign-out URL plus a random path segment: same origin, surely not registered."""
    parts = urlsplit(sign_out_url)
    path = f"{parts.path.rstrip('/')}/fedlab-probe-unregistered-{secrets.token_hex(4)}"
    return urlunsplit(parts._replace(path=path))


def post_forms(response: requests.Response) -> frozenset[str]:
    """Where the forms that post on a 200 HTML page go: origin and path, no query.

    The query is left out because a provider may carry the return URL in it; two
    pages posting to the same places are the same page for another return URL.
    """
    if response.status_code != 200 or "html" not in response.headers.get("Content-Type", ""):
        return frozenset()
    finder = _PostForms()
    finder.feed(response.text)
    targets = (urlsplit(urljoin(response.url, action)) for action in finder.actions)
    return frozenset(f"{t.scheme}://{t.netloc}{t.path}" for t in targets)


class _PostForms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "").lower() == "post":
            self.actions.append(values.get("action") or "")


def probe_backchannel_logout(provider: Provider, metadata: Mapping[str, Any], url: str,
                             http: requests.Session, timeout: float) -> Verdict:
    """Can the provider deliver logout tokens, and does it say it sends them?

    This site's back-channel logout URL is posted a malformed logout token over
    the site's external URL, as the provider's servers would reach it: it must
    answer 400 with a JSON ``invalid_request`` (OpenID Connect Back-Channel Logout
    1.0, 2.8), or the provider's tokens would never end a session here. Then the
    provider's discovery must say ``backchannel_logout_supported``; where it does
    not, it is a warning: the provider may still send them (a console switch)
    but does not promise to.
    """
    try:
        response = http.post(url, data={"logout_token": PROBE_LOGIN}, timeout=timeout,
                             allow_redirects=False)
    except requests.RequestException as e:
        return Verdict(provider.name, "backchannel_logout", "fail", "The back-channel logout "
                       f"URL could not be reached ({type(e).__name__}).",
                       {"url": url, "error": type(e).__name__},
                       "backchannel_logout_unreachable",
                       {"detail": f"no answer ({type(e).__name__})"})
    try:
        error = response.json().get("error") if response.status_code == 400 else None
    except (ValueError, AttributeError):
        error = None
    evidence = {"url": url, "status": response.status_code,
                "content_type": response.headers.get("Content-Type", ""),
                "backchannel_logout_supported": metadata.get("backchannel_logout_supported")}
    if error != "invalid_request":
        return Verdict(provider.name, "backchannel_logout", "fail", "The back-channel logout "
                       "URL does not answer as the specification says.",
                       {**evidence, "provider_says": page_words(response)},
                       "backchannel_logout_unreachable",
                       {"detail": f"HTTP {response.status_code}"})
    if not provider.backchannel_logout_supported(metadata):
        return Verdict(provider.name, "backchannel_logout", "warn", "This site's back-channel "
                       "logout URL answers, but the provider's discovery does not say it sends "
                       "logout tokens (backchannel_logout_supported): signing out there may "
                       "leave the session here alive until it times out.", evidence)
    return Verdict(provider.name, "backchannel_logout", "pass", "The back-channel logout URL "
                   "answers a malformed logout token with 400, and the provider says it sends "
                   "logout tokens.", evidence)


def probe_client_secret(provider: Provider, callback_url: str, timeout: float) -> Verdict:
    """A token request with a made-up code: invalid_client means the secret is wrong,
    invalid_grant means it was accepted and only the code is bad. It waits the
    probe's ``timeout``, not the sign-in's."""
    client = client_for(provider)
    try:
        client.exchange_code(PROBE_LOGIN, callback_url, secrets.token_urlsafe(48),
                             timeout=timeout)
    except FedlabError as e:
        verdict = provider.token_error_kind(e.details.get("error"),
                                           e.details.get("description", ""))
        evidence = {"error": e.details.get("error"), "provider_says":
                    e.details.get("description") or e.describe()}
        words = {"description": evidence["provider_says"]}
        if e.code == "token_request_failed" and verdict == "invalid_grant":
            return Verdict(provider.name, "client_secret", "pass", "The client secret is "
                           "accepted (the made-up code was refused, as it should be).",
                           evidence)
        if e.code == "token_request_failed" and verdict == "invalid_client":
            return Verdict(provider.name, "client_secret", "fail", "The client secret or "
                           "authentication method is refused.", evidence,
                           "token_request_failed", words)
        return Verdict(provider.name, "client_secret", "fail", "The token endpoint did not "
                       "answer as expected.", {**evidence, **e.details}, e.code, words)
    return Verdict(provider.name, "client_secret", "warn", "The token endpoint accepted a "
                   "made-up code.")


def probe_identity_pool(provider: Provider, settings: AwsSettings, identity: Any,
                        logins: dict[str, str] | None) -> list[Verdict]:
    """The pool answers, and knows the provider's Logins key (AWS tells, even for a
    bad token, whether the provider is configured on the pool).

    ``identity`` is the probes' own Cognito Identity client (the probe timeout, one
    attempt). ``logins`` is a real sign-in's map for this provider, if any.
    """
    key = provider.logins_key
    evidence: dict[str, Any] = {"logins_key": key,
                                "identity_pool_id": settings.identity_pool_id}
    if logins:
        return [probe_pool_with_token(provider.name, logins, evidence, identity)]
    try:
        aws.get_id({key: PROBE_LOGIN}, identity)
    except FedlabError as e:
        evidence["aws_says"] = e.details.get("aws_message") or e.describe()
        if e.code in POOL_UNASKED:
            return [Verdict(provider.name, "identity_pool", "fail", "Could not ask the "
                            f"identity pool whether it takes {key}: "
                            f"{e.describe().rstrip('.')}.", evidence, e.code,
                            dict(e.details))]
        if e.code == "identity_pool_not_found":
            return [Verdict(provider.name, "identity_pool", "fail", "There is no identity "
                            f"pool {settings.identity_pool_id} in {settings.region}.",
                            evidence, e.code, dict(e.details))]
        if e.code in POOL_FAILURES:
            return [Verdict(provider.name, "identity_pool", "fail",
                            f"The identity pool does not take {key}.", evidence, e.code,
                            dict(e.details))]
        # It refused the made-up token itself: the provider is configured.
        return [Verdict(provider.name, "identity_pool", "pass", f"The pool has {key} as a "
                        "provider (it refused only the made-up token); whether it lists "
                        "this client id shows with a real sign-in's token.", evidence)]
    return [Verdict(provider.name, "identity_pool", "warn",
                    "The pool accepted a made-up token.", evidence)]


def probe_pool_with_token(name: str, logins: dict[str, str], evidence: dict[str, Any],
                          identity: Any) -> Verdict:
    """With a real token, GetId succeeds only if the pool lists this client id (aud)."""
    try:
        identity_id = aws.get_id(logins, identity)
    except FedlabError as e:
        evidence["aws_says"] = e.details.get("aws_message") or e.describe()
        if e.code in POOL_UNASKED:
            return Verdict(name, "identity_pool", "fail", "Could not ask the identity pool "
                           f"about this sign-in's token: {e.describe().rstrip('.')}.",
                           evidence, e.code, dict(e.details))
        return Verdict(name, "identity_pool", "fail", "The identity pool refused this "
                       "sign-in's token.", evidence, e.code, dict(e.details))
    return Verdict(name, "identity_pool", "pass", "The identity pool accepted this sign-in's "
                   "token: the provider and this client id are configured on it.",
                   {**evidence, "identity_id": identity_id})


# -- the pool's own settings, read with the site's own AWS identity ------------------------


def probe_pool_settings(settings: AwsSettings, timeout: float) -> list[Verdict]:
    """``DescribeIdentityPool``: does the pool know the site's developer provider
    name, and allow the basic flow if the site offers it? Where it does, its role
    mappings (``GetIdentityPoolRoles``) say whether AWS refuses that flow all the same."""
    checks = ("developer_provider", "classic_flow")
    identity = _site_client("cognito-identity", timeout)
    if isinstance(identity, Verdict):
        return [_copy(identity, probe) for probe in checks]
    try:
        with aws.errors_explained("DescribeIdentityPool", timeout):
            pool = identity.describe_identity_pool(IdentityPoolId=settings.identity_pool_id)
    except FedlabError as e:
        refused = not_asked(settings, "developer_provider", e)
        return [_copy(refused, probe) for probe in checks]
    mapped: tuple[str, ...] = ()
    if settings.classic_flow and pool.get("AllowClassicFlow"):
        try:
            mapped = tuple(sorted(roles.fetch(identity, timeout).role_mappings))
        except FedlabError as e:
            return [check_developer_provider(settings, pool),
                    not_asked(settings, "classic_flow", e)]
    return [check_developer_provider(settings, pool),
            check_classic_flow(settings, pool, mapped)]


def check_developer_provider(settings: AwsSettings, pool: Mapping[str, Any]) -> Verdict:
    """The site's developer-authenticated identities name the pool's developer provider:
    a name the pool does not know makes every one of them refused."""
    site, theirs = settings.developer_provider_name, pool.get("DeveloperProviderName") or ""
    evidence = {"identity_pool_id": settings.identity_pool_id,
                "developer_provider_name": site or None,
                "pool_developer_provider_name": theirs or None}
    if not site:
        told = (f"the pool's is {theirs}, which the site does not use" if theirs
                else "the pool has none either")
        return Verdict(POOL, "developer_provider", "skip", "The site is no developer provider "
                       f"of the pool (aws.developer_provider_name is empty); {told}.", evidence)
    if site == theirs:
        return Verdict(POOL, "developer_provider", "pass", f"The pool's developer provider "
                       f"name is {theirs}, as aws.developer_provider_name says.", evidence)
    got = theirs or "not set"
    return Verdict(POOL, "developer_provider", "fail", f"The site's aws.developer_provider_name "
                   f"is {site}, but the pool's DeveloperProviderName is {got}: the pool refuses "
                   f"the site's developer-authenticated identities. Set "
                   f"aws.developer_provider_name to the pool's name"
                   f"{'' if theirs else ', or give the pool this one'}.",
                   evidence, "pool_developer_provider_mismatch", {"expected": site, "got": got})


def check_classic_flow(settings: AwsSettings, pool: Mapping[str, Any],
                       mapped: tuple[str, ...] = ()) -> Verdict:
    """A flow the site offers must be one the pool allows; the reverse only widens
    what the pool accepts, which is worth saying but fails nothing. ``mapped`` (the
    ``Logins`` keys the pool maps roles for) matters where both allow it: AWS refuses
    the basic flow in a pool with any role mapping. That is a warning, not a failure:
    the rest of the site works, and the demo offers it to show the refusal."""
    site, theirs = settings.classic_flow, bool(pool.get("AllowClassicFlow"))
    evidence: dict[str, Any] = {"identity_pool_id": settings.identity_pool_id,
                                "classic_flow": site, "pool_allow_classic_flow": theirs}
    if site and not theirs:
        return Verdict(POOL, "classic_flow", "fail", "The site offers the basic (classic) flow "
                       "(aws.classic_flow = true), but the pool's AllowClassicFlow is off: the "
                       "pool refuses it. Turn it on at the pool, or set aws.classic_flow = "
                       "false.", evidence, "pool_classic_flow_off")
    if site and mapped:
        listed = ", ".join(mapped)
        return Verdict(POOL, "classic_flow", "warn", f"The site offers the basic (classic) "
                       f"flow and the pool allows it, but the pool has role mappings (for "
                       f"{listed}): AWS refuses GetOpenIdToken in any pool with role mappings, "
                       f"so every attempt at the basic flow will be refused (the client names "
                       f"the role there, which would bypass the mappings). Set "
                       f"aws.classic_flow = false, or use a pool without role mappings.",
                       {**evidence, "pool_role_mappings": list(mapped)},
                       "pool_classic_flow_mapped", {"mapped_logins": listed})
    if theirs and not site:
        # Informational: nothing fails, but the pool allows more than the site uses.
        return Verdict(POOL, "classic_flow", "pass", "The pool allows the basic (classic) flow, "
                       "which the site does not offer (aws.classic_flow = false). If nothing "
                       "else needs it, turn it off at the pool: in the basic flow AWS applies "
                       "no scope-down policy to guest credentials.", evidence)
    said = ("allows the basic (classic) flow, which the site offers, and has no role mappings"
            if site else
            "does not allow the basic (classic) flow, and the site does not offer it")
    return Verdict(POOL, "classic_flow", "pass", f"The pool {said}.", evidence)


# -- the roles the pool gives, and their trust policies ------------------------------------


@dataclass
class PoolRole:
    """A role the pool can give, the kinds of identity it gives it to (``amr``), and how.

    ``arn`` is the ARN the pool's settings name; None for a role known by name only
    (one of :data:`webapp.policies.MAPPED_ROLES`, which a user pool's groups give)."""

    name: str
    arn: str | None = None
    amrs: set[str] = field(default_factory=set)
    given_as: list[str] = field(default_factory=list)


def pool_roles(pool: roles.PoolRoles) -> list[PoolRole]:
    """Every role the pool can give: the authenticated and guest roles, each mapping
    rule's, and, where a mapping takes the role from the token, the site's mapped
    roles. A ``Token`` mapping's roles come from the user pool's groups, which the
    identity pool's settings do not list (and the site may not read); the groups the
    site's template makes give :data:`webapp.policies.MAPPED_ROLES`, so those are
    the roles a token can carry."""
    found: dict[str, PoolRole] = {}

    def add(name: str, arn: str | None, amr: str, how: str) -> None:
        # By ARN (two ARNs of one name are two roles, one perhaps not the account's);
        # a role known by name only joins one the settings name by ARN.
        key = arn or next((k for k, role in found.items() if role.name == name), name)
        role = found.setdefault(key, PoolRole(name, arn))
        role.amrs.add(amr)
        role.given_as.append(how)

    if pool.authenticated:
        add(roles.role_name(pool.authenticated), pool.authenticated, "authenticated",
            "the pool's authenticated role")
    if pool.unauthenticated:
        add(roles.role_name(pool.unauthenticated), pool.unauthenticated, "unauthenticated",
            "the pool's guest role")
    for provider, mapping in sorted(pool.role_mappings.items()):
        for number, rule in enumerate(mapping.rules, 1):
            add(rule.role_name, rule.role_arn, "authenticated",
                f"rule {number} of the role mapping for {provider}")
    tokens = sorted(key for key, mapping in pool.role_mappings.items()
                    if mapping.type is RoleMappingType.TOKEN)
    mappings = f"mapping{'s' if len(tokens) > 1 else ''} for {', '.join(tokens)}"
    for mapped in policies.MAPPED_ROLES if tokens else ():
        add(mapped.name, None, "authenticated", f"the {mapped.key} group's role, as a token "
            f"gives it under the Token role {mappings}")
    return list(found.values())


def probe_role_trust(settings: AwsSettings, timeout: float) -> list[Verdict]:
    """``GetIdentityPoolRoles``, then ``iam:GetRole`` for each role it names (in
    parallel): each must trust this pool (``aud``) for the identities it is given
    to (``amr``), or the pool cannot hand out its credentials."""
    identity = _site_client("cognito-identity", timeout)
    iam = _site_client("iam", timeout)
    for client in (identity, iam):
        if isinstance(client, Verdict):
            return [_copy(client, "role_trust")]
    try:
        given = pool_roles(roles.fetch(identity, timeout))
    except FedlabError as e:
        return [not_asked(settings, "role_trust", e)]
    if not given:
        return [Verdict(POOL, "role_trust", "fail", "The pool gives no role at all.",
                        {"identity_pool_id": settings.identity_pool_id},
                        "identity_pool_roles_invalid",
                        {"operation": "GetIdentityPoolRoles", "aws_message": "No roles."})]
    # A boto3 client may be shared by threads; each call has the probe's timeout.
    with ThreadPoolExecutor(max_workers=min(8, len(given))) as pool:
        return list(pool.map(lambda role: check_role_trust(settings, role, iam, timeout),
                             given))


def check_role_trust(settings: AwsSettings, role: PoolRole, iam: Any, timeout: float) -> Verdict:
    pool_id = settings.identity_pool_id
    amr = " and ".join(sorted(role.amrs))
    given_as = "; ".join(role.given_as)
    evidence: dict[str, Any] = {"role": role.name, "role_arn": role.arn, "given_as": given_as,
                                "expected_aud": pool_id, "expected_amr": amr}
    try:
        with aws.errors_explained("GetRole", timeout):
            found = iam.get_role(RoleName=role.name)["Role"]
    except FedlabError as e:
        evidence["aws_says"] = e.details.get("aws_message") or e.describe()
        if e.details.get("aws_code") == "NoSuchEntity" and role.arn is None:
            return Verdict(POOL, "role_trust", "warn", f"IAM has no role {role.name} "
                           f"({given_as}): a group that names it gives its members no "
                           f"credentials. deploy/'s template makes it.", evidence)
        if e.details.get("aws_code") == "NoSuchEntity":
            return Verdict(POOL, "role_trust", "fail", f"The pool gives the role {role.name} "
                           f"({given_as}), which IAM does not have.",
                           {**evidence, **e.details}, "identity_pool_roles_invalid")
        return not_asked(settings, "role_trust", e, evidence)
    if role.arn is not None and found.get("Arn") != role.arn:
        # IAM finds a role by name; the pool assumes it by its whole ARN.
        evidence["iam_role_arn"] = found.get("Arn")
        return Verdict(POOL, "role_trust", "fail", f"The pool gives the role {role.arn} "
                       f"({given_as}), but this account's role {role.name} is "
                       f"{found.get('Arn')}: another account's role, or a path it has not, "
                       f"names no role the pool can assume.", evidence,
                       "identity_pool_roles_invalid",
                       {"operation": "GetRole", "aws_message": f"No role {role.arn}."})
    document = found.get("AssumeRolePolicyDocument") or {}
    conditions = trust_conditions(document)
    evidence |= {"role_arn": role.arn or found.get("Arn"),
                 "aud": sorted(conditions.aud) or None, "amr": sorted(conditions.amr) or None}
    missing = trust_problem(conditions, pool_id, role.amrs)
    if missing is None:
        return Verdict(POOL, "role_trust", "pass", f"{role.name} ({given_as}) trusts this "
                       f"pool's {amr} identities only.", evidence)
    return Verdict(POOL, "role_trust", "fail", f"The role {role.name} ({given_as}) has a trust "
                   f"policy that {missing}. Fix: its Condition must have StringEquals {AUD} = "
                   f"{pool_id} and ForAnyValue:StringLike {AMR} = {amr} (aws iam "
                   f"update-assume-role-policy --role-name {role.name}).", evidence,
                   "role_trust_mismatch",
                   {"role": role.name, "given_as": given_as, "missing": missing})


@dataclass(frozen=True)
class TrustStatement:
    """One Allow statement letting Cognito Identity's web identities assume a role
    (``sts:AssumeRoleWithWebIdentity`` by ``cognito-identity.amazonaws.com``): the
    ``aud`` and ``amr`` values its positive string conditions accept."""

    aud: frozenset[str]
    amr: frozenset[str]


@dataclass(frozen=True)
class TrustConditions:
    """What a trust policy lets Cognito Identity's web identities do, statement by
    statement: IAM allows what any one Allow statement allows, so each is judged on
    its own, never their conditions pooled (a statement for this pool with no ``amr``
    lets its guests in, whatever another statement for another pool requires)."""

    statements: tuple[TrustStatement, ...] = ()

    @property
    def aud(self) -> set[str]:
        """Every pool any statement names: the verdict's evidence, and who else may
        assume the role."""
        return {aud for statement in self.statements for aud in statement.aud}

    @property
    def amr(self) -> set[str]:
        """Every ``amr`` any statement accepts, for the verdict's evidence only: the
        verdict itself judges statement by statement."""
        return {amr for statement in self.statements for amr in statement.amr}


def trust_conditions(document: Mapping[str, Any]) -> TrustConditions:
    """The Allow statements for ``cognito-identity.amazonaws.com`` and
    ``sts:AssumeRoleWithWebIdentity``, each with the ``aud`` and ``amr`` its positive
    string conditions accept (a ``Not`` operator names what is refused, not allowed)."""
    found = []
    statements = document.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            continue
        principal = statement.get("Principal")
        federated = principal.get("Federated") if isinstance(principal, dict) else None
        actions = statement.get("Action")
        if (statement.get("Effect") != "Allow"
                or "cognito-identity.amazonaws.com" not in _listed(federated)
                or "sts:AssumeRoleWithWebIdentity" not in _listed(actions)):
            continue
        auds: set[str] = set()
        amrs: set[str] = set()
        conditions = statement.get("Condition")
        for operator, keys in (conditions.items() if isinstance(conditions, dict) else ()):
            if "Not" in operator or not isinstance(keys, dict):
                continue
            auds |= set(_listed(keys.get(AUD)))
            amrs |= set(_listed(keys.get(AMR)))
        found.append(TrustStatement(frozenset(auds), frozenset(amrs)))
    return TrustConditions(tuple(found))


def trust_problem(found: TrustConditions, pool_id: str, amrs: set[str]) -> str | None:
    """What the trust policy lacks for this pool to give the role to ``amrs`` and to
    nobody else, in words for the verdict; None when every statement names this pool
    alone and requires exactly ``amrs``."""
    if not found.statements:
        return ("lets no cognito-identity.amazonaws.com web identity assume it "
                "(sts:AssumeRoleWithWebIdentity)")
    if any(not statement.aud for statement in found.statements):
        return (f"has no {AUD} condition: identities of any identity pool could assume it, "
                f"and AWS refuses to give it")
    if pool_id not in found.aud:
        return (f"names another pool in its {AUD} condition ({', '.join(sorted(found.aud))}), "
                f"not this one ({pool_id})")
    wanted = " and ".join(sorted(amrs))
    for statement in found.statements:
        if pool_id not in statement.aud:
            continue
        if not statement.amr:
            return (f"has a statement for this pool with no {AMR} condition: any of its "
                    f"identities, guests too, could assume it; it should require {wanted}")
        if statement.amr != amrs:
            return (f"requires {' or '.join(sorted(statement.amr))} in its {AMR} condition, "
                    f"where the pool gives it to {wanted} identities")
    others = sorted(found.aud - {pool_id})
    if others:
        # IAM allows what any statement allows: the role is also another pool's to give,
        # on that pool's terms (its guests, perhaps), which this pool cannot see.
        return (f"also lets identities of another pool assume it ({', '.join(others)} in "
                f"its {AUD} condition)")
    return None


def _listed(value: Any) -> list[str]:
    """A policy's one-or-many value (``"a"`` or ``["a", "b"]``) as a list of strings."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def _site_client(service: str, timeout: float) -> Any:
    """The site's own signed client with the probe's timeout and one attempt; a skip
    verdict when the site has no AWS identity of its own."""
    if not site_aws.available():
        return Verdict(POOL, service, "skip", "Could not run: reading the pool's own settings "
                       "and roles is a call signed with the site's own AWS identity, and the "
                       "site has none (no keys in its environment, no container or instance "
                       "role). This says nothing about the pool.",
                       {"needs": "the site's own AWS identity (webapp.site_aws)"},
                       "site_credentials_missing")
    return site_aws.site().client(service, timeout=timeout, attempts=1)


def not_asked(settings: AwsSettings, probe: str, e: FedlabError,
              evidence: dict[str, Any] | None = None) -> Verdict:
    """A pool (or IAM) that did not answer the site's question: why, with AWS's words."""
    evidence = {"identity_pool_id": settings.identity_pool_id, **(evidence or {}), **e.details}
    operation = e.details.get("operation", "the call")
    if e.details.get("aws_code") in NOT_PERMITTED:
        return Verdict(POOL, probe, "fail", f"The site's own AWS identity may not call "
                       f"{operation}: give it deploy/identity-pool.json's SitePolicy "
                       f"(webapp.policies.site_statements).", evidence, "site_not_permitted")
    if e.code == "identity_pool_not_found":
        return Verdict(POOL, probe, "fail", f"There is no identity pool "
                       f"{settings.identity_pool_id} in {settings.region}.", evidence, e.code)
    return Verdict(POOL, probe, "fail", f"Could not ask {operation}: "
                   f"{e.describe().rstrip('.')}.", evidence, e.code)


def _copy(verdict: Verdict, probe: str) -> Verdict:
    """The same verdict for another check that depends on the same call."""
    return Verdict(verdict.provider, probe, verdict.status, verdict.summary,
                   dict(verdict.evidence), verdict.error, dict(verdict.words))


def unreachable(name: str, probe: str, url: str, error: Exception, timeout: float) -> Verdict:
    timed_out = isinstance(error, requests.Timeout)
    return Verdict(name, probe, "fail",
                   f"No answer within {timeout} s." if timed_out else
                   f"Could not read an answer ({type(error).__name__}).",
                   {"url": url, "error": type(error).__name__},
                   "provider_timeout" if timed_out else "provider_unreachable",
                   {"endpoint": probe, "seconds": timeout, "detail": type(error).__name__})
