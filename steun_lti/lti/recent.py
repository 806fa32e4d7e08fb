"""Registration facts a process may reuse for a moment: the framing origins and the login's lookup.

Two answers are asked for on almost every request and change perhaps once a term: which
platforms may frame the tool (``web/headers.py``) and where a platform's login goes (the OIDC
login, ``lti/flow.py``). Each app keeps them for at most ``TTL`` seconds per process, and drops
them at once when a registration is written through the ORM in this process. A change made by
another process (the CLI, another worker) is seen within ``TTL``.

Whether a platform may *launch* is never taken from here: the launch reads its registration and
deployment from the database (a registration switched off after the login is refused there).
Failures (no such platform, two matches, a database error) are never kept: the next request asks
the database again, so a platform registered a moment ago can log in at once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from steun_lti.lti.models import LtiRegistration

TTL = 2.0  # seconds
MAX_ENTRIES = 1024  # a flood of made-up issuers cannot grow a cache without bound
_CHANGED = "steun.registration_changed"
_counter = itertools.count(1)
_generation = 0  # bumped (under the GIL, by one assignment) when a registration is written

T = TypeVar("T")


class Recent:
    """One app's short-lived answers, keyed by what was asked."""

    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self.entries: dict[Hashable, tuple[float, int, Any]] = {}

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        now, generation = time.monotonic(), _generation
        hit = self.entries.get(key)
        if hit is not None and now - hit[0] < self.ttl and hit[1] == generation:
            value: T = hit[2]
            return value
        value = load()  # an exception leaves nothing behind
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (now, generation, value)
        return value

    def age(self, seconds: float) -> None:
        """Make every entry ``seconds`` older (tests: another process's change becomes due)."""
        self.entries = {k: (t - seconds, g, v) for k, (t, g, v) in self.entries.items()}


def recent(app: Flask, name: str) -> Recent:
    """The app's cache called ``name`` (one per app: tests run several apps in one process)."""
    key = f"steun.recent.{name}"
    found = app.extensions.get(key)
    if found is None:
        found = app.extensions[key] = Recent()
    return found


def _bump() -> None:
    global _generation
    _generation = next(_counter)


def _note_registration_changes(session: Session, _context: Any) -> None:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(row, LtiRegistration) for row in changed):
        session.info[_CHANGED] = True
        _bump()


def _after_commit(session: Session) -> None:
    # Again after the commit: a request between flush and commit may have kept the old rows.
    if session.info.pop(_CHANGED, False):
        _bump()


def install() -> None:
    """Listen for registration writes (on every session of the process; idempotent)."""
    if not event.contains(Session, "after_flush", _note_registration_changes):
        event.listen(Session, "after_flush", _note_registration_changes)
        event.listen(Session, "after_commit", _after_commit)
