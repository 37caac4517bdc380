"""Each id-token rule, alone: a test per check, each failing if the check is removed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from webapp import tokens
from webapp.errors import FedlabError

ISSUER = "https://issuer.example"
CLIENT = "client-1"
NONCE = "n-0S6_WzA2Mj"
ACCESS = "access-token-value"


def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


PRIVATE = rsa_pem()
OTHER_PRIVATE = rsa_pem()


def public_jwk(pem: bytes, kid: str) -> dict:
    public = jwk.construct(pem, "RS256").public_key().to_dict()
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


JWKS = {"keys": [public_jwk(PRIVATE, "k1")]}


def claims(**changes) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "user-1", "aud": CLIENT, "iat": now, "exp": now + 300,
            "nonce": NONCE}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict, pem: bytes = PRIVATE, kid: str = "k1", access_token=ACCESS) -> str:
    return jwt.encode(payload, pem, algorithm="RS256", headers={"kid": kid},
                      access_token=access_token)


def validate(token: str, keys=None, **kwargs) -> dict:
    options = {"client_id": CLIENT, "issuers": [ISSUER], "access_token": ACCESS,
               "nonce": NONCE, "load_keys": keys or (lambda force=False: JWKS)}
    options.update(kwargs)
    return tokens.validate_id_token(token, **options)


def rejected_check(token: str, **kwargs) -> str:
    with pytest.raises(FedlabError) as caught:
        validate(token, **kwargs)
    assert caught.value.code == "id_token_rejected"
    return caught.value.details["check"]


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_good_token_passes():
    assert validate(sign(claims()))["sub"] == "user-1"


def test_alg_none_is_refused_even_if_discovery_lists_it():
    token = f"{b64({'alg': 'none', 'kid': 'k1'})}.{b64(claims())}."
    assert rejected_check(token, supported_algorithms=["RS256", "none"]) == "alg"


def test_an_allowed_alg_that_discovery_does_not_list_is_refused():
    assert rejected_check(sign(claims()), supported_algorithms=["ES256"]) == "alg"


def test_hs256_signed_with_the_public_key_is_refused():
    public_pem = jwk.construct(PRIVATE, "RS256").public_key().to_pem()
    signing_input = f"{b64({'alg': 'HS256', 'kid': 'k1'})}.{b64(claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert rejected_check(f"{signing_input}.{b64(mac)}") == "alg"


def test_a_tampered_signature_is_refused():
    head, _body, signature = sign(claims()).split(".")
    forged = f"{head}.{b64(claims(sub='someone-else'))}.{signature}"
    assert rejected_check(forged) == "signature"


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused():
    assert rejected_check(sign(claims(), pem=OTHER_PRIVATE)) == "signature"


def test_wrong_issuer():
    assert rejected_check(sign(claims(iss="https://evil.example"))) == "iss"


def test_wrong_audience():
    assert rejected_check(sign(claims(aud="another-client"))) == "aud"


def test_wrong_audience_with_the_right_azp():
    assert rejected_check(sign(claims(aud=["another-client"], azp=CLIENT))) == "aud"


def test_several_audiences_need_azp():
    assert rejected_check(sign(claims(aud=[CLIENT, "another-client"]))) == "azp"
    assert validate(sign(claims(aud=[CLIENT, "another-client"], azp=CLIENT)))


def test_wrong_azp():
    assert rejected_check(sign(claims(azp="another-client"))) == "azp"


def test_expired():
    now = int(time.time())
    assert rejected_check(sign(claims(iat=now - 400, exp=now - tokens.LEEWAY - 5))) == "exp"


def test_missing_exp():
    assert rejected_check(sign(claims(exp=None))) == "exp"


def test_small_clock_skew_is_accepted():
    now = int(time.time())
    skew = 30  # a provider's clock half a minute off either way
    assert validate(sign(claims(iat=now + skew, exp=now + skew + 300)))
    assert validate(sign(claims(iat=now - 300, exp=now - skew)))


def test_issued_in_the_future():
    assert rejected_check(sign(claims(iat=int(time.time()) + tokens.LEEWAY + 60))) == "iat"


def test_issued_too_long_ago():
    now = int(time.time())
    assert rejected_check(sign(claims(iat=now - tokens.MAX_IAT_AGE - tokens.LEEWAY - 5))) == "iat"


def test_wrong_nonce():
    assert rejected_check(sign(claims(nonce="another-nonce"))) == "nonce"


def test_missing_nonce():
    assert rejected_check(sign(claims(nonce=None))) == "nonce"


def test_a_refreshed_token_may_omit_the_nonce_but_not_change_it():
    assert validate(sign(claims(nonce=None)), require_nonce=False)
    assert rejected_check(sign(claims(nonce="another")), require_nonce=False) == "nonce"


def test_at_hash_must_match_the_access_token():
    token = sign(claims(), access_token="a-different-access-token")
    assert rejected_check(token) == "at_hash"


def test_missing_sub():
    assert rejected_check(sign(claims(sub=None))) == "sub"


def test_a_missing_registered_claim_is_named():
    """python-jose says which claim is missing only in words; the refusal names it."""
    assert rejected_check(sign(claims(aud=None))) == "aud"
    assert rejected_check(sign(claims(iss=None))) == "iss"
    assert rejected_check(sign(claims(iat=None))) == "iat"


def test_a_jti_that_is_not_a_string_is_named():
    assert rejected_check(sign(claims(jti=42))) == "jti"


def test_a_logout_token_is_not_an_id_token():
    """Same issuer, keys and audience, a nonce even: its events claim gives it away."""
    event = "http://schemas.openid.net/event/backchannel-logout"
    assert rejected_check(sign(claims(events={event: {}}))) == "events"


def test_unknown_kid_refetches_the_keys_once_and_accepts_a_rotated_key():
    calls = []
    rotated = {"keys": [*JWKS["keys"], public_jwk(OTHER_PRIVATE, "k2")]}

    def load_keys(force=False):
        calls.append(force)
        return rotated if force else JWKS

    assert validate(sign(claims(), pem=OTHER_PRIVATE, kid="k2"), keys=load_keys)
    assert calls == [False, True]


def test_a_kid_never_published_is_refused_after_one_refetch():
    calls = []

    def load_keys(force=False):
        calls.append(force)
        return JWKS

    assert rejected_check(sign(claims(), pem=OTHER_PRIVATE, kid="k9"), keys=load_keys) == "kid"
    assert calls == [False, True]


ATTACKER_JWKS = {"keys": [public_jwk(OTHER_PRIVATE, "attacker")]}


@pytest.mark.parametrize("where", [
    {"jwk": ATTACKER_JWKS["keys"][0]},
    # A jku that, if followed, hands over the attacker's key with no network at all.
    {"jku": "data:application/json," + quote(json.dumps(ATTACKER_JWKS))},
])
def test_keys_come_from_jwks_uri_never_from_the_token(where):
    calls = []

    def load_keys(force=False):
        calls.append(force)
        return JWKS

    token = jwt.encode(claims(), OTHER_PRIVATE, algorithm="RS256", access_token=ACCESS,
                       headers={"kid": "attacker", **where})
    assert rejected_check(token, keys=load_keys) == "kid"
    assert calls == [False, True]


def test_check_refreshed_refuses_another_subject():
    with pytest.raises(FedlabError) as caught:
        tokens.check_refreshed(claims(), claims(sub="user-2"))
    assert caught.value.details["check"] == "sub"


def test_userinfo_about_another_subject_is_refused():
    with pytest.raises(FedlabError) as caught:
        tokens.check_userinfo(claims(), {"sub": "user-2"})
    assert caught.value.code == "userinfo_sub_mismatch"
    tokens.check_userinfo(claims(), {"sub": "user-1"})


def test_describe_never_returns_the_token():
    token = sign(claims())
    view = tokens.describe(token)
    assert token not in repr(view) and token.split(".")[2] not in repr(view)
    assert {c.name: c.text for c in view.payload}["sub"] == "user-1"


def test_describe_escapes_markup_in_claims_and_reuses_its_view():
    token = sign(claims(name="</pre><script>alert(1)</script>"))
    view = tokens.describe(token)
    assert "<script>" not in view.payload_json and "\\u003c" in view.payload_json
    assert tokens.describe(token) is view  # decoded once per token, not per page view


def test_the_picture_notes_aud_only_once_the_audience_check_passed():
    """Two audiences and no azp: refused by the azp rule, and the step the picture
    keeps does not say the audience check passed."""
    from flask import Flask

    from webapp import steps

    with Flask(__name__).app_context():
        with pytest.raises(FedlabError) as refused, steps.checking("id token checks"):
            validate(sign(claims(aud=[CLIENT, "another-client"])))
        assert refused.value.details["check"] == "azp"
        step = steps.noted()[-1]
        assert step.outcome == "refused: azp"
        assert "signature: RS256" in step.checks and "aud: this client" not in step.checks
        with steps.checking("id token checks"):
            validate(sign(claims()))
        assert "aud: this client" in steps.noted()[-1].checks


def test_a_key_that_changed_under_the_same_kid_is_the_one_used():
    """Keys made from the JWKS are kept by what the member says, not by its kid: a
    provider that replaces a key under the same kid is checked with the new one,
    and a token signed by the old one is refused."""
    assert validate(sign(claims()))["sub"]  # the kid k1 is PRIVATE's, and kept
    rotated = {"keys": [public_jwk(OTHER_PRIVATE, "k1")]}
    assert validate(sign(claims(), pem=OTHER_PRIVATE), keys=lambda force=False: rotated)["sub"]
    assert rejected_check(sign(claims()), keys=lambda force=False: rotated) == "signature"


def test_a_jwks_member_that_is_no_key_is_refused_by_name():
    """A member python-jose cannot make a key of (an RSA key without its modulus) is
    the kid check's refusal, not an error page of the site's own."""
    broken = {k: v for k, v in public_jwk(PRIVATE, "k1").items() if k != "n"}
    assert rejected_check(sign(claims()), keys=lambda force=False: {"keys": [broken]}) == "kid"
