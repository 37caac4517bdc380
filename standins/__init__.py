"""Local stand-ins for the identity providers (a dev tool, never production).

One Flask app, run as its own server, that speaks each provider's real
protocol over HTTP so the app cannot tell it from the real thing. Built on
authlib's authorization-server components; all state is in memory, one tenant
per provider flavour, each with its own RSA signing keys and issuer.

Run it::

    python -m standins --settings standins.json --host 127.0.0.1 --port 9000

or build it in-process with :func:`create_standins_app` (an application
factory: two apps never share state). Serve it with
:class:`StandinRequestHandler` so each tenant's ``Date`` header follows its
(possibly skewed) clock.

Settings (a plain dict): ``base_url``, ``users`` (key, username, password,
email, name, groups), ``clients`` (tenant, client_id, client_secret,
redirect_uris, logout_uris; entries with the same tenant and client_id are
merged), ``groups`` (the Cognito user pool's: name, role_arn, precedence; the
id token of a user in them carries ``cognito:roles`` and, as Cognito sets it,
``cognito:preferred_role``), ``cognito`` (user_pool_id, region), ``facebook`` (graph_version),
``amazon`` (app_id: the security profile of its registered clients),
optional ``behaviour`` (per tenant, ``{"oidc": {"rotate_refresh_tokens": false}}``),
``token_lifetime`` (3600), ``code_lifetime`` (300), ``secret_key``
(signs the stand-ins' own cookies; random per start if absent), ``key_size``.

URL layout (B = base_url)
-------------------------
Cognito      Hosted UI ``B/cognito``: ``/oauth2/authorize`` (``identity_provider``
             = COGNITO | Google | Facebook | LoginWithAmazon | any other name = the
             oidc stand-in),
             ``/oauth2/token``, ``/oauth2/userInfo``, ``/oauth2/revoke``,
             ``/logout?client_id&logout_uri``, ``/error``, ``/oauth2/idpresponse``.
             Issuer ``B/cognito-idp/{user_pool_id}`` with
             ``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``.
Auth0        Issuer ``B/auth0/``: ``/authorize``, ``/oauth/token``, ``/userinfo``,
             ``/oauth/revoke``, ``/.well-known/openid-configuration``,
             ``/.well-known/jwks.json``, ``/v2/logout?client_id&returnTo``,
             ``/oidc/logout?id_token_hint|client_id&post_logout_redirect_uri``.
Google       Issuer ``B/google``: ``/.well-known/openid-configuration``,
             ``/o/oauth2/v2/auth``, ``/token``, ``/v1/userinfo``, ``/revoke``,
             ``/oauth2/v3/certs``; no end-session endpoint.
Facebook     Dialog ``B/facebook/{version}/dialog/oauth``; Graph ``B/graph``:
             ``/{version}/oauth/access_token`` (GET; also ``fb_exchange_token``),
             ``/{version}/me`` (needs ``appsecret_proof``), ``/debug_token`` and
             ``/{version}/debug_token``.
Amazon       Authorization ``B/amazon/ap/oa``; APIs ``B/amazon-api``:
             ``/auth/o2/token`` (POST), ``/auth/o2/tokeninfo?access_token=``,
             ``/user/profile`` (Bearer); plain OAuth 2, tokens ``Atza|``/``Atzr|``.
Apple        Issuer ``B/apple``: ``/auth/authorize`` (``name``/``email`` need
             ``response_mode=form_post``; the first authorization posts ``user``),
             ``/auth/token`` (the client secret is an ES256 JWT checked with the
             registered ``apple`` settings: team_id, key_id, public_key), ``/auth/keys``,
             ``/auth/revoke``, ``/.well-known/openid-configuration``; no userinfo,
             no end-session endpoint. Through Cognito: ``identity_provider=SignInWithApple``.
Generic OIDC Issuer ``B/oidc``: ``/authorize``, ``/token``, ``/userinfo``, ``/jwks``,
             ``/revoke``, ``/end_session`` (``client_id`` or ``id_token_hint``,
             with a registered ``post_logout_redirect_uri``),
             ``/.well-known/openid-configuration``;
             RFC 9207 ``iss`` on every authorization response. As strict as
             oidc-provider: unknown scopes dropped from the grant, a refresh token
             only for ``offline_access`` asked with ``prompt=consent``, refresh
             tokens rotated (a reused one revokes the grant), e-mail and name in
             userinfo only, sign-out confirmed on a page of its own.

Every authorize endpoint checks client_id and redirect_uri first (a mismatch
shows that provider's own error page, never a redirect), then shows a sign-in
page ("Sign in as <username>" buttons, or username and password), then a
consent page ("Allow" / "Deny"). The signed-in user is remembered in the
cookie ``standin_<tenant>``. PKCE: S256 only. The answer goes back as the
``response_mode`` asks: ``query`` (the default), a redirect; ``form_post``, a
page whose form posts it to the redirect URI (sent by a script its own CSP
allows, or by its "Continue" button); any other mode, a 400 page.

Control API (JSON, ``B/_control/``)
-----------------------------------
``POST /faults`` ``{"tenant", "fault", ...params}``; ``GET /faults``;
``DELETE /faults`` (all tenants). Faults: see :data:`.faults.FAULTS`.
``POST /rotate-keys`` ``{"tenant", "drop_old"?}``: a new current key (new kid);
old keys stay published unless ``drop_old``.
``POST /clients`` ``{"tenant", "client_id", "redirect_uris"?, "logout_uris"?,
"client_secret"?}``: replace those fields of a registered client.
``POST /groups`` ``{"tenant", "name", "precedence"?, "role_arn"?}``: Cognito's
UpdateGroup, for the id tokens issued from then on.
``POST /pre-token-generation`` ``{"tenant", "groupOverrideDetails": {"groupsToOverride"?,
"iamRolesToOverride"?, "preferredRole"?}}``: a Cognito pre token generation trigger
(``V1_0``) whose answer replaces the groups and roles of every id token (a field left
out is a claim left out); ``POST /reset`` removes it.
``POST /behaviour`` ``{"tenant", <switch>: true|false, ...}``; ``GET /behaviour``:
where a tenant is as strict as its real provider (see :class:`.settings.Behaviour`:
``rotate_refresh_tokens``, ``confirm_sign_out``, ``profile_in_id_token``,
``drops_unknown_scopes``, ``offline_access_needs_consent``); each flavour starts
with its real provider's, the ``behaviour`` settings change them per tenant.
``POST /clock`` ``{"tenant", "skew_seconds"}``: offset the tenant's clock (token
times and its ``Date`` header).
``GET|DELETE /calls``: requests served per tenant per endpoint name.
``GET|DELETE /events``: recent sign-outs and revocations.
``POST /reset``: every tenant back to its state at start: no faults, the settings' behaviour,
groups and clients, the first signing key (same kid), clock and counters at zero, events
and all codes, tokens, consents and federated users forgotten. Browsers'
``standin_*`` cookies stay valid.
"""

from .server import FLAVOURS, StandinRequestHandler, create_standins_app

#: Endpoints (as ``/_control/calls`` counts them) that a browser visits: sign-in,
#: consent and sign-out pages. Every other count is a call the app itself made.
BROWSER_ENDPOINTS = frozenset({"authorize", "login", "consent", "logout", "oauth_dialog",
                               "dialog", "idpresponse"})

__all__ = ["BROWSER_ENDPOINTS", "FLAVOURS", "StandinRequestHandler", "create_standins_app"]
