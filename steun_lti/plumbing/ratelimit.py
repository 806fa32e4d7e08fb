"""A token bucket per client key, kept in the tool's database so every worker shares it.

A bucket in process memory multiplies with the number of gunicorn workers (and empties on every
restart). Here one statement per request does the work on SQLite and PostgreSQL alike: an
``INSERT … ON CONFLICT DO UPDATE … WHERE`` that refills the bucket for the time passed and takes one
token only when one is there; ``RETURNING`` tells whether a row was written. The row lock of the
upsert (PostgreSQL) or the single writer (SQLite) makes it atomic across workers.

Keys are HMACs of the client address, never the address itself. A bucket untouched for
``burst / rate`` seconds is full again, the same as no row at all: :func:`purge` deletes those.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from sqlalchemy import Float, String, case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from steun_lti.plumbing.db import Base


class RateBucket(Base):
    __tablename__ = "rate_bucket"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, nullable=False)
    updated: Mapped[float] = mapped_column(Float, nullable=False, index=True)  # epoch seconds


def bucket_key(secret: str, scope: str, client: str) -> str:
    """A stable, non-reversible key for ``client`` (an address) within ``scope`` (e.g. "relay")."""
    message = f"{scope}\0{client}".encode()
    return scope[:16] + ":" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(RateBucket)
    if dialect == "sqlite":
        return sqlite.insert(RateBucket)
    raise NotImplementedError(f"rate limiting needs SQLite or PostgreSQL, not {dialect}")


def take(
    session: Session,
    key: str,
    *,
    rate: float,
    burst: float,
    cost: float = 1.0,
    now: float | None = None,
) -> bool:
    """Take ``cost`` tokens from ``key``'s bucket (``rate`` a second, ``burst`` at most).

    True when they were there. The change is part of the session's transaction: commit it.
    """
    if burst < cost:
        return False
    now = time.time() if now is None else now
    table = RateBucket.__table__
    refilled = table.c.tokens + (literal(now) - table.c.updated) * rate
    available = case((refilled > burst, literal(burst)), else_=refilled)
    statement = (
        _insert(session)
        .values(key=key, tokens=burst - cost, updated=now)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"tokens": available - cost, "updated": now},
            where=available >= cost,
        )
        .returning(table.c.tokens)
    )
    return session.execute(statement).first() is not None


def purge(session: Session, *, rate: float, burst: float, now: float | None = None) -> int:
    """Delete buckets that have refilled completely (they mean the same as no row)."""
    now = time.time() if now is None else now
    full_after = burst / rate if rate > 0 else 24 * 3600.0
    result = session.execute(delete(RateBucket).where(RateBucket.updated < now - full_after))
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count
