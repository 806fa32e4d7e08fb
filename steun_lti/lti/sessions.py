"""A launch in use: the session that rests on it, re-checked on every request (issue 14).

A launch travels between requests in the (partitioned) cookie session, or, where a browser keeps
no cookie in the LMS's iframe, as an id in the URL. Either way every request asks
:func:`launch_problem` whether the launch may still be used: its record exists and has not
expired, its deployment and registration are active. In a URL the id alone is not enough: the
request must show the launch's browser key (which the launching frame keeps in the platform's
storage, and pages hand to their forms and fetches) or a one-time ticket that key bought a
moment earlier (``docs/lti.md``, "Sessions").
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from steun_lti.lti.flow import digest, load_launch, new_secret, utcnow
from steun_lti.lti.models import LtiDeployment, LtiLaunch, LtiRegistration

TICKET_TTL = timedelta(seconds=60)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_L, _R, _D = LtiLaunch.__table__, LtiRegistration.__table__, LtiDeployment.__table__
# Built once: every request runs it (building a statement costs more than running it).
_LAUNCH_CHECK = (
    select(_L.c.expires_at, _L.c.context, _L.c.child_mode, _R.c.active, _D.c.active)
    .join(_R, _R.c.id == _L.c.registration_id)
    .outerjoin(
        _D,
        (_D.c.registration_id == _L.c.registration_id)
        & (_D.c.deployment_id == bindparam("deployment_id")),
    )
    .where(_L.c.id == bindparam("launch_id"))
)

CHILD_MODE_SEEN = "steun.child_mode_seen"  # session.info: launch id -> child mode, this request


def launch_problem(
    session: Session, launch_id: str | None, deployment_id: str | None = None
) -> str | None:
    """Why a session's launch may no longer be used, or None when it still may.

    Checked on every request, so ending a launch (sign-out, expiry, purge) or deactivating its
    deployment or registration ends every session that rests on it at once. With the
    ``deployment_id`` the session names, it is one query (launch, registration and deployment
    joined); the launch record's own deployment must be the same one.
    """
    return launch_in_use(session, launch_id, deployment_id)[1]


def launch_in_use(
    session: Session, launch_id: str | None, deployment_id: str | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """:func:`launch_problem`, with the context the launch record holds (None if it is gone)."""
    if deployment_id is not None and launch_id and len(launch_id) <= 64:
        found = (
            session.connection()
            .execute(_LAUNCH_CHECK, {"launch_id": launch_id, "deployment_id": deployment_id})
            .first()
        )
        if found is None or _aware(found[0]) < utcnow():
            return None, "ended"
        _expires, context, child_mode, registration_active, deployment_active = found
        if str(context.get("deployment_id") or "") == deployment_id:
            session.info.setdefault(CHILD_MODE_SEEN, {})[launch_id] = child_mode
            if not registration_active:
                return context, "registration inactive"
            if not deployment_active:
                return context, "deployment inactive"
            return context, None
    row = load_launch(session, launch_id or "")
    if row is None:
        return None, "ended"
    registration = session.get(LtiRegistration, row.registration_id)
    if registration is None or not registration.active:
        return row.context, "registration inactive"
    deployment = session.scalars(
        select(LtiDeployment).where(
            LtiDeployment.registration_id == row.registration_id,
            LtiDeployment.deployment_id == str(row.context.get("deployment_id") or ""),
        )
    ).first()
    if deployment is None or not deployment.active:
        return row.context, "deployment inactive"
    return row.context, None


def browser_key(secret_key: str, launch_id: str) -> str:
    """The key of a launch carried in URLs. Derived, so every page the launch opens can hand it
    to its own forms and fetches without a URL ever holding it; only its hash is stored."""
    mac = hmac.new(secret_key.encode(), f"steun-launch-key\0{launch_id}".encode(), "sha256")
    return mac.hexdigest()[:40]


def browser_holds(row: LtiLaunch, key: str | None) -> bool:
    """Whether ``key`` is the secret the launching browser keeps for a launch carried in URLs."""
    return bool(key and row.browser_hash and hmac.compare_digest(digest(key), row.browser_hash))


def issue_ticket(session: Session, row: LtiLaunch) -> str:
    """A one-time ticket (60 s) that lets one page load of a URL-carried launch through.

    Only one is outstanding per launch: the browser that holds the launch's key asks for it
    just before it navigates. A ticket in a pasted or logged URL has been used already.
    """
    ticket = new_secret()
    row.ticket_hash = digest(ticket)
    row.ticket_expires_at = utcnow() + TICKET_TTL
    session.commit()
    return ticket


def use_ticket(session: Session, launch_id: str, ticket: str | None) -> bool:
    """Consume a ticket of ``issue_ticket`` (atomically: a second use finds it gone)."""
    if not ticket or len(ticket) > 64:
        return False
    used = session.execute(
        update(LtiLaunch)
        .where(
            LtiLaunch.id == launch_id,
            LtiLaunch.ticket_hash == digest(ticket),
            LtiLaunch.ticket_expires_at >= utcnow(),
        )
        .values(ticket_hash=None, ticket_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(used.rowcount == 1)  # type: ignore[attr-defined]


def end_launch(session: Session, launch_id: str | None) -> None:
    """Sign-out: the launch record goes (with its sealed subject), so no session can use it."""
    row = session.get(LtiLaunch, launch_id) if launch_id and len(launch_id) <= 64 else None
    if row is not None:
        session.delete(row)
        session.commit()


def child_mode_of(session: Session, launch_id: str | None) -> str | None:
    """The child's pages the launch is locked to; as this request's launch check read it."""
    seen: dict[str, str | None] = session.info.get(CHILD_MODE_SEEN, {})
    if launch_id and launch_id in seen:
        return seen[launch_id]
    row = load_launch(session, launch_id or "")
    return row.child_mode if row is not None else None


def set_child_mode(session: Session, launch_id: str | None, scope: str | None) -> None:
    """Lock a launch to the child's pages (``scope``), or unlock it (None)."""
    row = load_launch(session, launch_id or "")
    if row is not None:
        row.child_mode = scope
        session.commit()
        session.info.get(CHILD_MODE_SEEN, {}).pop(row.id, None)
