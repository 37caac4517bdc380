"""The error catalogue and the error pages.

Every failure a visitor can meet has an entry here saying what happened, the
likely cause and what to do, so the callback, the account pages and the
diagnostics all explain an error in the same words. Nothing else renders an
error, and no stack trace ever reaches a visitor.

A visitor who opens a page they cannot use yet (signed out, or a guest) is not
in error: the page offers the way on in place (:func:`sign_in_offer`), and an
error whose next step is signing in offers it on the error page too.
"""

from __future__ import annotations

import logging
import re
import string
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    status: int
    title: str
    cause: str
    fix: str


CATALOGUE: dict[str, Entry] = {
    # -- the provider's own answer on the callback (RFC 6749 4.1.2.1, OIDC 3.1.2.6)
    "access_denied": Entry(
        400, "You did not allow the sign-in",
        "The provider says the sign-in was cancelled: you chose Deny or closed its page.",
        "Start again and choose Allow on the provider's consent page."),
    "invalid_request": Entry(
        400, "The provider refused the sign-in request",
        "A parameter was missing or malformed, or the callback URL is not registered.",
        "Compare the callback URL with the one registered in the provider's console."),
    "redirect_mismatch": Entry(
        400, "The provider does not accept this callback URL",
        "The callback URL this site sends is not registered for the app client at the "
        "provider (Cognito: redirect_mismatch; Google: redirect_uri_mismatch; Auth0: "
        "Callback URL mismatch; Facebook: URL Blocked).",
        "Register the exact callback URL shown on the diagnostics page (scheme, host, port "
        "and path) in the provider's console, or open the site at the registered address."),
    "signout_mismatch": Entry(
        400, "The provider does not accept this sign-out return URL",
        "The URL this site asks to come back to after signing out is not an allowed "
        "sign-out (logout) URL of the app client.",
        "Register the sign-out URL shown on the diagnostics page (Cognito: Allowed sign-out "
        "URLs; Auth0: Allowed Logout URLs)."),
    "unauthorized_client": Entry(
        400, "This app may not use this sign-in method",
        "The app client is not allowed the authorization-code grant at the provider.",
        "Enable the authorization code grant for this app client in the provider's console."),
    "invalid_scope": Entry(
        400, "The provider refused the requested scopes",
        "A scope in the configuration is not enabled for this app client.",
        "Enable the scopes on the app client, or remove them from providers.<name>.scopes."),
    "login_required": Entry(
        400, "The provider needs you to sign in",
        "A silent sign-in was asked for, but you have no session at the provider.",
        "Start the sign-in again; you will see the provider's sign-in page."),
    "server_error": Entry(
        502, "The provider had an internal error",
        "The provider answered the sign-in with server_error.",
        "Try again in a moment; if it persists, check the provider's status page."),
    "temporarily_unavailable": Entry(
        503, "The provider is busy",
        "The provider answered the sign-in with temporarily_unavailable.",
        "Try again in a moment."),
    "unsupported_response_type": Entry(
        400, "The provider does not offer this kind of sign-in",
        "The provider does not issue authorization codes to this app client "
        "(unsupported_response_type).",
        "Operators: allow the authorization code flow (response type code) for the app client."),
    "interaction_required": Entry(
        400, "The provider needs you on its own page",
        "The provider cannot finish the sign-in without showing you a page "
        "(interaction_required).",
        "Start the sign-in again and follow the provider's pages."),
    "account_selection_required": Entry(
        400, "The provider needs you to choose an account",
        "You are signed in to several accounts at the provider and it needs you to pick one "
        "(account_selection_required).",
        "Start the sign-in again and choose the account on the provider's page."),
    "consent_required": Entry(
        400, "The provider needs your consent",
        "The provider needs you to allow this app access before it signs you in "
        "(consent_required).",
        "Start the sign-in again and choose Allow on the provider's consent page."),
    "invalid_request_uri": Entry(
        400, "The provider refused the request_uri",
        "The provider answered invalid_request_uri; this site never sends a request_uri.",
        "Start again; if it persists, check the provider's configuration of this client."),
    "invalid_request_object": Entry(
        400, "The provider refused the request object",
        "The provider answered invalid_request_object; this site never sends a request object.",
        "Start again; if it persists, check the provider's configuration of this client."),
    "request_not_supported": Entry(
        400, "The provider does not take request objects",
        "The provider answered request_not_supported; this site never sends a request object.",
        "Start again; if it persists, check the provider's configuration of this client."),
    "request_uri_not_supported": Entry(
        400, "The provider does not take a request_uri",
        "The provider answered request_uri_not_supported; this site never sends one.",
        "Start again; if it persists, check the provider's configuration of this client."),
    "registration_not_supported": Entry(
        400, "The provider does not take registration parameters",
        "The provider answered registration_not_supported; this site never sends them.",
        "Start again; if it persists, check the provider's configuration of this client."),
    "provider_error": Entry(
        400, "The provider returned an error",
        "The provider sent the browser back with an error that OAuth 2.0 and OpenID Connect "
        "do not define, so this site cannot say what it means.",
        "Start the sign-in again; if it persists, tell the site's operators."),
    # -- state, session and redirect checks (RFC 9700 4.7, RFC 9207)
    "state_mismatch": Entry(
        400, "This sign-in was not started in this browser session",
        "The callback's state matches no sign-in started here. Usually the sign-in began on "
        "another host name (localhost vs 127.0.0.1), so the browser did not send this site's "
        "cookie back; or the link was replayed; or the session store lost the session.",
        "Open the site with the same host name that is registered as the callback, "
        "then start the sign-in again."),
    "state_expired": Entry(
        400, "This sign-in took too long",
        "More than ten minutes passed between leaving for the provider and coming back.",
        "Start the sign-in again."),
    "iss_mismatch": Entry(
        400, "The answer came from the wrong issuer",
        "The callback's iss parameter (RFC 9207) names another issuer than the provider this "
        "sign-in was sent to: a mix-up attack, or a misconfigured issuer.",
        "Check providers.<name>.issuer; if it is right, do not continue this sign-in."),
    "iss_missing": Entry(
        400, "The answer did not say who sent it",
        "The provider announces RFC 9207 iss parameters but this callback had none.",
        "Start again; if it persists the provider or a proxy is dropping the parameter."),
    "code_missing": Entry(
        400, "The callback had no authorization code",
        "The provider came back with neither a code nor an error.",
        "Start the sign-in again from this site."),
    "unknown_provider": Entry(
        404, "No such provider",
        "The address names a provider that is not configured on this site.",
        "Pick a provider from the home page."),
    "csrf_failed": Entry(
        400, "The form was too old or not from this site",
        "The request carried no valid CSRF token: the page was open for too long, the "
        "session ended, or another site tried to submit it.",
        "Go back, reload the page and try again."),
    "signed_out": Entry(
        401, "Sign in to do this",
        "This needs a signed-in session, and there is none (or it timed out): nothing was "
        "changed.",
        "Sign in with one of the providers below, then try again."),
    "session_store_down": Entry(
        503, "The session store is not answering",
        "The server keeps sessions in a store (Redis or files) that did not answer in time.",
        "Try again in a moment; operators: check the session store (session.redis_url)."),
    # -- talking to the provider's endpoints
    "backchannel_logout_unreachable": Entry(
        502, "The provider could not deliver logout tokens to this site",
        "The back-channel logout URL {url} did not answer a malformed logout token as "
        "OpenID Connect Back-Channel Logout 1.0 says (400 with a JSON error object): {detail}.",
        "Make the site reachable at its external_url from the provider's servers, not only "
        "from browsers, with nothing in front of /auth/<name>/backchannel-logout that asks "
        "for a sign-in or a cookie; register exactly the URL the diagnostics page shows."),
    "provider_unreachable": Entry(
        502, "The provider could not be reached",
        "The connection to the provider's {endpoint} endpoint failed ({detail}).",
        "Try again later; operators: check the provider's URL in the configuration and "
        "the network."),
    "provider_timeout": Entry(
        504, "The provider did not answer in time",
        "The provider's {endpoint} endpoint did not answer within {seconds} seconds.",
        "Try again in a moment; operators: check the provider's status."),
    "provider_bad_response": Entry(
        502, "The provider answered with something unexpected",
        "The provider's {endpoint} endpoint answered: {detail}.",
        "Try again later; operators: check the provider's URL in the configuration."),
    "discovery_issuer_mismatch": Entry(
        502, "The provider's discovery names another issuer",
        "Discovery says issuer {got!r}, but this site is configured for {expected!r}. "
        "Trusting it would let another party sign tokens for this provider.",
        "Set providers.<name>.issuer to the exact issuer (mind a trailing slash), "
        "or fix the discovery URL."),
    "discovery_invalid": Entry(
        502, "The provider's discovery document is incomplete",
        "{detail}.", "Check the provider's issuer URL in the configuration."),
    "token_request_failed": Entry(
        400, "The provider refused to exchange the code for tokens",
        "The token endpoint answered {error}: {description}",
        "invalid_client: the client secret or authentication method is wrong; invalid_grant: "
        "the code was used already, expired, or the callback URL differs. Start again."),
    "id_token_missing": Entry(
        502, "The provider sent no id token",
        "An OpenID Connect provider must return an id token for the openid scope.",
        "Make sure the scopes include openid."),
    "id_token_rejected": Entry(
        400, "The id token failed a check",
        "Check {check!r} failed: expected {expected}, got {got}.",
        "Nobody was signed in. If the provider is misconfigured (issuer, client id, keys), "
        "fix the configuration; otherwise the token may be forged."),
    "userinfo_sub_mismatch": Entry(
        400, "The user info is about someone else",
        "The userinfo endpoint answered for subject {got!r}, the id token is for {expected!r} "
        "(OIDC Core 5.3.2 forbids using it).",
        "Nobody was signed in. Start again; if it persists the provider is misbehaving."),
    "userinfo_unavailable": Entry(
        400, "There is no user info to ask for",
        "The userinfo endpoint cannot be asked: {detail}.",
        "The claims of the verified id token above are what the provider says about you; "
        "if your tokens expired, sign in again."),
    "token_not_for_this_app": Entry(
        400, "The access token was issued to another app",
        "The provider's token check says: {detail}.",
        "Nobody was signed in; start again. Operators: check providers.<name>.client_id."),
    "refresh_failed": Entry(
        401, "Your sign-in could not be renewed",
        "The provider refused the refresh token ({detail}): it was revoked (a sign-out "
        "elsewhere, or at the provider), it expired, or it was already used once by a "
        "provider that rotates refresh tokens. The sign-in here has ended.",
        "Sign in again."),
    "refresh_unavailable": Entry(
        400, "This sign-in cannot be renewed",
        "The provider gave no refresh token ({detail}).",
        "Sign in again when the tokens expire."),
    # -- Identity Pool and S3 (PROVIDERS.md: Cognito Identity Pool)
    "credentials_not_configured": Entry(
        404, "AWS access is not configured",
        "This site has no identity pool configured (aws.identity_pool_id).",
        "Operators: create the pool with deploy/ and set the [aws] keys."),
    "identity_token_expired": Entry(
        401, "The identity pool refused an expired token",
        "{operation}: {aws_message}",
        "Sign in again (or refresh the tokens) and retry; the site renews expired id tokens "
        "before federating when it holds a refresh token."),
    "identity_provider_not_configured": Entry(
        403, "This provider is not set up on the identity pool",
        "{operation}: {aws_message} The Logins key this provider sends is not one of the "
        "pool's authentication providers.",
        "Operators: add the provider to the identity pool (Cognito user pool with its app "
        "client id, Google or Facebook app id, or an IAM OIDC provider for Auth0/OIDC), with "
        "exactly the Logins key shown on this page."),
    "identity_wrong_audience": Entry(
        403, "The token was issued to a client the pool does not know",
        "{operation}: {aws_message} The id token's aud is not one of the client ids "
        "registered for this provider on the identity pool.",
        "Operators: add this app's client id to the provider on the identity pool (for "
        "Google, the web client id; for Cognito, the app client id)."),
    "identity_issuer_mismatch": Entry(
        403, "The token's issuer does not match the pool's provider",
        "{operation}: {aws_message}",
        "Operators: the provider URL on the pool (or the IAM OIDC provider) must be the "
        "token's issuer without https://."),
    "identity_logins_mismatch": Entry(
        403, "The sign-in does not belong to this identity",
        "{operation}: {aws_message}",
        "Sign in again; the site will ask for a new identity with the right Logins key."),
    "identity_not_authorized": Entry(
        403, "The identity pool refused the sign-in",
        "{operation}: {aws_message}", "Sign in again; if it persists, check the pool's "
                                      "authentication providers."),
    "guests_not_allowed": Entry(
        403, "Guest access is turned off",
        "{operation}: {aws_message}",
        "Sign in, or operators: enable unauthenticated identities on the pool."),
    "role_mapping_denied": Entry(
        403, "The identity pool gives you no role",
        "{operation}: {aws_message} The pool picks a signed-in identity's role by its "
        "provider's role mapping; for your sign-in the mapping named no role (no rule "
        "matched your token's claims, or the token named no single role), and the mapping "
        "resolves that with Deny rather than the pool's authenticated role.",
        "Sign in with an account the mapping's rules cover (below: why it named none). "
        "Operators: add a rule for such accounts, or set the mapping's role resolution to "
        "use the authenticated role (SetIdentityPoolRoles, AmbiguousRoleResolution)."),
    "role_choice_refused": Entry(
        403, "The identity pool refused the role you chose",
        "{operation}: {aws_message} A chosen role (CustomRoleArn) must be one of the roles "
        "your id token offers (cognito:roles, from your user pool groups), and the "
        "provider's role mapping must take roles from the token.",
        "Go back to the credentials page and choose one of the roles listed there, or let "
        "the pool decide. Operators: a user gets a role by joining the user pool group "
        "that has it, then signing in again."),
    "role_arn_malformed": Entry(
        400, "That is not an IAM role",
        "The role chosen ({value}) is not an IAM role's ARN "
        "(arn:aws:iam::<account>:role/<name>).",
        "Choose a role with the buttons on the credentials page."),
    "guest_limit": Entry(
        429, "Too many new guest identities",
        "{detail}",
        "Wait a minute and try again, or sign in."),
    "identity_pool_not_found": Entry(
        404, "No such identity pool or identity",
        "{operation}: {aws_message}",
        "Operators: check aws.identity_pool_id and aws.region; sign in again if the "
        "identity was deleted."),
    "identity_pool_roles_invalid": Entry(
        500, "The identity pool's roles are misconfigured",
        "{operation}: {aws_message} A role's trust policy must allow "
        "sts:AssumeRoleWithWebIdentity by cognito-identity.amazonaws.com with conditions "
        "cognito-identity.amazonaws.com:aud = the pool id and :amr = authenticated "
        "(or unauthenticated for guests).",
        "Operators: fix the roles' trust policies (deploy/ has correct ones)."),
    # -- the live checks of the pool's own settings, read with the site's identity
    "pool_developer_provider_mismatch": Entry(
        500, "The identity pool does not know the site's developer provider name",
        "The site's aws.developer_provider_name is {expected}; the identity pool's "
        "DeveloperProviderName is {got}. The site's developer-authenticated identities "
        "(GetOpenIdTokenForDeveloperIdentity) name the pool's developer provider in their "
        "Logins, so the pool refuses every one of them.",
        "Set aws.developer_provider_name (FEDLAB_AWS__DEVELOPER_PROVIDER_NAME) to the "
        "pool's name. A pool without one can be given one (the console's developer "
        "provider, UpdateIdentityPool, or deploy/identity-pool.json's "
        "DeveloperProviderName), but a pool's name cannot change once set."),
    "pool_classic_flow_off": Entry(
        500, "The site offers a flow the identity pool refuses",
        "The site's aws.classic_flow is true, so the credentials page offers the basic "
        "(classic) flow (GetOpenIdToken, then STS AssumeRoleWithWebIdentity), but the "
        "identity pool's AllowClassicFlow is off: every such attempt is refused.",
        "Turn on AllowClassicFlow on the pool (the console's basic (classic) "
        "authentication, UpdateIdentityPool, or deploy/identity-pool.json's "
        "AllowClassicFlow=true), or set aws.classic_flow = false (FEDLAB_AWS__CLASSIC_FLOW)."),
    "pool_classic_flow_mapped": Entry(
        500, "The site offers a flow the identity pool's role mappings rule out",
        "The site's aws.classic_flow is true and the identity pool allows the basic "
        "(classic) flow (AllowClassicFlow), but the pool has role mappings (for "
        "{mapped_logins}): AWS refuses GetOpenIdToken in any pool with role mappings "
        "(\"Basic (classic) flow is not supported with RoleMappings, please use enhanced "
        "flow.\"), so every attempt at the basic flow is refused.",
        "Set aws.classic_flow = false (FEDLAB_AWS__CLASSIC_FLOW), or use a pool without role "
        "mappings. The demo keeps it on to show the refusal."),
    "role_trust_mismatch": Entry(
        500, "A role the identity pool gives does not trust this pool",
        "The role {role} ({given_as}) has a trust policy that {missing}. AWS reads it when "
        "the pool hands out the role's credentials, so whoever the pool gives this role "
        "gets none (InvalidIdentityPoolConfigurationException); and without this pool in "
        "its aud condition, identities of any identity pool could assume it.",
        "Give the role the trust policy of webapp/policies.py (trust_policy): Principal "
        "Federated cognito-identity.amazonaws.com, Action sts:AssumeRoleWithWebIdentity, "
        "Condition StringEquals cognito-identity.amazonaws.com:aud = the pool's id and "
        "ForAnyValue:StringLike cognito-identity.amazonaws.com:amr = authenticated "
        "(unauthenticated for the guest role), with aws iam update-assume-role-policy; "
        "deploy/identity-pool.json's roles have it."),
    "site_not_permitted": Entry(
        403, "The site's own AWS identity may not make this call",
        "{operation}: {aws_message}",
        "Operators: give the site's identity the permissions of webapp.policies."
        "site_statements: SITE_IDENTITY_ACTIONS on this pool and iam:GetRole on the "
        "site's roles (deploy/identity-pool.json's SitePolicy)."),
    "aws_throttled": Entry(
        429, "AWS asked us to slow down",
        "{operation}: {aws_message}", "Wait a few seconds and try again."),
    "aws_timeout": Entry(
        504, "AWS did not answer in time",
        "{operation} did not answer in time ({waited}).", "Try again in a moment."),
    "aws_unreachable": Entry(
        502, "AWS could not be reached",
        "{operation} failed: {detail}.",
        "Try again later; operators: check the aws.*_endpoint settings and the network."),
    "site_credentials_missing": Entry(
        503, "This site has no AWS credentials of its own",
        "Developer-authenticated identities and reading the pool's settings are calls "
        "signed with the site's own AWS identity, and none was found.",
        "Operators: give the site keys in the environment (AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY) or run it with an instance or task role; never in a "
        "file. deploy/identity-pool.json's SitePolicy lists what it may call."),
    # -- linked logins, the basic flow (webapp.linked_logins, webapp.classic_flow)
    "link_not_for_you": Entry(
        400, "This link was started for someone else",
        "The second sign-in came back to a session whose sign-in is no longer the person "
        "the link was started for (signed out, or signed in as someone else since). "
        "Nothing was linked.",
        "Sign in again, then start the link from the credentials page."),
    "link_same_login": Entry(
        400, "That is the login you are signed in with",
        "The login {login} is the Logins key of your sign-in already: the identity pool knows "
        "Cognito's app clients of one user pool as one login, so there is nothing to link.",
        "Link a provider with another Logins key, listed on the credentials page."),
    "login_linked_elsewhere": Entry(
        409, "That login belongs to another identity",
        "{operation}: {aws_message} The login {login} is linked to another identity in the "
        "pool (another person's, or yours from an earlier sign-in with it alone), and an "
        "identity pool links a login to one identity only. Nothing was linked, and your "
        "identity and sign-in are as they were.",
        "To link it here, first unlink it from the other identity: sign in with a login of "
        "that identity, open the credentials page and unlink it there, then link it again "
        "from here. Where it is that identity's only login it cannot leave (the identity and "
        "its files would become unreachable): keep the two identities apart."),
    "classic_flow_refused": Entry(
        403, "The identity pool does not allow the basic (classic) flow",
        "{operation}: {aws_message} The pool's AllowClassicFlow is off.",
        "Use the enhanced flow, which the rest of this site uses; operators: turn on "
        "AllowClassicFlow on the pool to compare the two, or set aws.classic_flow = false "
        "so the page stops offering it."),
    # Shown in place of the comparison on the credentials page, not as an error page:
    # seeing it refused is the lesson.
    "classic_flow_role_mappings": Entry(
        403, "AWS refuses the basic flow in a pool with role mappings",
        "{operation}: {aws_message} The identity pool has role mappings, and AWS refuses "
        "the basic (classic) flow in any pool that has them, for every identity: there the "
        "client names the role to STS, so the pool's mappings could be bypassed.",
        "Use the enhanced flow, which applies the mappings; operators: set "
        "aws.classic_flow = false (FEDLAB_AWS__CLASSIC_FLOW) so the page stops offering "
        "it, or use a pool without role mappings."),
    "web_identity_refused": Entry(
        403, "STS refused the pool's token for that role",
        "{operation}: {aws_message} In the basic flow STS checks the role's trust policy "
        "itself: it must trust cognito-identity.amazonaws.com for this pool (aud) and this "
        "kind of identity (amr).",
        "Operators: fix the role's trust policy (deploy/ has a correct one)."),
    "aws_error": Entry(
        502, "AWS returned an error",
        "{operation}: {aws_code}: {aws_message}", "Try again; operators: see the code."),
    "s3_access_denied": Entry(
        403, "S3 refused: access denied",
        "{operation}: your role's policy does not allow this on {resource}.",
        "Only the statements shown on this page are granted; the needed one is shown below."),
    "bad_page_token": Entry(
        400, "There is no such page of this listing",
        "The link's page token (after=) is not one S3 gave for this listing: it was altered, "
        "cut short, or is too old. Open {listing} for the first page.",
        "Start again from the first page of the listing."),
    "federated_tokens_invalid": Entry(
        401, "Your AWS credentials could not be renewed",
        "They expired and the sign-in they came from could not be refreshed ({detail}).",
        "Sign in again with one of the providers below."),
    "operators_only": Entry(
        403, "Live checks are for this site's operators",
        "They call every provider with this site's client credentials, so only the "
        "operators named in the configuration (diagnostics.operators, by issuer and "
        "subject), signed in, may start them.",
        "Sign in as an operator, or run fedlab check on the server. The diagnostics page "
        "shows a signed-in visitor the issuer and subject an operator would add."),
    # -- plain HTTP errors
    "bad_request": Entry(400, "Bad request", "The request was malformed.",
                         "Go back and try again."),
    "not_found": Entry(404, "Page not found", "There is no page at this address.",
                       "Go to the home page."),
    "method_not_allowed": Entry(405, "Not allowed", "This address does not take that method.",
                                "Use the buttons on the site's pages."),
    "request_too_large": Entry(
        413, "The request was too large",
        "This site takes forms and small requests of at most {limit} KiB; files go straight "
        "to storage, never through the site.",
        "Use the site's own forms; to store a file, use the upload button on a storage page."),
    "length_required": Entry(
        411, "The request did not say how large it was",
        "This site takes a request body only with its size announced (Content-Length), so "
        "it can refuse one that is too large before reading it; this one was sent in "
        "chunks (Transfer-Encoding). Browsers always announce the size of a form or upload "
        "request.",
        "Use the site's own forms; a script must send Content-Length, not a chunked body."),
    "unknown_host": Entry(
        400, "This site does not answer to that address",
        "The request named a host that is not one of this site's own (trusted_hosts), so "
        "no link or sign-in could be built from it.",
        "Open the site at its own address; operators: add the host name to trusted_hosts."),
    "other_loopback_host": Entry(
        400, "This site is registered at another address",
        "This request came to a loopback name the providers do not know this site by; the "
        "site is registered at {origin}. To a browser they are different sites with "
        "different cookies, so nothing was done here.",
        "Open the site at its registered address, named above, and do it again there."),
    "internal_error": Entry(500, "Something went wrong on this site",
                            "An unexpected error happened; it has been logged.",
                            "Try again; if it persists, tell the site's operators."),
}


