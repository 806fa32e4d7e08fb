"""One streaming pass over the statements into a compact dataset for the exports and the report.

Memory stays proportional to the *final* answers (one small tuple per teacher × child × wave ×
item), never to the statements read: each statement is looked at once and dropped.
"""

from __future__ import annotations

import gc
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from dateutil import parser as dateparser

from xapi import vocab
from xapi.client import UnreadableStatement
from xapi.jsoncheck import is_finite_json
from xapi.vocab import Iris

log = logging.getLogger("xapi.export")
# Unreadable statements are logged one by one up to this many, then only counted.
LOG_UNREADABLE = 20

# (pseudonym, child_code, study, wave)
WideKey = tuple[str, str, str, str]


@dataclass(slots=True)
class Answer:
    timestamp: str
    response: str
    registration: str
    attempt: str
    version: str
    statement_id: str


@dataclass
class CourseProgress:
    modules_started: set[str] = field(default_factory=set)
    modules_completed: set[str] = field(default_factory=set)
    exercises_answered: set[str] = field(default_factory=set)
    course_completed_at: str | None = None
    seconds: float = 0.0
    first: str | None = None
    last: str | None = None
    # How the records reached the tool (``package-key:<kid>``; "unverified" for records from
    # before decision 0012, when the relay took posts without proof).
    provenance: set[str] = field(default_factory=set)


@dataclass
class ChildRecord:
    """A child on a teacher's list: the reason category ids ticked (when it was added, or
    later changed), when it was added and withdrawn."""

    reasons: tuple[str, ...] = ()
    reasons_at: str = ""
    added_at: str | None = None
    withdrawn_at: str | None = None


@dataclass
class ConsentRecord:
    """A teacher's consent to a study: the latest consent and the latest withdrawal."""

    consented_at: str | None = None
    withdrawn_at: str | None = None


