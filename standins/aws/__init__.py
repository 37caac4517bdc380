"""A local AWS for the identity pool and storage pages (a dev tool, never production).

The app talks boto3 to endpoint URLs from its configuration and cannot tell
this from AWS. Four servers, each on its own port:

=================  ======  ====================================================
Cognito Identity   9100    :func:`create_identity_app`: this package's own
                           service (moto's validates nothing and gives a new
                           identity id on every ``GetId``).
S3                 9101    :func:`create_s3_app`: a guard in front of moto's S3.
moto               9102    :func:`start_moto`: IAM (the app's ``iam_endpoint``),
                           and STS and S3 underneath the fronts.
STS                9103    :func:`create_sts_app`: ``AssumeRoleWithWebIdentity``
                           for Cognito Identity tokens as STS checks them (the
                           basic flow); everything else passed to moto.
=================  ======  ====================================================

Start order: moto, then :func:`bootstrap` (bucket with CORS and sample
objects under ``public/``; roles ``fedlab-authenticated``, ``fedlab-guest`` and
the mapped roles ``fedlab-admins`` and ``fedlab-readers`` with the trust
policies and inline policies of :mod:`webapp.policies`; the site's IAM user
``fedlab-site`` with :func:`webapp.policies.site_statements` and a new access
key, which it returns as a :class:`~.settings.SiteKey`), then the identity app,
given that key, then the fronts, given the identity app so they know whom each
temporary access key was issued to::

    server, moto_url = start_moto("127.0.0.1", 9102)
    site_key = bootstrap(settings, moto_url)
    identity = create_identity_app(settings, moto_url, [site_key])   # serve on 9100
    s3 = create_s3_app(settings, moto_url, identity)                 # serve on 9101
    sts = create_sts_app(settings, moto_url, identity)               # serve on 9103

The app gets the site's key through its environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``), as ``fedlab demo`` and the test suite give it.
Each call builds independent state (no module-level globals), except moto's
own backends, which are per process: :func:`bootstrap` is idempotent (it
replaces the site user's key). The admin credentials are dummies
(``testing``/``testing``), passed explicitly, never read from the machine;
requests signed with them are an operator's, allowed everything. moto's IAM
enforcement stays off (it breaks presigned URLs); the fronts authorize instead.

Settings (a plain dict)
-----------------------
``region``, ``account_id`` (``123456789012``), ``identity_pool_id``,
``identity_pool_name``, ``allow_unauthenticated``, ``allow_classic_flow``,
``developer_provider_name``, ``bucket``, ``app_origins`` (the bucket's CORS
origins), ``credentials_lifetime`` (seconds, 3600), optional
``authenticated_role`` / ``guest_role`` (role names), ``mapped_roles``
(``{"admins": name, "readers": name}``), ``site_user``, ``role_mappings``
(AWS's ``RoleMappings`` shape, keyed as AWS keys them: a user pool's app
client ``cognito-idp.<region>.amazonaws.com/<pool>:<client id>``, any other
provider its ``Logins`` key; validated as ``SetIdentityPoolRoles`` validates),
and ``providers``: one entry per identity provider on the pool,
``{"logins_key", "type": "oidc", "issuer", "client_ids"}`` or ``{"logins_key":
"graph.facebook.com", "type": "facebook", "graph_url", "graph_version",
"app_id", "app_secret"}`` or ``{"logins_key": "www.amazon.com", "type": "amazon",
"tokeninfo_url", "app_id"}``.

Cognito Identity (AWS JSON 1.1, ``POST /``)
--------------------------------------------
Public (unsigned): ``GetId``, ``GetCredentialsForIdentity`` (with
``CustomRoleArn``), ``GetOpenIdToken``, ``UnlinkIdentity``. Signed with SigV4
(:mod:`.sigv4`) and authorized as ``cognito-identity:<Operation>`` on the
pool's ARN against the caller's IAM policies in moto (:mod:`.iam`):
``DescribeIdentityPool``, ``UpdateIdentityPool``, ``GetIdentityPoolRoles``,
``SetIdentityPoolRoles``, ``DescribeIdentity``, ``ListIdentities``,
``GetOpenIdTokenForDeveloperIdentity``, ``LookupDeveloperIdentity``,
``UnlinkDeveloperIdentity``. JWKS of its own OpenID tokens at
``/.well-known/jwks_uri``. Login tokens are validated as the service does (OIDC
discovery + JWKS over HTTP, RS256, ``iss``, ``aud``, ``exp``; Facebook through
Graph's ``debug_token``; Amazon through its token-info, whose ``app_id`` must be
the pool's); its own tokens are accepted as the
``cognito-identity.amazonaws.com`` login of ``GetCredentialsForIdentity`` (the
developer flow). Identity ids are ``{region}:uuid5(pool, logins key,
subject)``: the same person gets the same id on every sign-in and every start.
Several logins in one call are linked to one identity; the role of an
authenticated identity comes from the role mapping of its login's provider
(:mod:`.roles`). Errors (``__type`` / message):

* ``MissingAuthenticationTokenException`` (403): ``Missing Authentication
  Token``; ``IncompleteSignatureException``; ``UnrecognizedClientException``:
  ``The security token included in the request is invalid.``;
  ``InvalidSignatureException``: ``The request signature we calculated does not
  match ...`` (also for a signed ``X-Amz-Content-SHA256`` that is not the
  body's hash: the service hashes the body itself), ``Signature expired: <date>
  is now earlier than <date> (<now> - 15 min.)``, ``'Host' or ':authority' must
  be a 'SignedHeader' in the AWS Authorization.``, a credential scoped to
  another region or service
* ``AccessDeniedException``: ``User: <arn> is not authorized to perform:
  cognito-identity:<Operation> on resource: <pool arn> because no
  identity-based policy allows ...`` / ``with an explicit deny ...``
* ``ResourceNotFoundException``: ``IdentityPool 'X' not found.``,
  ``Identity 'X' not found.``, an unknown developer user identifier
* ``ResourceConflictException``: ``Login is already linked to another
  identity.``; lookups whose identity and identifier do not belong together
* ``DeveloperUserAlreadyRegisteredException``: ``The provided developer user
  identifier is already registered with Cognito under a different identity
  ID.``
* ``NotAuthorizedException``: ``Unauthenticated access is not supported for
  this identity pool.``; ``Token is not from a supported provider of this
  identity pool.``; ``Invalid login token. Couldn't verify signed token.``;
  ``Invalid login token. Issuer doesn't match providerName``; ``Invalid login
  token. Incorrect token audience.`` (also a Facebook or Amazon token of another app);
  ``Invalid login token. Token expired: <now> >= <exp>``; ``Invalid login
  token. Missing a required claim: aud``; ``Invalid login token. Can't pass in
  a Cognito token.`` (``GetId``); ``Logins don't match. Please include at least
  one valid login for this identity or identity pool.``; ``The ambiguous role
  mapping rules for: <key> denied this request.``; a ``CustomRoleArn`` not in
  the token's ``cognito:roles``; ``Access to Role 'X' is forbidden.`` (a
  malformed role ARN in ``SetIdentityPoolRoles``)
* ``InvalidParameterException``: AWS's validation messages (``1 validation
  error detected: ...``) for ``SetIdentityPoolRoles`` (``Type`` Token|Rules,
  ``AmbiguousRoleResolution`` required, 1 to 25 rules, ``MatchType`` Equals|
  Contains|StartsWith|NotEqual, ``(<key>) is not a valid RoleMapping
  ProviderName or is not a configured provider.``), ``UpdateIdentityPool`` (a
  developer provider name cannot change once set), ``TokenDuration`` (1 to
  86400), ``Basic (classic) flow is not enabled, please use enhanced flow.``
  (``GetOpenIdToken`` on a pool without the basic flow) and, checked after it,
  ``Basic (classic) flow is not supported with RoleMappings, please use
  enhanced flow.`` (``GetOpenIdToken`` in a pool with any role mappings, for
  any identity, a guest's too), a ``CustomRoleArn`` without a Token mapping
* ``InvalidIdentityPoolConfigurationException``: ``Invalid identity pool
  configuration. Check assigned IAM roles for this pool.`` (no role for the
  kind of identity; a role ARN that is no role's in moto's IAM, whole: another
  account's, or a path the role has not; or the chosen role's trust policy
  lacks the pool's ``aud`` or the ``amr``)
* ``TooManyRequestsException``: ``Rate exceeded`` (fault ``throttle``)

S3 front
--------
See :mod:`.s3`: IAM-style authorization of the issued keys against their
role's inline policies (``AccessDenied``, ``InvalidAccessKeyId``,
``ExpiredToken``), the scope-down of enhanced-flow guest credentials, presigned
URL expiry, POST policy conditions (``EntityTooLarge``, ``EntityTooSmall``,
``Invalid according to Policy``), CORS from the bucket's rules only. Requests
signed with the admin key pass.

STS front
---------
See :mod:`.sts`: ``InvalidIdentityToken`` (a token of another issuer: ``No
OpenIDConnect provider found in your account for <iss>``; a bad signature;
another pool's ``aud``), ``ExpiredTokenException`` (``Token expired: current
date/time <now> must be before the expiration date/time <exp>``),
``AccessDenied`` (``Not authorized to perform sts:AssumeRoleWithWebIdentity``:
``RoleArn`` is no role's ARN in moto's IAM, account and path included, or the
role's trust policy does not name the pool or the token's kind).

Control API (JSON, ``/_control/`` on the identity and S3 servers)
----------------------------------------------------------------
Identity: ``POST /faults`` ``{"fault": "throttle" | "down" (503 for every
call) | "bad_trust_policy" | "credentials_lifetime", "seconds": n}``;
``GET|DELETE /faults``; ``GET|DELETE /calls`` (``{"GetId": n, ...}``);
``POST /clock`` ``{"skew_seconds"}`` (the service's clock: token ``exp``
checks, signature dates and credential expirations; the STS front reads it
too); ``POST /reset`` (faults, counters, clock, JWKS cache; identities, issued
keys and the pool's settings stay, so ids and sessions survive). The pool's
settings change through AWS's own operations (``UpdateIdentityPool``,
``SetIdentityPoolRoles``) signed with the admin key.

S3: ``GET|DELETE /calls`` (requests per operation: ``GetObject``,
``PutObject``, ``PostObject``, ``ListObjectsV2``, ``PreflightRequest``, ...);
``GET /bytes`` ``{"received", "served"}``: object body bytes uploaded through
this server and served by it (``DELETE /calls`` clears both); ``POST /reset``
(counters, cached role policies and CORS rules).
"""

from .identity import create_identity_app
from .motoserver import bootstrap, start_moto
from .s3 import create_s3_app
from .sts import create_sts_app

__all__ = ["bootstrap", "create_identity_app", "create_s3_app", "create_sts_app", "start_moto"]