#: The error codes a provider may send back to the callback: RFC 6749 4.1.2.1 and
#: OpenID Connect Core 3.1.2.6. Each has its own entry above; any other code on
#: the callback is someone else's words, shown as ``provider_error`` and never as
#: the entry it names (``?error=session_store_down`` must not speak for this site).
AUTHORIZATION_ERRORS = frozenset({
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
    "invalid_scope", "server_error", "temporarily_unavailable",
    "interaction_required", "login_required", "account_selection_required",
    "consent_required", "invalid_request_uri", "invalid_request_object",
    "request_not_supported", "request_uri_not_supported", "registration_not_supported",
})


class FedlabError(Exception):
    """A failure with a catalogue entry; ``details`` fill in its words.

    An unknown ``code`` is a programming error, refused here with a ``KeyError``
    where it is raised: quietly showing another entry (as this once did, with
    ``provider_error``) would hide a typo behind the wrong words. A code that
    comes from outside (a provider's ``?error=``) is checked by its caller first.
    """

    def __init__(self, code: str, **details: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"{code!r} is not in the error catalogue (webapp/errors.py)")
        super().__init__(code)
        self.code = code
        self.details = details

    @property
    def entry(self) -> Entry:
        return CATALOGUE[self.code]

    def describe(self) -> str:
        """The entry's cause in words, filled with this error's details.

        A detail the words name but this error was not given reads as general
        words (:data:`UNKNOWN_WORDS`), never as the raw ``{placeholder}``: the
        callers that have only part of the details (a live check's evidence, the
        catalogue page, which has none) each get a readable sentence.
        """
        return cause_in_words(self.entry.cause, self.details)


