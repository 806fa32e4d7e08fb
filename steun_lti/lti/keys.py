"""The tool's signing keys: RSA 2048, kept in the database so every worker and host shares them.

All keys that are not retired are published in ``/lti/jwks.json``; the newest signs. Rotating adds a
new key and retires all but the previous one, so a platform that cached the JWKS keeps verifying
messages signed just before the rotation.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from steun_lti.lti import adapter
from steun_lti.lti.models import LtiRegistration, LtiToolKey


def _new_key() -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = secrets.token_urlsafe(12)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return LtiToolKey(kid=kid, private_pem=pem, public_jwk=jwk)


def active_keys(session: Session) -> list[LtiToolKey]:
    """Unretired keys, newest first (creating the first one on first use)."""
    keys = list(
        session.scalars(
            select(LtiToolKey).where(LtiToolKey.retired_at.is_(None)).order_by(LtiToolKey.id.desc())
        )
    )
    if not keys:
        key = _new_key()
        session.add(key)
        session.commit()
        keys = [key]
    return keys


def signing_key(session: Session) -> LtiToolKey:
    return active_keys(session)[0]


def platform_access(session: Session, registration: LtiRegistration) -> adapter.PlatformAccess:
    """What calling this platform's services (AGS) or signing a message to it needs."""
    key = signing_key(session)
    return adapter.PlatformAccess(
        issuer=registration.issuer,
        client_id=registration.client_id,
        auth_token_url=registration.auth_token_url,
        auth_audience=registration.auth_audience,
        private_pem=key.private_pem,
        kid=key.kid,
    )


def jwks(session: Session) -> dict[str, list[dict[str, object]]]:
    return {"keys": [dict(k.public_jwk) for k in active_keys(session)]}


def rotate(session: Session, keep: int = 1) -> LtiToolKey:
    """Add a new signing key; keep ``keep`` previous keys published, retire older ones."""
    old = active_keys(session)
    key = _new_key()
    session.add(key)
    now = datetime.now(UTC)
    for previous in old[keep:]:
        previous.retired_at = now
    session.commit()
    return key
