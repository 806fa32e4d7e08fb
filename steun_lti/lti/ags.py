"""Assignment and Grade Services: report completion of the launched item to the LMS gradebook.

Other parts call :func:`report_completion` when a user completes what was launched (for example all
questionnaires of a wave). The score is queued (:mod:`steun_lti.lti.score_queue`: one row per user
and column, the newest state wins) and then sent at once, so the gradebook updates right away when
all is well; what could not be sent is retried by :class:`ScoreSender` (a thread in every worker
of ``steun serve``, or ``steun grades send``):

- the platform unreachable, 5xx, 429, 401, or its token endpoint failing: retried with
  exponential backoff;
- 400/403/404/422 (any other 4xx) for the score, or no line item to be had: *refused* — parked
  with the LMS's answer, retried only after ``steun grades retry`` (Moodle refuses scores for
  users outside its graded roles, e.g. an editing teacher trying the activity).

The score goes to the launch's line item. Where the launch names none but lets the tool manage
line items (a plain link placed without Deep Linking), the line item of this resource link with our
tag is found or, with the ``lineitem`` scope, created first; what was found is remembered
(``lti_line_item``), and creation is claimed in the database so that workers finishing at the
same moment make one column, not two. Without AGS in the launch it does nothing and says so; a
failing platform never breaks the caller (failures are logged and kept without tokens).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steun_lti.lti import adapter, flow, keys, score_queue
from steun_lti.lti.http import AddressPolicy, UnsafeTarget, checked_address
from steun_lti.lti.launch import LaunchContext
from steun_lti.lti.models import LtiLineItem, LtiRegistration
from steun_lti.lti.origins import on_platform
from steun_lti.lti.score_queue import LtiScore
from steun_lti.lti.service import services
from steun_lti.plumbing.background import BackgroundLoop
from steun_lti.plumbing.db import Database, db_session

log = logging.getLogger("steun.lti.ags")

COMPLETION_TAG = "steun-completion"
COMPLETION_LABEL = "Steun in het onderwijs – voltooid"
CLAIM_WAIT = 15.0  # seconds to wait for another worker's column (its calls time out before that)
CLAIM_STALE = timedelta(seconds=60)  # a claim this old belongs to a worker that died
POLL = 0.2
RETRY_STATUSES = frozenset({401, 408, 425, 429})  # and every 5xx


def can_report(launch: LaunchContext) -> bool:
    """Whether the launch lets the tool post a score: a line item, or one it may find or create."""
    scopes = set(launch.ags_scopes)
    if adapter.SCORE_SCOPE not in scopes:
        return False
    if launch.ags_lineitem:
        return True
    readable = bool({adapter.LINEITEM_SCOPE, adapter.LINEITEM_READ_SCOPE} & scopes)
    return bool(launch.ags_lineitems and readable and launch.resource_link_id)


def _wanted(resource_link_id: str | None, target: str | None) -> adapter.LineItemWanted:
    return adapter.LineItemWanted(
        label=COMPLETION_LABEL,
        resource_link_id=resource_link_id or "",
        tag=COMPLETION_TAG,
        resource_id=target,
    )


def wanted_lineitem(launch: LaunchContext) -> adapter.LineItemWanted:
    return _wanted(launch.resource_link_id, launch.target)


def report_completion(launch: LaunchContext, *, given: float = 1, maximum: float = 1) -> bool:
    """Queue ``given``/``maximum`` (default 1/1, Completed, FullyGraded) for the launching user,
    then try to send it at once.

    True when the LMS took it now; False when there is nothing to report to, or the score waits
    in the queue (retried later) or was refused (``steun grades status``).
    """
    if not can_report(launch):
        log.info("no AGS line item (or scope to find one) in launch; completion not reported")
        return False
    session = db_session()
    row = flow.load_launch(session, launch.launch_id or "")
    if row is None or not row.ags_subject:
        log.info("launch record expired; completion not reported")
        return False
    endpoint = dict(row.services.get("ags") or {})  # type: ignore[call-overload]
    score_id = score_queue.enqueue_score(
        session,
        key=score_queue.score_key(
            row.registration_id, endpoint, launch.resource_link_id, COMPLETION_TAG, launch.pseudonym
        ),
        registration_id=row.registration_id,
        endpoint=endpoint,
        resource_link_id=launch.resource_link_id,
        target=launch.target,
        sealed_subject=row.ags_subject,
        given=given,
        maximum=maximum,
    )
    session.commit()  # queued for good: whatever the LMS does now, the score is not lost
    sender = ScoreSender(None, services())
    return sender.deliver(session, [score_id]).delivered == 1


class Sealer(Protocol):
    """What the sender needs of :class:`~steun_lti.lti.service.LtiServices`."""

    address_policy: AddressPolicy

    def unseal(self, token: str) -> str | None: ...


class Refused(Exception):
    """The platform will not take this score as it stands: park it with the reason."""


def check_endpoint(
    endpoint: dict[str, Any], registration: LtiRegistration, policy: AddressPolicy
) -> None:
    """Refuse (park, never send) when an AGS URL of the launch is not the platform's own, or
    it or the token endpoint is at an address the tool may not reach: those calls carry the
    platform's bearer token, or get one."""
    for name in ("lineitem", "lineitems"):
        url = endpoint.get(name)
        if url and not on_platform(str(url), registration):
            raise Refused(
                f"AGS {name} URL is not on the platform's origin ({registration.issuer}); not sent"
            )
    urls = [
        registration.auth_token_url,
        *(str(endpoint[n]) for n in ("lineitem", "lineitems") if endpoint.get(n)),
    ]
    for url in urls:
        try:
            checked_address(url, policy, what="platform URL")
        except UnsafeTarget as exc:
            raise Refused(f"{exc.reason}; not sent") from exc


