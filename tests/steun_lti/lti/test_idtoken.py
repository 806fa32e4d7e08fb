"""The id_token check (steun_lti/lti/idtoken.py) against PyJWT's decode, token by token.

Steun verifies the launch's id_token itself (PyJWT's decode cost about 5% of a launch, issue 16);
PyJWT stays the yardstick: every token below gets the same verdict from both, except where
Steun is stricter on purpose (said per case)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from steun_lti.lti import idtoken
from steun_lti.lti.exceptions import TokenError, TokenExpired

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = jwt.PyJWK(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())), "RS256")
ISSUER, CLIENT = "https://lms.example", "tool-client"
LEEWAY = 60


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "user-1",
        "exp": now + 300,
        "iat": now,
        "nonce": "n-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def token(payload: dict[str, Any], *, key: Any = KEY, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1", **headers})


def pyjwt_verdict(value: str) -> bool:
    try:
        jwt.decode(
            value,
            PUBLIC,
            algorithms=["RS256"],
            audience=CLIENT,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
        )
    except jwt.PyJWTError:
        return False
    return True


def steun_verify(value: str) -> dict[str, Any]:
    return idtoken.verify(
        idtoken.parse(value), PUBLIC, audience=CLIENT, issuer=ISSUER, leeway=LEEWAY
    )


def steun_verdict(value: str) -> bool:
    try:
        steun_verify(value)
    except TokenError:
        return False
    return True


def with_part(value: str, index: int, part: str) -> str:
    parts = value.split(".")
    parts[index] = part
    return ".".join(parts)


def resign(header: dict[str, Any], payload_segment: str) -> str:
    """A token with this header and payload segment text, correctly signed."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    head = b64(json.dumps(header).encode())
    signature = KEY.sign(f"{head}.{payload_segment}".encode(), PKCS1v15(), SHA256())
    return f"{head}.{payload_segment}.{b64(signature)}"


NOW = int(time.time())
CASES: dict[str, str] = {
    "valid": token(claims()),
    "valid, aud a list naming the tool": token(claims(aud=["other", CLIENT])),
    "expired within the leeway": token(claims(exp=NOW - 30)),
    "expired beyond the leeway": token(claims(exp=NOW - 120)),
    "issued in the future within the leeway": token(claims(iat=NOW + 30)),
    "issued in the future beyond the leeway": token(claims(iat=NOW + 600)),
    "nbf in the future": token(claims(nbf=NOW + 600)),
    "nbf in the past": token(claims(nbf=NOW - 10)),
    "another issuer": token(claims(iss="https://evil.example")),
    "another audience": token(claims(aud="someone-else")),
    "aud a list without the tool": token(claims(aud=["a", "b"])),
    "aud a number": token(claims(aud=5)),
    "aud a list with a number": token(claims(aud=[CLIENT, 5])),
    "no nonce": token(claims(nonce=...)),
    "no exp": token(claims(exp=...)),
    "no iat": token(claims(iat=...)),
    "no iss": token(claims(iss=...)),
    "no aud": token(claims(aud=...)),
    "nonce null": token(claims(nonce=None)),
    "sub a number": token(claims(sub=12)),
    "jti a number": token(claims(jti=12)),
    "exp a float": token(claims(exp=NOW + 300.5)),
    "signed by another key": token(claims(), key=OTHER),
    "crit header": token(claims(), crit=["exp"]),
}
VALID = CASES["valid"]
_head, _payload, _sig = VALID.split(".")
CASES.update(
    {
        "payload changed after signing": with_part(
            VALID, 1, b64(json.dumps(claims(sub="admin")).encode())
        ),
        "signature cut short": with_part(VALID, 2, _sig[:-4]),
        "signature with padding": with_part(VALID, 2, _sig + "="),
        # The same signature bytes spelled with the last character's unused bits set.
        "signature with stray bits": with_part(VALID, 2, _sig[:-1] + chr(ord(_sig[-1]) + 1)),
        "signature with a character outside base64url": with_part(VALID, 2, "!" + _sig[1:]),
        "header alg none": with_part(VALID, 0, b64(b'{"alg":"none","kid":"k1"}')),
        "header alg HS256": with_part(VALID, 0, b64(b'{"alg":"HS256","kid":"k1"}')),
        "two segments": _head + "." + _payload,
        "four segments": VALID + ".x",
        "payload not JSON": resign({"alg": "RS256", "kid": "k1"}, b64(b"not json")),
        "payload a JSON list": resign({"alg": "RS256", "kid": "k1"}, b64(b"[1, 2]")),
        "kid a number": resign({"alg": "RS256", "kid": 7}, _payload),
    }
)


@pytest.mark.parametrize("case", sorted(CASES))
def test_steun_and_pyjwt_agree(case: str) -> None:
    value = CASES[case]
    assert steun_verdict(value) == pyjwt_verdict(value), case


@pytest.mark.parametrize(
    "case,value",
    [
        # PyJWT takes int("123"); a NumericDate is a JSON number (RFC 7519 §2).
        ("exp a numeric string", token(claims(exp=str(NOW + 300)))),
        ("iat a boolean", token(claims(iat=True))),
    ],
)
def test_steun_refuses_what_is_not_a_proper_token(case: str, value: str) -> None:
    assert not steun_verdict(value), case


def test_the_claims_are_those_of_the_verified_bytes_and_errors_say_what_failed() -> None:
    parsed = idtoken.parse(VALID)
    assert idtoken.verify(parsed, PUBLIC, audience=CLIENT, issuer=ISSUER)["nonce"] == "n-1"
    # The bare cryptography key works as well as the PyJWK holding it.
    assert idtoken.verify(parsed, KEY.public_key(), audience=CLIENT, issuer=ISSUER)
    with pytest.raises(TokenExpired, match="exp is in the past"):
        steun_verify(CASES["expired beyond the leeway"])
    with pytest.raises(TokenError, match="signature does not verify"):
        steun_verify(CASES["payload changed after signing"])
    with pytest.raises(TokenError, match="claim nonce missing"):
        steun_verify(CASES["no nonce"])
    with pytest.raises(TokenError, match="not accepted"):
        idtoken.parse(CASES["header alg none"])
    with pytest.raises(TokenError, match="not an RSA key"):
        idtoken.verify(parsed, "a shared secret", audience=CLIENT, issuer=ISSUER)
