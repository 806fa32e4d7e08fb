"""``POST /relay/course``: the course package's progress, relayed into the outbox.

The SCORM runtime posts course events from the learner's browser; the browser never holds LRS
credentials. The relay takes a post only with proof (decision 0012):

- the package key: ``kid`` names a key the tool gave one registered platform's admin with the
  package (``steun_lti/records/course_channel.py``), and ``token`` is HMAC-SHA256(key,
  learner_id). The platform (issuer) is the key's registration, never a value from the request;
  a revoked key or an inactive registration is refused;
- consent: the pseudonym of (issuer, learner_id) must have given consent to the study and not
  withdrawn it. A post for anyone else is refused (403) and stored nowhere;
- only course-progress events (module started/completed, exercise answered, course
  started/completed/suspended/resumed/terminated), built into statements here, with activity IRIs
  under ``{base}/xapi/course/…`` and a provenance extension naming the key;
- an exercise response only as choice ids (no free text: it might name a child);
- the learner id (``cmi.core.student_id`` / ``cmi.learner_id``) is pseudonymised with the HMAC
  key, keyed on the issuer, the same way as the LTI launch (``steun_lti/lti/identity.py``), and
  never stored or logged;
- CORS for any origin (it takes no cookies), ``text/plain`` bodies (no preflight, so
  ``navigator.sendBeacon`` works);
- a rate limit per client address (an IPv6 address counts by its /64), a token bucket in the
  tool's database shared by every worker (``STEUN_RELAY_RATE``, ``STEUN_RELAY_BURST``).

Body: ``{"kid", "token", "learner_id", "course", "session"?, "events": [{"event", "module"?,
"exercise"?, "response"?, "duration"?, "timestamp"?}]}`` or one event's fields at the top level.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil import parser as dateparser
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.ratelimit import bucket_key, purge, take
from steun_lti.plumbing.settings import get_settings
from steun_lti.records import course_channel
from steun_lti.records.outbox import enqueue
from steun_lti.records.statements import hmac_key, statement_factory
from steun_lti.study.consent import current_consent
from steun_lti.web.teacher_support import runtime
from xapi.pseudonym import pseudonymise
from xapi.statements import ALL_COURSE_EVENTS, StatementFactory
from xapi.validate import _DURATION
from xapi.vocab import is_slug

bp = Blueprint("relay", __name__)

MAX_EVENTS = 50
MAX_BODY = 64 * 1024  # 50 events of a few hundred bytes each fit many times over
_RESPONSE = re.compile(r"^[A-Za-z0-9_.:,\[\]-]{0,200}$")


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


@dataclass(frozen=True)
class RelayPost:
    kid: str
    token: str
    learner: str
    course: str
    session: str | None
    events: list[dict[str, Any]]


def parse_events(body: Any) -> RelayPost:
    if not isinstance(body, dict):
        raise RelayInputError("the body must be a JSON object")
    kid = _text(body, "kid", slug=True, required=True) or ""
    token = _text(body, "token", slug=True, required=True) or ""
    learner = _text(body, "learner_id", slug=False, required=True) or ""
    if len(learner) > 255:
        raise RelayInputError("'learner_id' is too long")
    course = _text(body, "course", slug=True, required=True) or ""
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
    return RelayPost(kid, token, learner, course, session, parsed)


def client_bucket(address: str) -> str:
    """The rate limit's client: the address, or for IPv6 its /64 (one host owns a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def rate_allows(session: Session, rate: float, burst: int) -> bool:
    """One token from this client address's shared bucket (in the request's transaction)."""
    key = bucket_key(hmac_key(get_settings()), "relay", client_bucket(request.remote_addr or "?"))
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
    if (request.content_length or 0) > MAX_BODY:
        session.commit()
        return _error(413, f"at most {MAX_BODY} bytes per post")
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        session.commit()
        return _error(413, f"at most {MAX_BODY} bytes per post")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    try:
        post = parse_events(body)
    except RelayInputError as exc:
        session.commit()  # the token stays taken
        return _error(400, str(exc))
    key = hmac_key(settings)
    registration = course_channel.verify(session, key, post.kid, post.learner, post.token)
    if registration is None:
        session.commit()
        return _error(403, "unknown or revoked package key, or a token that does not match it")
    pseudonym = pseudonymise(key, registration.issuer, post.learner)
    if current_consent(session, runtime().study, pseudonym) is None:
        session.commit()
        return _error(403, "no consent to the study for this participant: nothing is recorded")
    factory: StatementFactory = statement_factory(settings)
    for ev in post.events:
        statement = factory.course_event(
            pseudonym,
            ev["at"],
            course=post.course,
            event=ev["event"],
            module=ev["module"],
            exercise=ev["exercise"],
            response=ev["response"],
            duration=ev["duration"],
            session=post.session,
            provenance=f"package-key:{post.kid}",
        )
        enqueue(session, statement, actor=pseudonym)
    session.commit()
    return _cors(jsonify({"queued": len(post.events)})), 202