@dataclass
class SendResult:
    delivered: int = 0
    refused: int = 0
    retrying: int = 0
    last_error: str | None = None

    def add(self, other: SendResult) -> None:
        self.delivered += other.delivered
        self.refused += other.refused
        self.retrying += other.retrying
        self.last_error = other.last_error or self.last_error


def _retryable(exc: adapter.ServiceError) -> bool:
    if exc.stage == "token" or exc.status is None:
        return True  # the token endpoint, the network, a timeout
    return exc.status >= 500 or exc.status in RETRY_STATUSES


class ScoreSender:
    """Claims queued scores and posts them. Safe to run in several processes at once."""

    def __init__(
        self,
        database: Database | None,
        sealer: Sealer,
        *,
        retention: timedelta = timedelta(days=30),
        worker: str | None = None,
        lease: float = 120.0,
    ) -> None:
        self.database = database
        self.sealer = sealer
        self.retention = retention
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self._purged_at = 0.0

    def deliver(
        self,
        session: Session,
        ids: list[int] | None = None,
        *,
        ignore_backoff: bool = False,
        limit: int = 20,
    ) -> SendResult:
        """Claim due rows (or the given ones) and send them, one by one."""
        result = SendResult()
        for claimed in score_queue.claim(
            session,
            self.worker,
            lease=self.lease,
            limit=limit,
            ids=ids,
            ignore_backoff=ignore_backoff,
        ):
            result.add(self._deliver_one(session, claimed))
        return result

    def _deliver_one(self, session: Session, claimed: score_queue.Claimed) -> SendResult:
        result = SendResult()
        row = session.get(LtiScore, claimed.id, populate_existing=True)
        if row is None:
            return result
        attempts, registration_id = row.attempts, row.registration_id
        issuer = "?"
        try:
            registration = session.get(LtiRegistration, registration_id)
            if registration is None:
                raise Refused("the platform's registration was removed")
            issuer = registration.issuer
            subject = self.sealer.unseal(row.subject or "")
            if subject is None:
                raise Refused("the user id cannot be unsealed (seal key changed or id purged)")
            self._post(session, row, registration, subject)
        except Refused as exc:
            session.rollback()
            reason = str(exc)
            if score_queue.refused(session, claimed, self.worker, reason):
                result.refused = 1
                log.warning("AGS score %s refused by %s: %s", claimed.id, issuer, reason)
            result.last_error = reason
            return result
        except adapter.ServiceError as exc:
            session.rollback()
            reason = f"{'token endpoint: ' if exc.stage == 'token' else ''}{exc}"
            if not _retryable(exc):
                if score_queue.refused(session, claimed, self.worker, reason):
                    result.refused = 1
                    log.warning("AGS score %s refused by %s: %s", claimed.id, issuer, reason)
            else:
                delay = score_queue.retry_later(session, claimed, self.worker, reason, attempts)
                result.retrying = 1
                log.warning(
                    "AGS score %s not delivered to %s, retrying in %.0f s: %s",
                    claimed.id,
                    issuer,
                    delay,
                    reason,
                )
            result.last_error = reason
            return result
        except Exception:  # our bug or the database: retry later, never break the caller
            session.rollback()
            log.exception("AGS score %s could not be sent", claimed.id)
            score_queue.retry_later(session, claimed, self.worker, "internal error", attempts)
            result.retrying = 1
            result.last_error = "internal error"
            return result
        if score_queue.delivered(session, claimed, self.worker):
            result.delivered = 1
        return result

    def _post(
        self, session: Session, row: LtiScore, registration: LtiRegistration, subject: str
    ) -> None:
        check_endpoint(row.endpoint, registration, self.sealer.address_policy)
        access = keys.platform_access(session, registration)
        client = adapter.AgsClient(access, row.endpoint, self.sealer.address_policy)
        score: dict[str, Any] = {
            "given": row.given,
            "maximum": row.maximum,
            "timestamp": score_queue.aware(row.score_at),
        }
        lineitem = row.endpoint.get("lineitem")
        if lineitem:
            client.post_score(str(lineitem), subject, **score)
            return
        lineitems = LineItems(
            session, registration.id, client, _wanted(row.resource_link_id, row.target)
        )
        url = lineitems.url()
        if url is None:
            raise Refused("no line item for this link and no scope to create one")
        try:
            client.post_score(url, subject, **score)
        except adapter.ServiceError as exc:
            if exc.status not in (404, 410) or not lineitems.remembered:
                raise
            lineitems.forget()  # the column was deleted in the LMS: find or make it again, once
            url = lineitems.url()
            if url is None:
                raise Refused("the line item was deleted and cannot be made again") from exc
            client.post_score(url, subject, **score)

    # -- the loop of the background thread and `steun grades send` -------------------------

    def purge(self, session: Session) -> int:
        self._purged_at = time.monotonic()
        return score_queue.purge_expired(session, self.retention)

    def run_once(self, *, ignore_backoff: bool = False) -> SendResult:
        assert self.database is not None
        with self.database.session() as session:
            if time.monotonic() - self._purged_at > 600:
                self.purge(session)
            return self.deliver(session, ignore_backoff=ignore_backoff)

    def send_now(self, *, ignore_backoff: bool = False) -> SendResult:
        """Try every score that is due (or, ``ignore_backoff``, waiting) once; for the CLI."""
        assert self.database is not None
        total = SendResult()
        with self.database.session() as session:
            self.purge(session)
            ids = score_queue.sendable(session, ignore_backoff=ignore_backoff)
            for start in range(0, len(ids), 20):
                total.add(
                    self.deliver(session, ids[start : start + 20], ignore_backoff=ignore_backoff)
                )
        return total

    def run(self, stop: threading.Event, *, idle_wait: float = 5.0) -> None:
        """Deliver due scores until stopped; a score is due when its backoff has passed."""
        while not stop.is_set():
            try:
                step = self.run_once()
            except Exception:  # database trouble: log, wait, go on
                log.exception("Score sender step failed")
                stop.wait(idle_wait)
                continue
            if not (step.delivered or step.refused or step.retrying):
                stop.wait(idle_wait)