@dataclass
class Dataset:
    # answers[key][instrument][item] = latest Answer
    answers: dict[WideKey, dict[str, dict[str, Answer]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )
    completed: dict[WideKey, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    started: dict[WideKey, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    scores_reported: dict[WideKey, dict[str, Mapping[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    course: dict[str, CourseProgress] = field(default_factory=lambda: defaultdict(CourseProgress))
    answers_per_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # (wave, date)
    # (pseudonym, study, child_code) -> the child's list record (reasons, added, withdrawn)
    children: dict[tuple[str, str, str], ChildRecord] = field(default_factory=dict)
    # (pseudonym, study) -> consent given / withdrawn
    consent: dict[tuple[str, str], ConsentRecord] = field(default_factory=dict)
    statements_read: int = 0
    skipped: int = 0  # readable, but not of this study (another activity, no wave ...)
    unreadable: int = 0  # malformed (wrong types, non-finite numbers): skipped with a warning


def _duration_seconds(text: str | None) -> float:
    if not text:
        return 0.0
    import re

    m = re.match(
        r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
        text,
    )
    if not m:
        return 0.0
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    seconds = d * 86400 + h * 3600 + mi * 60 + s
    if not math.isfinite(seconds):
        raise ValueError(f"duration {text[:40]} is beyond any number of seconds")
    return seconds


def _utc_key(ts: str) -> str:
    """Timestamps compared as UTC ISO strings (statements may carry any offset)."""
    if len(ts) == 29 and ts.endswith("+00:00") and ts[19] == ".":
        return ts[:23] + "000Z"  # the tool's own form (UTC, milliseconds): no parsing needed
    try:
        parsed = datetime.fromisoformat(ts)
    except ValueError:
        try:
            parsed = dateparser.isoparse(ts)
        except (ValueError, OverflowError):
            return ts
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def collect(
    statements: Iterable[Mapping[str, Any]],
    base_url: str,
    *,
    progress: Callable[[int], None] | None = None,
    progress_every: int = 1000,
) -> Dataset:
    """Read statements once (any order) and keep what the exports need.

    The cyclic garbage collector is paused meanwhile: parsed statements hold no cycles (they
    are freed by reference counting), while every collection would walk the whole growing
    dataset; at 1M statements that tripled the time spent parsing pages."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _collect(statements, base_url, progress, progress_every)
    finally:
        if was_enabled:
            gc.enable()


def _collect(
    statements: Iterable[Mapping[str, Any]],
    base_url: str,
    progress: Callable[[int], None] | None,
    progress_every: int,
) -> Dataset:
    iris = Iris(base_url)
    # Activity IRIs repeat (items, waves): parse each once.
    parse = lru_cache(maxsize=100_000)(iris.parse)
    child_ext = iris.extension("child-code")
    attempt_ext = iris.extension("attempt")
    scores_ext = iris.extension("scores")
    provenance_ext = iris.extension("provenance")
    data = Dataset()
    for st in statements:
        data.statements_read += 1
        if progress is not None and data.statements_read % progress_every == 0:
            progress(data.statements_read)
        if isinstance(st, UnreadableStatement) or not isinstance(st, Mapping):
            _unreadable(data, st, "not a readable statement")
            continue
        try:
            verb = st.get("verb", {}).get("id")
            actor = (st.get("actor") or {}).get("account") or {}
            pseudonym = actor.get("name")
            obj = st.get("object") or {}
            parsed = parse(obj.get("id", ""))
            if not pseudonym or not parsed:
                data.skipped += 1
                continue
            ctx = st.get("context") or {}
            ext = ctx.get("extensions") or {}
            ts = _utc_key(st.get("timestamp", ""))
            kind = parsed["kind"]
            if kind in ("item", "instrument", "page"):
                grouping = [
                    parse(a.get("id", ""))
                    for a in ctx.get("contextActivities", {}).get("grouping", [])
                ]
                wave = next((g for g in grouping if g.get("kind") == "wave"), None)
                if wave is None:
                    data.skipped += 1
                    continue
                key: WideKey = (
                    pseudonym,
                    str(ext.get(child_ext) or ""),
                    wave["study"],
                    wave["wave"],
                )
                instrument = parsed["instrument"]
                first = data.started[key].get(instrument)
                if first is None or ts < first:
                    data.started[key][instrument] = ts
                if kind == "item" and verb == vocab.ANSWERED.id:
                    item = parsed["item"]
                    response = str((st.get("result") or {}).get("response", ""))
                    current = data.answers[key][instrument].get(item)
                    if current is None or ts >= current.timestamp:
                        data.answers[key][instrument][item] = Answer(
                            ts,
                            response,
                            str(ctx.get("registration", "")),
                            str(ext.get(attempt_ext, "")),
                            parsed["version"],
                            str(st.get("id", "")),
                        )
                    data.answers_per_day[(wave["wave"], ts[:10])] += 1
                elif kind == "instrument" and verb == vocab.COMPLETED.id:
                    prev = data.completed[key].get(instrument)
                    if prev is None or ts > prev:
                        scores = ((st.get("result") or {}).get("extensions") or {}).get(scores_ext)
                        if isinstance(scores, Mapping) and not is_finite_json(scores):
                            raise ValueError("the reported scores hold a non-finite number")
                        data.completed[key][instrument] = ts
                        if isinstance(scores, Mapping):
                            data.scores_reported[key][instrument] = scores
                continue
            if kind in ("course", "module", "exercise"):
                seconds = _duration_seconds((st.get("result") or {}).get("duration"))
                provenance = str(ext.get(provenance_ext) or "unverified")
                cp = data.course[pseudonym]
                cp.first = ts if cp.first is None or ts < cp.first else cp.first
                cp.last = ts if cp.last is None or ts > cp.last else cp.last
                cp.seconds += seconds
                cp.provenance.add(provenance)
                if kind == "module":
                    if verb == vocab.ATTEMPTED.id:
                        cp.modules_started.add(parsed["module"])
                    elif verb == vocab.COMPLETED.id:
                        cp.modules_started.add(parsed["module"])
                        cp.modules_completed.add(parsed["module"])
                elif kind == "exercise":
                    cp.exercises_answered.add(f"{parsed['module']}/{parsed['exercise']}")
                elif verb == vocab.COMPLETED.id and (
                    cp.course_completed_at is None or ts < cp.course_completed_at
                ):
                    cp.course_completed_at = ts
                continue
            if kind in ("study", "child-list") and _study_fact(
                data, iris, kind, verb, pseudonym, parsed["study"], ext, ts
            ):
                continue
            data.skipped += 1
        except (AttributeError, TypeError, KeyError, ValueError) as exc:
            # One malformed statement (stored by another client or an older LRS) costs its own
            # data, never the export of everyone else's.
            _unreadable(data, st, str(exc))
    if data.unreadable > LOG_UNREADABLE:
        log.warning("%d unreadable statements skipped in all", data.unreadable)
    if progress is not None:
        progress(data.statements_read)
    return data


def _unreadable(data: Dataset, statement: Any, reason: str) -> None:
    data.unreadable += 1
    if data.unreadable <= LOG_UNREADABLE:
        statement_id = statement.get("id") if isinstance(statement, Mapping) else None
        log.warning("unreadable statement %s skipped: %s", statement_id, reason[:200])


def _study_fact(
    data: Dataset,
    iris: Iris,
    kind: str,
    verb: str | None,
    pseudonym: str,
    study: str,
    ext: Mapping[str, Any],
    ts: str,
) -> bool:
    """Consent given or withdrawn, a child added (with its reasons) or withdrawn: the latest
    statement of each kind counts. False when the statement is none of these."""
    added, withdrew = (
        verb in (iris.verb("added"), iris.verb("updated")),
        verb == iris.verb("withdrew"),
    )
    if kind == "study" and (verb == iris.verb("consented") or withdrew):
        consent = data.consent.setdefault((pseudonym, study), ConsentRecord())
        if withdrew:
            consent.withdrawn_at = max(consent.withdrawn_at or "", ts)
        else:
            consent.consented_at = max(consent.consented_at or "", ts)
        return True
    code = str(ext.get(iris.extension("child-code")) or "")
    if kind != "child-list" or not code or not (added or withdrew):
        return False
    child = data.children.setdefault((pseudonym, study, code), ChildRecord())
    if withdrew:
        child.withdrawn_at = max(child.withdrawn_at or "", ts)
        return True
    if verb == iris.verb("added"):
        child.added_at = min(child.added_at or ts, ts)
    reasons = ext.get(iris.extension("reasons"))
    if isinstance(reasons, list) and ts >= child.reasons_at:
        child.reasons = tuple(str(r) for r in reasons)
        child.reasons_at = ts  # the latest word on the reasons counts (added or updated)
    return True


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        delta = dateparser.isoparse(end) - dateparser.isoparse(start)
    except (ValueError, OverflowError):
        return None
    return round(delta.total_seconds(), 3)


def parse_time(ts: str) -> datetime:
    return dateparser.isoparse(ts)