#: What the cause says in place of a detail it was not given, one phrase for
#: each name the catalogue's words use, chosen to read in every sentence that
#: names it (``The provider's {endpoint} endpoint`` drops the empty one).
UNKNOWN_WORDS: dict[str, str] = {
    "aws_code": "an error code",
    "aws_message": "AWS gave no message.",
    "check": "of a claim",
    "description": "no description was given",
    "detail": "no detail was given",
    "endpoint": "",
    "error": "an error",
    "expected": "the configured value",
    "given_as": "given by the pool",
    "got": "a different value",
    "limit": "a few",
    "listing": "the listing",
    "login": "you chose",
    "mapped_logins": "some providers",
    "missing": "lacks what this pool needs",
    "operation": "The AWS call",
    "resource": "this resource",
    "role": "in question",
    "seconds": "the allowed number of",
    "url": "",
    "value": "as sent",
    "waited": "it took too long",
}


class _Unknown(str):
    """A detail that was not given: its general words, never quoted by ``!r``."""


class _CauseFormatter(string.Formatter):
    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str) and key in kwargs and kwargs[key] is not None:
            return kwargs[key]
        return _Unknown(UNKNOWN_WORDS.get(str(key), "(not known)"))

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return value if isinstance(value, _Unknown) else super().convert_field(value,
                                                                               conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        if isinstance(value, _Unknown):
            return str(value)
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError):
            return str(value)


