"""``POST /relay/course``: the course package's progress, relayed into the outbox.

The SCORM runtime (built with a relay URL) posts course events from the learner's browser; the
browser never holds LRS credentials. The relay:

- accepts only course-progress events (module started/completed, exercise answered, course
  started/completed/suspended/resumed/terminated) and builds the statements itself, with activity
  IRIs under ``{base}/xapi/course/…`` — so they can only be about the course's own activities;
- pseudonymises the LMS learner id (``cmi.core.student_id`` / ``cmi.learner_id``) with the HMAC key,
  keyed on the LMS's issuer, and never stores or logs the raw id. The issuer is ``platform`` when the
  package sends it; otherwise the one registered LTI platform whose issuer has the request's
  ``Origin`` (Moodle's issuer is its own address). The LTI launch pseudonymises the same value: its
  ``sub``, or where the LMS's SCORM player reports another id (Moodle: the username), the
  ``scorm_learner_id`` custom parameter asked for at registration (``steun_lti/lti/identity.py``);
- accepts an exercise response only as choice ids (no free text: it might name a child);
- answers CORS for any origin (it takes no cookies or credentials) and accepts ``text/plain``
  bodies so ``navigator.sendBeacon`` works without a preflight;
- is rate-limited per client address: a token bucket in the tool's database, shared by every
  worker (:mod:`steun_lti.plumbing.ratelimit`; ``STEUN_RELAY_RATE`` and ``STEUN_RELAY_BURST``).

Body: ``{"learner_id", "course", "platform"?, "session"?, "events": [{"event", "module"?,
"exercise"?, "response"?, "duration"?, "timestamp"?}]}`` or one event's fields at the top level.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from dateutil import parser as dateparser
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.ratelimit import bucket_key, purge, take
from steun_lti.plumbing.settings import get_settings
from steun_lti.records.outbox import enqueue
from steun_lti.records.statements import hmac_key, statement_factory
from xapi.pseudonym import pseudonymise
from xapi.statements import ALL_COURSE_EVENTS, StatementFactory
from xapi.validate import _DURATION
from xapi.vocab import is_slug

bp = Blueprint("relay", __name__)

MAX_EVENTS = 50
_RESPONSE = re.compile(r"^[A-Za-z0-9_.:,\[\]-]{0,200}$")
DEFAULT_PLATFORM = "scorm"


class RelayInputError(ValueError):
    pass


def _cors(response: Any) -> Any:
    origin = request.headers.get("Origin")
    response.headers["Access-Control-Allow-Origin"] = origin or "*"
    response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _error(status: int, message: str) -> Response:
    response = _cors(jsonify({"error": message}))
    response.status_code = status
    return response


def _text(data: dict[str, Any], key: str, *, slug: bool, required: bool) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise RelayInputError(f"'{key}' is required")
        return None
    if not isinstance(value, str | int):
        raise RelayInputError(f"'{key}' must be a string")
    value = str(value)
    if slug and not is_slug(value):
        raise RelayInputError(f"'{key}' must be letters, digits, '.', '_' or '-' (at most 80)")
    return value


def _timestamp(raw: Any) -> datetime:
    now = datetime.now(UTC)
    if not raw:
        return now
    try:
        at = dateparser.isoparse(str(raw))
    except (ValueError, OverflowError) as exc:
        raise RelayInputError("'timestamp' is not ISO 8601") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    # A browser clock far off is not trusted.
    return at if abs(at - now) < timedelta(days=1) else now


def parse_events(body: Any) -> tuple[str, str, str, str | None, list[dict[str, Any]]]:
    if not isinstance(body, dict):
        raise RelayInputError("the body must be a JSON object")
    learner = _text(body, "learner_id", slug=False, required=True) or ""
    if len(learner) > 255:
        raise RelayInputError("'learner_id' is too long")
    course = _text(body, "course", slug=True, required=True) or ""
    platform = _text(body, "platform", slug=False, required=False) or DEFAULT_PLATFORM
    if len(platform) > 255:
        raise RelayInputError("'platform' is too long")
    session = _text(body, "session", slug=True, required=False)
    events = body.get("events", [body])
    if not isinstance(events, list) or not events:
        raise RelayInputError("'events' must be a non-empty list")
    if len(events) > MAX_EVENTS:
        raise RelayInputError(f"at most {MAX_EVENTS} events at once")
    parsed = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise RelayInputError(f"events[{i}] must be an object")
        kind = ev.get("event")
        if kind not in ALL_COURSE_EVENTS:
            raise RelayInputError(
                f"events[{i}].event must be one of {', '.join(sorted(ALL_COURSE_EVENTS))}"
            )
        response = ev.get("response")
        if response is not None and (
            not isinstance(response, str) or not _RESPONSE.match(response)
        ):
            raise RelayInputError(f"events[{i}].response must be choice ids, not free text")
        duration = ev.get("duration")
        if duration is not None and (
            not isinstance(duration, str) or not _DURATION.match(duration)
        ):
            raise RelayInputError(f"events[{i}].duration must be an ISO 8601 duration")
        parsed.append(
            {
                "event": kind,
                "module": _text(
                    ev, "module", slug=True, required=kind.startswith(("module", "exercise"))
                ),
                "exercise": _text(ev, "exercise", slug=True, required=kind == "exercise_answered"),
                "response": response,
                "duration": duration,
                "at": _timestamp(ev.get("timestamp")),
            }
        )
    return learner, course, platform, session, parsed


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def platform_for_origin(session: Session, origin: str | None) -> str | None:
    """The issuer of the one registered LTI platform served from this origin, if exactly one."""
    if not origin or origin == "null":
        return None
    from steun_lti.lti.models import LtiRegistration

    wanted = _origin(origin)
    issuers = {
        issuer
        for issuer in session.scalars(select(LtiRegistration.issuer).distinct())
        if _origin(issuer) == wanted
    }
    return issuers.pop() if len(issuers) == 1 else None


def rate_allows(session: Session, rate: float, burst: int) -> bool:
    """One token from this client address's shared bucket (in the request's transaction)."""
    key = bucket_key(hmac_key(get_settings()), "relay", request.remote_addr or "?")
    allowed = take(session, key, rate=rate, burst=burst)
    if secrets.randbelow(500) == 0:  # now and then, forget buckets that are full again
        purge(session, rate=rate, burst=burst)
    return allowed


@bp.route("/relay/course", methods=["OPTIONS"])
def preflight() -> ResponseReturnValue:
    return _cors(current_app.response_class(status=204))


@bp.post("/relay/course")
def relay_course() -> ResponseReturnValue:
    settings = get_settings()
    session = db_session()
    if not rate_allows(session, settings.relay_rate, settings.relay_burst):
        session.commit()
        response = _error(429, "too many requests; try again later")
        response.headers["Retry-After"] = str(math.ceil(1 / settings.relay_rate))
        return response
    body = request.get_json(force=True, silent=True)
    try:
        learner, course, platform, session_id, events = parse_events(body)
    except RelayInputError as exc:
        session.commit()  # the token stays taken
        return _error(400, str(exc))
    if platform == DEFAULT_PLATFORM:
        platform = platform_for_origin(session, request.headers.get("Origin")) or platform
    pseudonym = pseudonymise(hmac_key(settings), platform, learner)
    factory: StatementFactory = statement_factory(settings)
    for ev in events:
        statement = factory.course_event(
            pseudonym,
            ev["at"],
            course=course,
            event=ev["event"],
            module=ev["module"],
            exercise=ev["exercise"],
            response=ev["response"],
            duration=ev["duration"],
            session=session_id,
        )
        enqueue(session, statement, actor=pseudonym)
    session.commit()
    return _cors(jsonify({"queued": len(events)})), 202
