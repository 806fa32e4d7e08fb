"""Domain events: what happened, in pseudonymous terms, for the learning records.

Views and services call :func:`emit` inside the database transaction that records the fact; the
handlers registered on the app (the xAPI outbox, see ``steun_lti/records/outbox.py``) add their rows to the
*same* session, so the fact and its statement commit or roll back together.

Event kinds and the keys of ``data`` (ids and codes only, never names or free text about a child):

- ``launched``: target, context (context pseudonym), role
- ``consent_given``: study, consent_version
- ``consent_withdrawn``: study
- ``child_added``: study, child_code, reasons (ids of the reason categories ticked)
- ``child_reasons_changed``: study, child_code, reasons (the ids ticked now)
- ``child_withdrawn``: study, child_code
- ``item_answered``: study, wave, instrument, instrument_version, item, response, child_code, attempt
- ``page_completed``: study, wave, instrument, instrument_version, page, child_code, attempt
- ``questionnaire_completed``: study, wave, instrument, instrument_version, child_code, attempt, scores
- ``wave_completed``: study, wave
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Event:
    kind: str
    actor: str  # pseudonym of who did it
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Handler = Callable[[Session, Event], None]
HANDLERS_KEY = "steun.event_handlers"


def add_handler(app: Any, handler: Handler) -> None:
    app.extensions.setdefault(HANDLERS_KEY, []).append(handler)


def emit(
    session: Session, kind: str, actor: str, *, at: datetime | None = None, **data: Any
) -> Event:
    """Record an event through every handler of the current app, in the caller's transaction.
    ``at`` is when it happened: the service's own ``now`` (the clock when not given)."""
    event = Event(kind=kind, actor=actor, data=data, at=at or datetime.now(UTC))
    if has_app_context():
        for handler in current_app.extensions.get(HANDLERS_KEY, []):
            handler(session, event)
    return event