_FORMATTER = _CauseFormatter()
_SPACES = re.compile(r" {2,}")


def cause_in_words(cause: str, details: dict[str, Any]) -> str:
    """``cause`` with each ``{name}`` filled from ``details``, or by general
    words where a detail is missing; a malformed template is shown as it is
    written, braces and all, rather than raising on an error page."""
    try:
        text = _FORMATTER.vformat(cause, (), details)
    except (IndexError, ValueError):
        return cause
    text = _SPACES.sub(" ", text).strip()
    return text[:1].upper() + text[1:]


_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}

#: Errors whose next step is signing in: their page offers the providers' buttons
#: in place, as its primary action, instead of sending the visitor home first.
SIGN_IN_NEXT = frozenset({"signed_out", "federated_tokens_invalid"})


@dataclass(frozen=True)
class Guide:
    """What a page says to a visitor who cannot use it yet, and the way on.

    ``next_path`` is where a sign-in started from the offer comes back to (the
    page asked for; the login view checks it is local again); ``guest_identity``
    says the visitor is already that guest; ``offer_guest`` adds "Continue as
    guest" where the page has something for a guest and the site allows guests,
    posting to ``guest_action`` (the credentials page's, unless the page has its
    own that comes back to it); ``sign_in_needed`` is the status rule's one input
    (:attr:`status`).
    """

    heading: str
    lead: str
    next_path: str | None = None
    guest_identity: str | None = None
    offer_guest: bool = False
    guest_action: str | None = None
    #: The page needs a sign-in (the account, private files), rather than being
    #: usable as a guest too (the credentials page, public files).
    sign_in_needed: bool = True

    @property
    def status(self) -> int:
        """The one status rule for a page answered with the way on.

        A page that needs a sign-in answers 401. A person reads the page, and a
        browser shows a 401's page like any other (it asks for a password only
        when a ``WWW-Authenticate`` challenge comes with it, and none does). The
        status is for everything that reads no page: a crawler does not index a
        sign-in offer as the account, a monitor or a script (and the tests) learn
        that this address needs a sign-in from the status alone, where a 200 would
        say "here is the account". Not a redirect to a sign-in page either: the
        visitor stays at the address they asked for, and the sign-in comes back to
        it. RFC 9110 wants a challenge with a 401, but this site's sign-in is a
        redirect to a provider, which no HTTP challenge scheme can name; the pages'
        ``data-guided`` mark tells the offer from the page itself.

        A page a guest can use too (getting credentials, the public files) answers
        200: a visitor without credentials is where they should be, and
        continuing as a guest there is as much its purpose as signing in.
        """
        return CATALOGUE["signed_out"].status if self.sign_in_needed else 200