class BackgroundScoreSender(BackgroundLoop):
    """One score sender thread per process (``steun serve`` starts it in every worker)."""

    def __init__(self, sender: ScoreSender, *, idle_wait: float = 5.0) -> None:
        self.sender = sender
        super().__init__(partial(sender.run, idle_wait=idle_wait), name="steun-scores")


def start_background_sender(
    database: Database, sealer: Sealer, *, retention_days: float, idle_wait: float = 5.0
) -> BackgroundScoreSender:
    background = BackgroundScoreSender(
        ScoreSender(database, sealer, retention=timedelta(days=retention_days)),
        idle_wait=idle_wait,
    )
    background.start()
    return background


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class LineItems:
    """The line item of one link (registration, container, resource link, tag), found or created."""

    def __init__(
        self,
        session: Session,
        registration_id: int,
        client: adapter.AgsClient,
        wanted: adapter.LineItemWanted,
    ) -> None:
        self.session = session
        self.registration_id = registration_id
        self.client = client
        self.wanted = wanted
        self.key = hashlib.sha256(
            "\0".join(
                [str(registration_id), client.lineitems, wanted.resource_link_id, wanted.tag]
            ).encode()
        ).hexdigest()
        self.remembered = False

    def _row(self) -> LtiLineItem | None:
        row = self.session.get(LtiLineItem, self.key, populate_existing=True)
        return row

    def url(self) -> str | None:
        row = self._row()
        if row is not None and row.url:
            self.remembered = True
            return row.url
        self.remembered = False
        found = self.client.find_lineitem(self.wanted)
        if found is not None:
            self._remember(found)
            return found
        if not self.client.can_create:
            return None
        if not self._claim():
            return self._wait_for_other()
        try:
            created = self.client.create_lineitem(self.wanted)
        except adapter.ServiceError:
            self._release()
            raise
        self._remember(created)
        return created

    def _remember(self, url: str) -> None:
        row = self._row()
        if row is None:
            try:
                with self.session.begin_nested():
                    self.session.add(
                        LtiLineItem(key=self.key, registration_id=self.registration_id, url=url)
                    )
            except IntegrityError:
                row = self._row()
        if row is not None:
            row.url = url
        self.session.commit()

    def _claim(self) -> bool:
        """Become the one worker that creates the column; False when another one already is."""
        row = self._row()
        if row is None:
            try:
                with self.session.begin_nested():
                    self.session.add(
                        LtiLineItem(
                            key=self.key,
                            registration_id=self.registration_id,
                            url=None,
                            claimed_at=_now(),
                        )
                    )
                self.session.commit()
                return True
            except IntegrityError:  # another worker claimed it a moment ago
                self.session.rollback()
                row = self._row()
        if row is None or row.url or _aware(row.claimed_at) > _now() - CLAIM_STALE:
            return False
        taken = self.session.execute(
            update(LtiLineItem)
            .where(
                LtiLineItem.key == self.key,
                LtiLineItem.url.is_(None),
                LtiLineItem.claimed_at == row.claimed_at,
            )
            .values(claimed_at=_now())
        )
        self.session.commit()
        return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _release(self) -> None:
        self.session.rollback()
        self.session.execute(
            delete(LtiLineItem).where(LtiLineItem.key == self.key, LtiLineItem.url.is_(None))
        )
        self.session.commit()

    def _wait_for_other(self) -> str | None:
        deadline = time.monotonic() + CLAIM_WAIT
        while True:
            row = self._row()
            if row is not None and row.url:
                self.remembered = True
                return row.url
            if row is None or time.monotonic() >= deadline:
                # The other worker gave up (or is stuck): look once more on the platform.
                return self.client.find_lineitem(self.wanted)
            self.session.commit()  # end the read transaction, so the next read sees new rows
            wait(POLL)

    def forget(self) -> None:
        self.session.execute(delete(LtiLineItem).where(LtiLineItem.key == self.key))
        self.session.commit()
        self.remembered = False


def wait(seconds: float) -> None:
    """Pause between looks at another worker's claim (a seam for tests)."""
    time.sleep(seconds)
