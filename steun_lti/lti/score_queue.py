"""The score queue: AGS scores wait in the tool's database until the LMS has taken them.

One row per (registration, gradebook column, user): the column is the launch's line item, or the
resource link and tag Steun finds or creates one for; the user is the launch's pseudonym. A newer
score replaces an unsent (or refused, or delivered) older one, so the newest state always wins;
its ``score_at`` travels as the AGS ``timestamp``, so an LMS never takes an older state over a
newer one either.

A row keeps what delivery needs after the 8-hour launch record is gone: the AGS endpoint claim
(``lineitem``, ``lineitems``, ``scope``), the resource link and target for find-or-create, and the
platform's user id *sealed* (Fernet). The sealed id is wiped when the score is delivered, and
when a row waited longer than the retention (``STEUN_GRADES_RETENTION_DAYS``), whatever its state.

States: ``pending`` (due at ``next_attempt_at``), ``sending`` (claimed, a lease), ``delivered``,
``refused`` (the LMS said no: parked with its answer, not retried until ``steun grades retry``),
``expired`` (given up after the retention; nothing personal left). Delivery is in
:mod:`steun_lti.lti.ags`; see docs/decisions/0011-score-queue.md.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from steun_lti.lti.models import LtiRegistration
from steun_lti.plumbing.db import Base

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
REFUSED = "refused"
EXPIRED = "expired"
STATES = (PENDING, SENDING, DELIVERED, REFUSED, EXPIRED)

RETRY_BASE = 30.0  # seconds before the first retry
RETRY_CAP = 3600.0  # never wait longer than an hour between tries


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class LtiScore(Base):
    """The newest score of one user in one gradebook column, on its way to the LMS."""

    __tablename__ = "lti_score"
    __table_args__ = (Index("ix_lti_score_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256, see score_key()
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[dict[str, Any]] = mapped_column(JSON)  # the AGS claim: lineitem(s), scope
    resource_link_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed platform user id
    given: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    score_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the AGS timestamp
    version: Mapped[int] = mapped_column(Integer, default=1)  # +1 with every newer score
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


def score_key(
    registration_id: int,
    endpoint: Mapping[str, Any],
    resource_link_id: str | None,
    tag: str,
    pseudonym: str,
) -> str:
    """The row of one user in one column: the launch's line item, else link + tag in a container."""
    column = (
        ["item", str(endpoint["lineitem"])]
        if endpoint.get("lineitem")
        else ["link", str(endpoint.get("lineitems") or ""), resource_link_id or "", tag]
    )
    parts = [str(registration_id), *column, pseudonym]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def enqueue_score(
    session: Session,
    *,
    key: str,
    registration_id: int,
    endpoint: Mapping[str, Any],
    resource_link_id: str | None,
    target: str | None,
    sealed_subject: str,
    given: float,
    maximum: float,
    score_at: datetime | None = None,
) -> int:
    """Queue the newest score of a user in a column (in the caller's transaction); its row id.

    An older state in the row, sent or not, is replaced and the row is due at once; a state older
    than the one the row holds is ignored (it must never overtake a newer one).
    """
    at = score_at or utcnow()
    values: dict[str, Any] = {
        "registration_id": registration_id,
        "endpoint": dict(endpoint),
        "resource_link_id": resource_link_id,
        "target": target,
        "subject": sealed_subject,
        "given": float(given),
        "maximum": float(maximum),
        "score_at": at,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "claimed_by": None,
        "claimed_until": None,
        "delivered_at": None,
        "last_error": None,
    }
    for _ in range(3):
        row = session.scalars(
            select(LtiScore).where(LtiScore.key == key).execution_options(populate_existing=True)
        ).first()
        if row is None:
            try:
                with session.begin_nested():
                    row = LtiScore(key=key, version=1, created_at=utcnow(), **values)
                    session.add(row)
                return row.id
            except IntegrityError:  # another request queued this user's row a moment ago
                continue
        if aware(row.score_at) > at:
            return row.id
        session.execute(
            update(LtiScore)
            .where(LtiScore.id == row.id)
            .values(version=LtiScore.version + 1, **values)
        )
        return row.id
    raise RuntimeError("could not queue the score")  # pragma: no cover - three lost races


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: about base·2ⁿ⁻¹ seconds, never more than the cap."""
    ceiling = min(RETRY_CAP, RETRY_BASE * (2 ** max(0, min(attempts - 1, 20))))
    return (rng or random).uniform(ceiling / 2, ceiling)


# -- claiming ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    version: int


def claim(
    session: Session,
    worker: str,
    *,
    lease: float = 120.0,
    limit: int = 20,
    ids: Iterable[int] | None = None,
    ignore_backoff: bool = False,
) -> list[Claimed]:
    """Claim due rows (or the given ones) for ``worker``; commits. Several workers never share one.

    On PostgreSQL with ``FOR UPDATE SKIP LOCKED``, on SQLite with one atomic UPDATE ... RETURNING.
    A lease that ran out (a worker that died) makes its rows claimable again.
    """
    now = utcnow()
    table = LtiScore.__table__.c
    pending = table.status == PENDING
    if not ignore_backoff:
        pending = and_(pending, table.next_attempt_at <= now)
    due = (
        select(table.id)
        .where(or_(pending, and_(table.status == SENDING, table.claimed_until < now)))
        .order_by(table.id)
        .limit(limit)
    )
    if ids is not None:
        due = due.where(table.id.in_(list(ids)))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = session.execute(
        update(LtiScore)
        .where(table.id.in_(due.scalar_subquery()))
        .values(
            status=SENDING,
            claimed_by=worker,
            claimed_until=now + timedelta(seconds=lease),
        )
        .returning(table.id, table.version)
    ).all()
    session.commit()
    return sorted((Claimed(int(r[0]), int(r[1])) for r in rows), key=lambda c: c.id)


def sendable(session: Session, *, ignore_backoff: bool = False) -> list[int]:
    """Ids of the rows a sender may claim now (or, ``ignore_backoff``, all that wait)."""
    now = utcnow()
    pending = LtiScore.status == PENDING
    if not ignore_backoff:
        pending = and_(pending, LtiScore.next_attempt_at <= now)
    stale = and_(LtiScore.status == SENDING, LtiScore.claimed_until < now)
    return list(
        session.scalars(select(LtiScore.id).where(or_(pending, stale)).order_by(LtiScore.id))
    )


def settle(session: Session, claimed: Claimed, worker: str, **values: Any) -> bool:
    """Record the outcome of a claimed row, unless a newer score replaced it meanwhile; commits."""
    done = session.execute(
        update(LtiScore)
        .where(
            LtiScore.id == claimed.id,
            LtiScore.version == claimed.version,
            LtiScore.claimed_by == worker,
        )
        .values(claimed_by=None, claimed_until=None, **values)
    )
    session.commit()
    return bool(done.rowcount)  # type: ignore[attr-defined]


def delivered(session: Session, claimed: Claimed, worker: str) -> bool:
    return settle(
        session,
        claimed,
        worker,
        status=DELIVERED,
        delivered_at=utcnow(),
        subject=None,  # the sealed user id is needed no longer
        last_error=None,
    )


def refused(session: Session, claimed: Claimed, worker: str, reason: str) -> bool:
    return settle(
        session,
        claimed,
        worker,
        status=REFUSED,
        attempts=LtiScore.attempts + 1,
        last_error=reason[:500],
    )


def retry_later(
    session: Session, claimed: Claimed, worker: str, reason: str, attempts: int
) -> float:
    delay = retry_delay(attempts + 1)
    settle(
        session,
        claimed,
        worker,
        status=PENDING,
        attempts=attempts + 1,
        next_attempt_at=utcnow() + timedelta(seconds=delay),
        last_error=reason[:500],
    )
    return delay


# -- operator ---------------------------------------------------------------------------------


@dataclass
class RefusedScore:
    id: int
    issuer: str
    reason: str
    since: datetime
    attempts: int


@dataclass
class GradesStatus:
    counts: dict[str, int]
    oldest_pending: datetime | None
    last_error: str | None  # of a row still waiting for a retry
    refused: list[RefusedScore]

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "oldest_pending": self.oldest_pending.isoformat() if self.oldest_pending else None,
            "last_error": self.last_error,
            "refused": [
                {
                    "row": r.id,
                    "issuer": r.issuer,
                    "reason": r.reason,
                    "since": r.since.isoformat(),
                    "attempts": r.attempts,
                }
                for r in self.refused
            ],
        }


def counts(session: Session) -> dict[str, int]:
    found = dict.fromkeys(STATES, 0)
    for status, n in session.execute(
        select(LtiScore.status, func.count()).group_by(LtiScore.status)
    ):
        found[str(status)] = int(n)
    return found


def grades_status(session: Session, refused_limit: int = 50) -> GradesStatus:
    """Counts per state, the oldest waiting score, the refused ones with the LMS's answer.

    Never a user id, sealed or not: the operator needs the reason and the platform.
    """
    oldest = session.execute(
        select(func.min(LtiScore.score_at)).where(LtiScore.status.in_([PENDING, SENDING]))
    ).scalar_one()
    last_error = session.execute(
        select(LtiScore.last_error)
        .where(LtiScore.status == PENDING, LtiScore.last_error.is_not(None))
        .order_by(LtiScore.next_attempt_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    refused_rows = [
        RefusedScore(
            id=row.id,
            issuer=issuer,
            reason=row.last_error or "",
            since=aware(row.score_at),
            attempts=row.attempts,
        )
        for row, issuer in session.execute(
            select(LtiScore, LtiRegistration.issuer)
            .join(LtiRegistration, LtiRegistration.id == LtiScore.registration_id)
            .where(LtiScore.status == REFUSED)
            .order_by(LtiScore.id)
            .limit(refused_limit)
        ).tuples()
    ]
    return GradesStatus(
        counts(session), aware(oldest) if oldest else None, last_error, refused_rows
    )


def requeue_refused(session: Session, row_ids: Iterable[int] | None = None) -> int:
    """Put refused rows back in the queue (after the cause was fixed in the LMS); not committed."""
    stmt = update(LtiScore).where(LtiScore.status == REFUSED, LtiScore.subject.is_not(None))
    if row_ids is not None:
        stmt = stmt.where(LtiScore.id.in_(list(row_ids)))
    result = session.execute(
        stmt.values(status=PENDING, next_attempt_at=utcnow(), attempts=0, claimed_by=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_expired(session: Session, retention: timedelta) -> int:
    """After the retention: undelivered rows give up (sealed id wiped), delivered rows go; commits.

    Returns how many rows gave up.
    """
    cutoff = utcnow() - retention
    gave_up = session.execute(
        update(LtiScore)
        .where(
            LtiScore.status.in_([PENDING, REFUSED]),
            LtiScore.score_at < cutoff,
        )
        .values(
            status=EXPIRED,
            subject=None,
            claimed_by=None,
            claimed_until=None,
        )
    )
    session.execute(
        delete(LtiScore).where(
            LtiScore.status.in_([DELIVERED, EXPIRED]),
            or_(LtiScore.delivered_at < cutoff, LtiScore.score_at < cutoff - retention),
        )
    )
    session.commit()
    return int(gave_up.rowcount)  # type: ignore[attr-defined]