def sign_in_offer(guide: Guide, template: str = "errors/sign_in.html",
                  **context: Any) -> tuple[str, int]:
    """A page that offers signing in (and where it fits, continuing as a guest)
    in place of a page the visitor cannot use yet, with :attr:`Guide.status`.

    ``template`` includes ``errors/sign_in_offer.html``; a page that keeps its own
    frame around the offer (the storage levels' tabs) names its template and
    what else it needs."""
    return render_template(template, guide=guide, **context), guide.status


def asked_for_a_page() -> bool:
    """Whether this request is a visitor opening a page (a GET or HEAD that takes
    HTML), which a sign-in offer can answer; a form post or an API call keeps
    its refusal."""
    return request.method in ("GET", "HEAD") and request.accept_mimetypes.accept_html


def come_back_to() -> str | None:
    """The page a sign-in from the offer should return to: this one, unless it is
    one of the sign-in's own addresses (a callback's query holds a code and a
    state, which no link may carry, and returning to it would only fail again)."""
    if request.blueprint == "auth":
        return None
    return request.full_path.rstrip("?")


def render_error(error: FedlabError, status: int | None = None) -> tuple[str, int]:
    entry = error.entry
    guide = None
    if error.code in SIGN_IN_NEXT:
        # A form posted signed out: refused (nothing changed), and the way on is offered.
        guide = Guide(heading=entry.title, lead=error.describe())
    return (
        render_template(
            "errors/error.html",
            code=error.code,
            entry=entry,
            cause=error.describe(),
            details=error.details,
            guide=guide,
        ),
        status or entry.status,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(FedlabError)
    def handle_fedlab_error(error: FedlabError) -> tuple[str, int]:
        log.info("error %s on %s %s", error.code, request.method, request.path)
        if error.code == "signed_out" and asked_for_a_page():
            # Opening a page signed out is no error: the page offers the sign-in.
            return sign_in_offer(Guide(
                heading="Sign in to see this page",
                lead="This page shows what a signed-in visitor holds. Sign in with one "
                     "of the providers below: you come back here once you are in.",
                next_path=come_back_to(),
                offer_guest=True))
        return render_error(error)

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError) -> tuple[str, int]:
        return render_error(FedlabError("csrf_failed", detail=error.description))

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException) -> tuple[str, int]:
        code = _HTTP_CODES.get(error.code or 500, "bad_request")
        return render_error(FedlabError(code), error.code)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> tuple[str, int]:
        # A developer (tests, the debugger) needs the exception itself, as
        # Indico's handlers do: re-raised, Flask propagates it to the test
        # client or the debugger. A visitor only ever gets the page.
        if current_app.testing or current_app.debug:
            raise error
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(FedlabError("internal_error"))
