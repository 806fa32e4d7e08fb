"""Assignment and Grade Services: report completion of the launched item to the LMS gradebook.

Other parts call :func:`report_completion` when a user completes what was launched (for example all
questionnaires of a wave). The score goes to the launch's line item. Where the launch names none
but lets the tool manage line items (a plain link placed without Deep Linking), the line item of
this resource link with our tag is found or, with the ``lineitem`` scope, created first; what was
found is remembered (``lti_line_item``), and creation is claimed in the database so that workers
finishing at the same moment make one column, not two. Without AGS in the launch it does nothing
and says so; a failing platform never breaks the caller (the failure is logged without tokens).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steun_lti.lti import adapter, flow, keys
from steun_lti.lti.launch import LaunchContext
from steun_lti.lti.models import LtiLineItem, LtiRegistration
from steun_lti.lti.service import services
from steun_lti.plumbing.db import db_session

log = logging.getLogger("steun.lti.ags")

COMPLETION_TAG = "steun-completion"
COMPLETION_LABEL = "Steun in het onderwijs – voltooid"
CLAIM_WAIT = 15.0  # seconds to wait for another worker's column (its calls time out before that)
CLAIM_STALE = timedelta(seconds=60)  # a claim this old belongs to a worker that died
POLL = 0.2


def can_report(launch: LaunchContext) -> bool:
    """Whether the launch lets the tool post a score: a line item, or one it may find or create."""
    scopes = set(launch.ags_scopes)
    if adapter.SCORE_SCOPE not in scopes:
        return False
    if launch.ags_lineitem:
        return True
    readable = bool({adapter.LINEITEM_SCOPE, adapter.LINEITEM_READ_SCOPE} & scopes)
    return bool(launch.ags_lineitems and readable and launch.resource_link_id)


def wanted_lineitem(launch: LaunchContext) -> adapter.LineItemWanted:
    return adapter.LineItemWanted(
        label=COMPLETION_LABEL,
        resource_link_id=launch.resource_link_id or "",
        tag=COMPLETION_TAG,
        resource_id=launch.target,
    )


def report_completion(launch: LaunchContext, *, given: float = 1, maximum: float = 1) -> bool:
    """Post ``given``/``maximum`` (default 1/1, Completed, FullyGraded) for the launching user.

    True when the LMS took it.
    """
    if not can_report(launch):
        log.info("no AGS line item (or scope to find one) in launch; completion not reported")
        return False
    session = db_session()
    row = flow.load_launch(session, launch.launch_id or "")
    if row is None or not row.ags_subject:
        log.info("launch record expired; completion not reported")
        return False
    subject = services().unseal(row.ags_subject)
    registration = session.get(LtiRegistration, row.registration_id)
    if subject is None or registration is None:
        return False
    key = keys.signing_key(session)
    access = adapter.PlatformAccess(
        issuer=registration.issuer,
        client_id=registration.client_id,
        auth_token_url=registration.auth_token_url,
        auth_audience=registration.auth_audience,
        private_pem=key.private_pem,
        kid=key.kid,
    )
    client = adapter.AgsClient(access, dict(row.services.get("ags") or {}))  # type: ignore[call-overload]
    try:
        if launch.ags_lineitem:
            client.post_score(launch.ags_lineitem, subject, given=given, maximum=maximum)
            return True
        lineitems = LineItems(session, registration.id, client, wanted_lineitem(launch))
        url = lineitems.url()
        if url is None:
            log.info(
                "no line item for this link at %s and no scope to create one; not reported",
                registration.issuer,
            )
            return False
        try:
            client.post_score(url, subject, given=given, maximum=maximum)
        except adapter.ServiceError as exc:
            if exc.status not in (404, 410) or not lineitems.remembered:
                raise
            lineitems.forget()  # the column was deleted in the LMS: find or make it again, once
            url = lineitems.url()
            if url is None:
                return False
            client.post_score(url, subject, given=given, maximum=maximum)
    except adapter.ServiceError as exc:
        session.rollback()
        log.warning("AGS score refused by %s: %s", registration.issuer, exc)
        return False
    return True


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
