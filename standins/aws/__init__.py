"""A local AWS for the identity pool and storage pages (a dev tool, never production).

The app talks boto3 to endpoint URLs from its configuration and cannot tell
this from AWS. Three servers, each on its own port:

=================  ======  ====================================================
Cognito Identity   9100    :func:`create_identity_app`: this package's own
                           service (moto's validates nothing and gives a new
                           identity id on every ``GetId``).
S3                 9101    :func:`create_s3_app`: a guard in front of moto's S3.
moto               9102    :func:`start_moto`: STS, IAM and S3 underneath
                           (the app's ``sts_endpoint`` points here directly).
=================  ======  ====================================================

Start order: moto, then :func:`bootstrap` (bucket with CORS and sample
objects under ``public/``, roles ``fedlab-authenticated`` and ``fedlab-guest``
with the trust policies and inline policies of :mod:`webapp.policies`), then
the identity app, then the S3 front, which is given the identity app so it
knows whom each temporary access key was issued to::

    server, moto_url = start_moto("127.0.0.1", 9102)
    bootstrap(settings, moto_url)
    identity = create_identity_app(settings, moto_url)   # serve on 9100
    s3 = create_s3_app(settings, moto_url, identity)     # serve on 9101

Each call builds independent state (no module-level globals), except moto's
own backends, which are per process: :func:`bootstrap` is idempotent.
Credentials are dummies (``testing``/``testing``), passed explicitly, never
read from the machine. moto's IAM enforcement stays off (it breaks presigned
URLs); the S3 front authorizes instead.

Settings (a plain dict)
-----------------------
``region``, ``account_id`` (``123456789012``), ``identity_pool_id``,
``allow_unauthenticated``, ``bucket``, ``app_origins`` (the bucket's CORS
origins), ``credentials_lifetime`` (seconds, 3600), optional
``authenticated_role`` / ``guest_role`` (role names), and ``providers``: one
entry per identity provider on the pool, ``{"logins_key", "type": "oidc",
"issuer", "client_ids"}`` or ``{"logins_key": "graph.facebook.com", "type":
"facebook", "graph_url", "graph_version", "app_id", "app_secret"}``.

Cognito Identity (AWS JSON 1.1, ``POST /``)
--------------------------------------------
``GetId``, ``GetCredentialsForIdentity``, ``GetOpenIdToken``, ``ListIdentities``
(unsigned here; AWS wants an operator's keys for it); JWKS of its own
OpenID tokens at ``/.well-known/jwks_uri``. Login tokens are validated as the
service does (OIDC discovery + JWKS over HTTP, RS256, ``iss``, ``aud``,
``exp``; Facebook through Graph's ``debug_token``). Identity ids are
``{region}:uuid5(pool, logins key, subject)``: the same person gets the same
id on every sign-in and every start. Errors (``__type`` / message):

* ``ResourceNotFoundException``: ``IdentityPool 'X' not found.``,
  ``Identity 'X' not found.``
* ``NotAuthorizedException``: ``Unauthenticated access is not supported for
  this identity pool.``; ``Token is not from a supported provider of this
  identity pool.``; ``Invalid login token. Couldn't verify signed token.``;
  ``Invalid login token. Issuer doesn't match providerName``; ``Invalid login
  token. Incorrect token audience.`` (also a Facebook token of another app);
  ``Invalid login token. Token expired: <now> >= <exp>``; ``Invalid login
  token. Missing a required claim: aud``; ``Logins don't match. Please include
  at least one valid login for this identity or identity pool.``
* ``InvalidIdentityPoolConfigurationException``: ``Invalid identity pool
  configuration. Check assigned IAM roles for this pool.`` (the role's trust
  policy in moto's IAM lacks the pool's ``aud`` or the ``amr``)
* ``TooManyRequestsException``: ``Rate exceeded`` (fault ``throttle``)

S3 front
--------
See :mod:`.s3`: IAM-style authorization of the issued keys against their
role's inline policies (``AccessDenied``, ``InvalidAccessKeyId``,
``ExpiredToken``), presigned URL expiry, POST policy conditions
(``EntityTooLarge``, ``EntityTooSmall``, ``Invalid according to Policy``),
CORS from the bucket's rules only. Requests signed with the admin key pass.

Control API (JSON, ``/_control/`` on each of the two servers)
-------------------------------------------------------------
Identity: ``POST /faults`` ``{"fault": "throttle" | "down" (503 for every
call) | "bad_trust_policy" | "credentials_lifetime", "seconds": n}``;
``GET|DELETE /faults``; ``GET|DELETE /calls`` (``{"GetId": n, ...}``);
``POST /clock`` ``{"skew_seconds"}`` (the service's clock: token ``exp``
checks and credential expirations); ``POST /reset`` (faults, counters, clock,
JWKS cache; identities and issued keys stay, so ids and sessions survive).

S3: ``GET|DELETE /calls`` (requests per operation: ``GetObject``,
``PutObject``, ``PostObject``, ``ListObjectsV2``, ``PreflightRequest``, ...);
``GET /bytes`` ``{"received", "served"}``: object body bytes uploaded through
this server and served by it (``DELETE /calls`` clears both); ``POST /reset``
(counters, cached role policies and CORS rules).
"""

from .identity import create_identity_app
from .motoserver import bootstrap, start_moto
from .s3 import create_s3_app

__all__ = ["bootstrap", "create_identity_app", "create_s3_app", "start_moto"]
