"""The transactional outbox: statements are queued in the tool's database and delivered later.

A statement row is added to the *same* session (so the same transaction) as the answer it
records: both commit or neither does, so no answer is ever without its statement. A
:class:`Sender` then posts them in batches to the LRS:

- rows are *claimed* before sending — on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``, on
  SQLite with one atomic ``UPDATE … RETURNING`` — so several workers never send the same row at once;
  a claim is a lease: rows of a worker that died become claimable again when it runs out;
- 200/204 are delivered; 409 (the LRS already holds that id) counts as delivered too;
- a 400 is bisected down to the one statement the LRS refuses, which is *parked* with the reason;
- the LRS unreachable, 5xx, 429 or refused credentials: the batch goes back, and the sender waits with
  exponential backoff and full jitter (honouring Retry-After) before it tries again.

Statement ids are uuid5 of natural keys, so a statement sent twice (a lease that ran out while the
LRS was slow) is stored once by the LRS.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from steun_lti.plumbing.background import BackgroundLoop
from steun_lti.plumbing.db import Base, Database
from xapi.client import LrsClient
from xapi.exceptions import (
    LrsConflict,
    LrsError,
    LrsRejected,
    StatementInvalid,
)
from xapi.validate import validate_statement

log = logging.getLogger("steun.outbox")

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
PARKED = "parked"


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxStatement(Base):
    """One statement waiting for (or done with) delivery to the LRS."""

    __tablename__ = "xapi_outbox"
    __table_args__ = (Index("ix_xapi_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(36), index=True)
    statement: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    child_code: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


def drop_queued(session: Session, actor: str) -> int:
    """Delete what is queued (pending or parked) about one person; what is being sent goes on."""
    result = session.execute(
        delete(OutboxStatement).where(
            OutboxStatement.actor == actor, OutboxStatement.status.in_((PENDING, PARKED))
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def enqueue(
    session: Session,
    statement: Mapping[str, Any],
    *,
    actor: str,
    child_code: str | None = None,
) -> str:
    """Validate and add a statement to the caller's transaction; returns its statement id.

    An invalid statement is a bug of ours, not of the user: the fact it records must still be
    saved, so the row is parked at once with the reason (visible in ``steun outbox status``).
    The row is written by one prebuilt INSERT in the caller's transaction (it commits or rolls
    back with the fact), not through the ORM's unit of work: a launch queues one on every
    participant's launch (``benchmarks/launch_profile.py``).
    """
    now = utcnow()
    values: dict[str, Any] = {
        "statement_id": str(statement.get("id", "")),
        "statement": json.dumps(statement, separators=(",", ":"), ensure_ascii=False),
        "actor": actor,
        "child_code": child_code,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": None,
    }
    try:
        validate_statement(statement)
    except StatementInvalid as exc:
        log.error("Statement %s is invalid and parked: %s", values["statement_id"], exc.message)
        values["status"] = PARKED
        values["last_error"] = f"invalid before sending: {exc.message}"
    session.connection().execute(_ENQUEUE, values)
    return str(values["statement_id"])


_ENQUEUE = insert(cast(Table, OutboxStatement.__table__))


# -- status -------------------------------------------------------------------------------


@dataclass
class OutboxStatus:
    counts: dict[str, int]
    oldest_pending: datetime | None
    parked: list[tuple[int, str, str]]  # (row id, statement id, reason)
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "oldest_pending": self.oldest_pending.isoformat() if self.oldest_pending else None,
            "parked": [{"row": r, "statement_id": s, "reason": e} for r, s, e in self.parked],
            "last_error": self.last_error,
        }


def outbox_status(session: Session, parked_limit: int = 20) -> OutboxStatus:
    counts = {s: 0 for s in (PENDING, SENDING, DELIVERED, PARKED)}
    for status, n in session.execute(
        select(OutboxStatement.status, func.count()).group_by(OutboxStatement.status)
    ):
        counts[status] = int(n)
    oldest = session.execute(
        select(func.min(OutboxStatement.created_at)).where(
            OutboxStatement.status.in_([PENDING, SENDING])
        )
    ).scalar_one()
    parked = [
        (r.id, r.statement_id, r.last_error or "")
        for r in session.scalars(
            select(OutboxStatement)
            .where(OutboxStatement.status == PARKED)
            .order_by(OutboxStatement.id)
            .limit(parked_limit)
        )
    ]
    last_error = session.execute(
        select(OutboxStatement.last_error)
        .where(OutboxStatement.status == PENDING, OutboxStatement.last_error.is_not(None))
        .order_by(OutboxStatement.id)
        .limit(1)
    ).scalar_one_or_none()
    return OutboxStatus(counts, oldest, parked, last_error)


def requeue_parked(session: Session, row_ids: Iterable[int] | None = None) -> int:
    """Put parked rows back in the queue (after the cause was fixed)."""
    stmt = update(OutboxStatement).where(OutboxStatement.status == PARKED)
    if row_ids is not None:
        stmt = stmt.where(OutboxStatement.id.in_(list(row_ids)))
    result = session.execute(
        stmt.values(status=PENDING, next_attempt_at=utcnow(), attempts=0, claimed_by=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def not_parked(session: Session, row_ids: Iterable[int]) -> dict[int, str]:
    """Of the given rows, those requeue cannot take, with why: absent, or their status."""
    wanted = list(dict.fromkeys(row_ids))
    query = select(OutboxStatement.id, OutboxStatement.status).where(OutboxStatement.id.in_(wanted))
    found = {row: status for row, status in session.execute(query)}
    return {row: found.get(row, "not in the outbox") for row in wanted if found.get(row) != PARKED}


def purge_delivered(session: Session, older_than: timedelta) -> int:
    result = session.execute(
        delete(OutboxStatement).where(
            OutboxStatement.status == DELIVERED,
            OutboxStatement.delivered_at < utcnow() - older_than,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- sending ------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    statement_id: str
    statement: str  # the JSON text, posted as it is


@dataclass
class RunResult:
    delivered: int = 0
    parked: int = 0
    failed_batches: int = 0
    last_error: str | None = None
    batches: int = 0

    def add(self, other: RunResult) -> None:
        self.delivered += other.delivered
        self.parked += other.parked
        self.failed_batches += other.failed_batches
        self.batches += other.batches
        self.last_error = other.last_error or self.last_error


@dataclass
class Backoff:
    """Exponential backoff with full jitter: a random wait in [base, min(cap, base·2ⁿ)]."""

    base: float = 0.5
    cap: float = 60.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, retry_after: float | None = None) -> float:
        self.failures += 1
        ceiling = min(self.cap, self.base * (2 ** min(self.failures, 30)))
        delay = self.rng.uniform(self.base, max(self.base, ceiling))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def reset(self) -> None:
        self.failures = 0


class Sender:
    """Claims due rows and posts them to the LRS. Safe to run in several processes at once."""

    def __init__(
        self,
        database: Database,
        client_factory: Callable[[], LrsClient],
        *,
        batch_size: int = 100,
        lease: float = 120.0,
        backoff: Backoff | None = None,
        worker: str | None = None,
    ) -> None:
        self.database = database
        self.client_factory = client_factory
        self.batch_size = batch_size
        self.lease = lease
        self.backoff = backoff or Backoff()
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._client: LrsClient | None = None
        self.wait_until: datetime | None = None

    @property
    def client(self) -> LrsClient:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # claiming
    def claim(self) -> list[Claimed]:
        now = utcnow()
        lease_end = now + timedelta(seconds=self.lease)
        table = OutboxStatement.__table__.c
        due = (
            select(table.id)
            .where(
                or_(
                    and_(table.status == PENDING, table.next_attempt_at <= now),
                    and_(table.status == SENDING, table.claimed_until < now),
                )
            )
            .order_by(table.id)
            .limit(self.batch_size)
        )
        if self.database.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(OutboxStatement)
            .where(table.id.in_(due.scalar_subquery()))
            .values(status=SENDING, claimed_by=self.worker, claimed_until=lease_end)
            .returning(table.id, table.statement_id, table.statement)
        )
        with self.database.engine.begin() as conn:
            rows = conn.execute(claim).all()
        claimed = [Claimed(int(r[0]), str(r[1]), str(r[2])) for r in rows]
        claimed.sort(key=lambda c: c.id)
        return claimed

    def _mark(self, ids: list[int], **values: Any) -> None:
        if not ids:
            return
        with self.database.session() as session:
            session.execute(
                update(OutboxStatement)
                .where(OutboxStatement.id.in_(ids), OutboxStatement.claimed_by == self.worker)
                .values(claimed_by=None, claimed_until=None, **values)
            )

    def _release(self, ids: list[int], delay: float, error: str) -> None:
        if not ids:
            return
        with self.database.session() as session:
            session.execute(
                update(OutboxStatement)
                .where(OutboxStatement.id.in_(ids), OutboxStatement.claimed_by == self.worker)
                .values(
                    status=PENDING,
                    claimed_by=None,
                    claimed_until=None,
                    attempts=OutboxStatement.attempts + 1,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    last_error=error[:2000],
                )
            )

    # delivering
    def _post(self, batch: list[Claimed], result: RunResult) -> None:
        """Post a batch; bisect a 400 or 409 down to the statement it is about."""
        unique: dict[str, str] = {}
        for c in batch:
            unique.setdefault(c.statement_id, c.statement)
        try:
            self.client.post_raw(list(unique.values()))
        except LrsRejected as exc:
            if len(unique) > 1:
                self._bisect(batch, result)
                return
            self._mark([c.id for c in batch], status=PARKED, last_error=exc.message[:2000])
            result.parked += len(batch)
            log.warning("Statement %s parked: %s", batch[0].statement_id, exc.message)
            return
        except LrsConflict:
            if len(unique) > 1:
                self._bisect(batch, result)
                return
        self._mark([c.id for c in batch], status=DELIVERED, delivered_at=utcnow(), last_error=None)
        result.delivered += len(batch)

    def _bisect(self, batch: list[Claimed], result: RunResult) -> None:
        ids = list(dict.fromkeys(c.statement_id for c in batch))
        half = set(ids[: len(ids) // 2])
        self._post([c for c in batch if c.statement_id in half], result)
        self._post([c for c in batch if c.statement_id not in half], result)

    def run_once(self) -> RunResult:
        """Claim one batch and deliver it. Raises nothing: failures come back in the result."""
        result = RunResult()
        batch = self.claim()
        if not batch:
            return result
        result.batches = 1
        done: set[int] = set()
        try:
            self._post(batch, result)
            self.backoff.reset()
            self.wait_until = None
        except LrsError as exc:
            # Everything not yet settled goes back; the whole sender waits before the next try.
            with self.database.session() as session:
                settled = {
                    r
                    for (r,) in session.execute(
                        select(OutboxStatement.id).where(
                            OutboxStatement.id.in_([c.id for c in batch]),
                            OutboxStatement.status.in_([DELIVERED, PARKED]),
                        )
                    )
                }
            done |= settled
            delay = self.backoff.next_delay(getattr(exc, "retry_after", None))
            self.wait_until = utcnow() + timedelta(seconds=delay)
            self._release([c.id for c in batch if c.id not in done], delay, exc.message)
            result.failed_batches = 1
            result.last_error = exc.message
            log.warning("LRS delivery failed, retrying in %.1f s: %s", delay, exc.message)
        return result

    def run(
        self,
        stop: threading.Event,
        *,
        idle_wait: float = 0.5,
        until_empty: bool = False,
    ) -> RunResult:
        """Deliver until stopped (or, with ``until_empty``, until nothing is due or waiting)."""
        total = RunResult()
        try:
            while not stop.is_set():
                if self.wait_until is not None:
                    pause = (self.wait_until - utcnow()).total_seconds()
                    if pause > 0:
                        stop.wait(pause)
                        continue
                try:
                    step = self.run_once()
                except Exception:  # database trouble: log, wait, go on
                    log.exception("Outbox sender step failed")
                    stop.wait(self.backoff.next_delay())
                    continue
                total.add(step)
                if step.batches == 0:
                    if until_empty and not self._anything_left():
                        break
                    stop.wait(idle_wait)
        finally:
            self.close()
        return total

    def _anything_left(self) -> bool:
        with self.database.session() as session:
            n = session.execute(
                select(func.count()).where(OutboxStatement.status.in_([PENDING, SENDING]))
            ).scalar_one()
        return bool(n)


# -- the background thread of `steun serve` --------------------------------------------


class BackgroundSender(BackgroundLoop):
    """One sender thread per process; claiming makes several processes safe."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        super().__init__(sender.run, name="steun-outbox")
