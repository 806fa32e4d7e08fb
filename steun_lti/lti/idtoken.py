"""The launch's id_token: parsed once, its RS256 signature and its claims checked here.

PyJWT's ``decode`` did the same work with a second base64 and JSON pass over the token and a
per-character check of every segment in Python, about 60% of its cost and some 5% of a whole
launch's CPU (issue 16). What this module checks, in PyJWT's order and with its meaning:

- compact form (three segments), each segment canonical base64url (no other alphabet, no stray
  bits), header and payload JSON objects; ``alg`` RS256 only, a string ``kid``, no ``crit``
  extension (none is supported, so a token that declares one critical is refused);
- the signature over the first two segments as sent, with the platform's RSA public key
  (PKCS#1 v1.5, SHA-256), before any claim is trusted;
- ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce`` present; ``iat`` and ``nbf`` not in the
  future and ``exp`` not in the past, each give or take ``leeway`` seconds; ``iss`` the
  platform's; ``aud`` a string or a list of strings that names this tool; ``sub`` and ``jti``
  strings when present.

The claims used to pick the registration before the signature is checked are the same parse
of the same bytes the signature covers, so what is verified is what is used.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

from steun_lti.lti.exceptions import TokenError, TokenExpired

MAX_CHARS = 64 * 1024
REQUIRED = ("iss", "aud", "exp", "iat", "nonce")
_PADDING = PKCS1v15()


@dataclass(frozen=True)
class IdToken:
    """An id_token split and parsed, not yet verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64(segment: str) -> bytes:
    """A base64url segment decoded, refused unless it is the one canonical spelling of its bytes
    (so neither ``+``/``/`` nor trailing bits nor misplaced padding get through)."""
    data = base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    if base64.urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii"):
        raise ValueError("not canonical base64url")
    return data


def _object(segment: str) -> dict[str, Any]:
    value = json.loads(_b64(segment))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def parse(id_token: str) -> IdToken:
    """The token's parts; :class:`TokenError` when it is not an RS256 JWT with a key id."""
    parts = id_token.split(".")
    if len(parts) != 3 or len(id_token) > MAX_CHARS:
        raise TokenError("id_token is not a JWT")
    try:
        header, claims = _object(parts[0]), _object(parts[1])
        signature = _b64(parts[2])
    except (ValueError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise TokenError("id_token is not a JWT") from exc
    if header.get("alg") != "RS256":
        raise TokenError(f"algorithm {str(header.get('alg'))[:20]!r} not accepted (RS256 only)")
    if not header.get("kid") or not isinstance(header["kid"], str):
        raise TokenError("id_token header has no kid")
    if "crit" in header:
        raise TokenError("id_token header names a critical extension, none is supported")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii")
    return IdToken(header, claims, signing_input, signature)


def _numeric(claims: dict[str, Any], name: str) -> int:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"claim {name} is not a number")
    try:
        return int(value)
    except (ValueError, OverflowError) as exc:  # NaN, Infinity
        raise TokenError(f"claim {name} is not a number") from exc


def verify(
    token: IdToken, key: Any, *, audience: str, issuer: str, leeway: float = 0
) -> dict[str, Any]:
    """The token's claims, once its signature verifies with ``key`` (an RSA public key, or a
    ``jwt.PyJWK`` holding one) and its claims hold; :class:`TokenError` or
    :class:`TokenExpired` saying what failed otherwise."""
    public = getattr(key, "key", key)
    if not isinstance(public, RSAPublicKey):
        raise TokenError("the platform's key is not an RSA key")
    try:
        public.verify(token.signature, token.signing_input, _PADDING, SHA256())
    except InvalidSignature as exc:
        raise TokenError("signature does not verify") from exc
    claims = token.claims
    for name in REQUIRED:
        if claims.get(name) is None:
            raise TokenError(f"claim {name} missing")
    now = time.time()
    if _numeric(claims, "iat") > now + leeway or (
        "nbf" in claims and _numeric(claims, "nbf") > now + leeway
    ):
        raise TokenError("token not yet valid (iat/nbf in the future)")
    if _numeric(claims, "exp") <= now - leeway:
        raise TokenExpired("exp is in the past")
    if claims["iss"] != issuer:
        raise TokenError("iss is not the platform's issuer")
    audiences = claims["aud"]
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise TokenError("aud claim malformed")
    if audience not in audiences:
        raise TokenError("aud does not name this tool")
    for name in ("sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise TokenError(f"claim {name} is not a string")
    return claims
