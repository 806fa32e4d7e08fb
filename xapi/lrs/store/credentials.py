"""Credentials of the LRS: scopes, salted secret hashes, provisioning and authentication."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from xapi.lrs import schema as t
from xapi.lrs.exceptions import BadRequest, Conflict, NotFound
from xapi.lrs.store.clock import format_us, now_us
from xapi.lrs.store.connection import StoreBase
from xapi.tokens import cli_safe_token

SCOPES = (
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "profile",
    "define",
    "all/read",
    "all",
    "admin",
)


@dataclass
class Credential:
    id: int
    key: str
    scopes: frozenset[str]
    label: str

    def allows(self, *needed: str) -> bool:
        return bool(self.scopes & set(needed))

    @property
    def authority(self) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "name": self.label,
            "account": {"homePage": "urn:steun:lrs:credential", "name": self.key},
        }


def _hash_secret(salt: str, secret: str) -> str:
    # Secrets are generated (>= 128 bits of entropy), so one salted SHA-256 is enough and
    # keeps per-request authentication cheap (see docs/decisions/0006-lrs-storage.md).
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class Credentials(StoreBase):
    """Adding, listing and revoking credentials; checking one per request."""

    def add_credential(
        self, scopes: Iterable[str], label: str, key: str | None = None, secret: str | None = None
    ) -> tuple[str, str]:
        """Store a credential (secret salted and hashed) and return its key and secret."""
        scope_set = sorted(set(scopes))
        unknown = [s for s in scope_set if s not in SCOPES]
        if unknown or not scope_set:
            raise BadRequest(
                f"Unknown scope {', '.join(unknown) or '(none)'}; use {', '.join(SCOPES)}."
            )
        key = key or cli_safe_token(16)
        secret = secret or cli_safe_token(32)
        salt = secrets.token_hex(16)
        with self.write() as conn:
            if conn.execute(select(t.credential.c.id).where(t.credential.c.key == key)).first():
                raise Conflict(f"A credential with key '{key}' exists already.")
            conn.execute(
                insert(t.credential).values(
                    key=key,
                    salt=salt,
                    secret_hash=_hash_secret(salt, secret),
                    scopes=" ".join(scope_set),
                    label=label,
                    created_us=now_us(),
                    revoked=False,
                )
            )
        return key, secret

    def ensure_credential(self, key: str, secret: str, scopes: Iterable[str], label: str) -> None:
        """Make sure this exact credential exists and is active (provisioning on start)."""
        salt = secrets.token_hex(16)
        with self.write() as conn:
            row = conn.execute(select(t.credential.c.id).where(t.credential.c.key == key)).first()
            if row is not None:
                conn.execute(
                    update(t.credential)
                    .where(t.credential.c.id == row.id)
                    .values(
                        salt=salt,
                        secret_hash=_hash_secret(salt, secret),
                        scopes=" ".join(sorted(set(scopes))),
                        label=label,
                        revoked=False,
                    )
                )
                return
        with contextlib.suppress(Conflict):  # another worker provisioned it at the same moment
            self.add_credential(scopes, label, key=key, secret=secret)

    def list_credentials(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(select(t.credential).order_by(t.credential.c.id)).all()
        return [
            {
                "key": r.key,
                "scopes": r.scopes.split(),
                "label": r.label,
                "created": format_us(r.created_us),
                "revoked": bool(r.revoked),
            }
            for r in rows
        ]

    def revoke_credential(self, key: str) -> None:
        with self.write() as conn:
            result = conn.execute(
                update(t.credential).where(t.credential.c.key == key).values(revoked=True)
            )
            if result.rowcount == 0:
                raise NotFound(f"No credential with key '{key}'.")

    def authenticate(self, key: str, secret: str) -> Credential | None:
        """Checked against the database on every request, so that a revocation holds at once
        in every worker."""
        rows = self._raw_read(
            "SELECT id, key, salt, secret_hash, scopes, label FROM lrs_credential"
            " WHERE key = ? AND revoked = ?",
            (key, False),
        )
        if not rows:
            return None
        cred_id, cred_key, salt, secret_hash, scopes, label = rows[0]
        if not secrets.compare_digest(_hash_secret(salt, secret), secret_hash):
            return None
        return Credential(cred_id, cred_key, frozenset(scopes.split()), label)
