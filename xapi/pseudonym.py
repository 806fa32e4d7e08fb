"""Pseudonyms: a keyed hash of an LMS identity, computed at the edge.

The same (issuer, subject) always maps to the same pseudonym under the same key; without the key the
pseudonym cannot be linked back (OIDC ``sub`` is unique only within its issuer, so both go in).
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(key: str | bytes, issuer: str, subject: str, *, prefix: str = "p") -> str:
    """HMAC-SHA256(key, issuer NUL subject), as ``<prefix>-<32 hex chars>``."""
    raw_key = key.encode() if isinstance(key, str) else key
    digest = hmac.new(raw_key, f"{issuer}\x00{subject}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:32]}"
