"""Attempts and answers: open an attempt, save answers (per item or page), progress, submit.

Part of the study service (``steun_lti.study.service`` gathers them for the views); every function
that records a fact emits its domain event in the same session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from steun_lti.questionnaires.branching import (
    first_unanswered,
    missing_required,
    visible_items,
)
from steun_lti.questionnaires.definition import Instrument
from steun_lti.questionnaires.registry import InstrumentRegistry
from steun_lti.questionnaires.scoring import score
from steun_lti.records.events import emit
from steun_lti.study.children import children
from steun_lti.study.definition import LATE, Study, Wave
from steun_lti.study.errors import (
    InvalidAnswer,
    Locked,
    NotFound,
    WindowClosed,
)
from steun_lti.study.models import Answer, Attempt, Child

NOT_STARTED, IN_PROGRESS, DONE = "not_started", "in_progress", "done"
# how each item type is described in its xAPI statement (cmi.interaction types)
INTERACTION_TYPES = {
    "likert": "likert",
    "single": "choice",
    "yesno": "choice",
    "multiple": "choice",
    "number": "numeric",
    "text": "fill-in",
}


def find_attempt(
    session: Session, child: Child, wave: Wave, instrument_id: str, respondent: str
) -> Attempt | None:
    return session.scalars(
        select(Attempt).where(
            Attempt.child_id == child.id,
            Attempt.wave_id == wave.id,
            Attempt.instrument_id == instrument_id,
            Attempt.respondent == respondent,
        )
    ).first()


def open_attempt(
    session: Session,
    study: Study,
    registry: InstrumentRegistry,
    child: Child,
    wave: Wave,
    instrument_id: str,
    respondent: str,
    now: datetime,
) -> Attempt:
    """The attempt for this child, wave and instrument; started when the window allows."""
    allowed = wave.child_instruments if respondent == "child" else wave.instruments
    if instrument_id not in allowed or not child.active:
        raise NotFound()
    attempt = find_attempt(session, child, wave, instrument_id, respondent)
    if attempt is not None:
        return attempt
    if not wave.accepts_answers(now):
        raise WindowClosed()
    instrument = registry.get(instrument_id)
    attempt = Attempt(
        study_id=study.id,
        teacher=child.teacher,
        child_id=child.id,
        wave_id=wave.id,
        instrument_id=instrument_id,
        instrument_version=instrument.version,
        respondent=respondent,
        started_at=now,
        late=wave.state(now) == LATE,
    )
    session.add(attempt)
    session.flush()
    return attempt


def get_attempt(session: Session, teacher: str, attempt_id: int) -> Attempt:
    attempt = session.get(Attempt, attempt_id)
    if attempt is None or attempt.teacher != teacher or not attempt.child.active:
        raise NotFound()
    return attempt


def answers_of(session: Session, attempt: Attempt) -> dict[str, Any]:
    rows = session.execute(
        select(Answer.item_id, Answer.value).where(Answer.attempt_id == attempt.id)
    )
    return {item_id: value for item_id, value in rows}


def check_writable(study: Study, attempt: Attempt, now: datetime) -> Wave:
    wave = study.wave(attempt.wave_id)
    if wave is None:
        raise NotFound()
    if attempt.submitted_at is not None:
        raise Locked()
    if not wave.accepts_answers(now):
        raise WindowClosed()
    return wave


_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (attempt, item) DO UPDATE, built once per dialect."""
    if dialect not in _UPSERTS:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(Answer)
        _UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=[Answer.attempt_id, Answer.item_id],
            set_={
                "value": statement.excluded.value,
                "answered_at": statement.excluded.answered_at,
                "late": statement.excluded.late,
            },
        )
    return _UPSERTS[dialect]


def _upsert(session: Session, values: dict[str, Any]) -> None:
    session.execute(_upsert_statement(session.get_bind().dialect.name), values)


def save_answer(
    session: Session,
    study: Study,
    instrument: Instrument,
    attempt: Attempt,
    item_id: str,
    raw: Any,
    now: datetime,
) -> Any:
    """Validate and store one answer at once (``None`` clears it). Returns the stored value."""
    wave = check_writable(study, attempt, now)
    item = instrument.items_by_id.get(item_id)
    if item is None:
        raise InvalidAnswer(item_id, "unknown_item")
    try:
        value = item.clean(raw)
    except ValueError as exc:
        raise InvalidAnswer(item_id, str(exc)) from None
    late = wave.state(now) == LATE
    if value is None:
        session.execute(
            delete(Answer).where(Answer.attempt_id == attempt.id, Answer.item_id == item_id)
        )
    else:
        _upsert(
            session,
            {
                "attempt_id": attempt.id,
                "item_id": item_id,
                "value": value,
                "answered_at": now,
                "late": late,
            },
        )
    if late and not attempt.late:
        attempt.late = True
    response: Any = value
    if item.type == "text":
        response = None  # free text about a child never leaves the tool
    elif isinstance(value, list):
        response = "[,]".join(str(v) for v in value)  # the xAPI choice response format
    emit(
        session,
        "item_answered",
        attempt.teacher,
        at=now,
        item=item_id,
        response=response,
        interaction_type=INTERACTION_TYPES[item.type],
        item_text=item.text.get("nl"),
        choices=[[str(c.value), c.label.get("nl", "")] for c in item.options],
        late=late,
        **_attempt_keys(study, instrument, attempt),
    )
    return value


def _attempt_keys(study: Study, instrument: Instrument, attempt: Attempt) -> dict[str, Any]:
    """The keys every event about one questionnaire attempt carries (see steun_lti/records/events.py)."""
    return {
        "study": study.id,
        "wave": attempt.wave_id,
        "instrument": instrument.id,
        "instrument_version": attempt.instrument_version,
        "child_code": attempt.child.code,
        "attempt": attempt.id,
        "respondent": attempt.respondent,
    }


def save_page(
    session: Session,
    study: Study,
    instrument: Instrument,
    attempt: Attempt,
    page_index: int,
    submitted: Mapping[str, Any],
    now: datetime,
) -> dict[str, str]:
    """Store the answers of a page sent as a plain form; returns {item: reason} of refusals."""
    problems: dict[str, str] = {}
    known = answers_of(session, attempt)
    for item in instrument.pages[page_index].items:
        raw = submitted.get(item.id)
        if raw is None and item.id not in known:
            continue
        if known.get(item.id) is not None and raw is None:
            continue  # a plain form does not send an untouched radio group: keep the answer
        try:
            if known.get(item.id) is not None and item.clean(raw) == known[item.id]:
                continue  # unchanged (already saved by the page's script): no new event
        except ValueError:
            pass
        try:
            save_answer(session, study, instrument, attempt, item.id, raw, now)
        except InvalidAnswer as exc:
            problems[item.id] = exc.reason
    return problems


def complete_page(
    session: Session, study: Study, instrument: Instrument, attempt: Attempt, page_index: int
) -> None:
    emit(
        session,
        "page_completed",
        attempt.teacher,
        page=instrument.pages[page_index].id,
        **_attempt_keys(study, instrument, attempt),
    )


@dataclass(frozen=True)
class Progress:
    answered: int
    shown: int
    resume_page: int
    resume_item: str | None

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.shown) if self.shown else 100


def progress(instrument: Instrument, answers: Mapping[str, Any]) -> Progress:
    shown = visible_items(instrument, answers)
    answered = sum(1 for item in shown if answers.get(item.id) is not None)
    nxt = first_unanswered(instrument, answers)
    if nxt is None:
        return Progress(answered, len(shown), len(instrument.pages), None)
    return Progress(answered, len(shown), instrument.page_index(nxt.id), nxt.id)


def submit(
    session: Session,
    study: Study,
    registry: InstrumentRegistry,
    instrument: Instrument,
    attempt: Attempt,
    now: datetime,
) -> bool:
    """Lock the attempt and score it. Returns whether this completed the teacher's wave."""
    check_writable(study, attempt, now)
    answers = answers_of(session, attempt)
    missing = missing_required(instrument, answers)
    if missing:
        raise InvalidAnswer(missing[0].id, "required")
    scores = score(instrument, answers)
    attempt.submitted_at = now
    attempt.scores = scores
    emit(
        session,
        "questionnaire_completed",
        attempt.teacher,
        at=now,
        late=attempt.late,
        scores=scores,
        **_attempt_keys(study, instrument, attempt),
    )
    session.flush()
    wave = study.wave(attempt.wave_id)
    teacher_form = attempt.respondent == "teacher" and wave is not None
    if teacher_form and wave is not None and wave_done(session, study, attempt.teacher, wave):
        emit(session, "wave_completed", attempt.teacher, at=now, study=study.id, wave=wave.id)
        return True
    return False


def wave_done(session: Session, study: Study, teacher: str, wave: Wave) -> bool:
    """Every active child has every teacher questionnaire of the wave submitted."""
    kids = [c for c in children(session, study, teacher) if c.active]
    if not kids:
        return False
    submitted = {
        (child_id, instrument_id)
        for child_id, instrument_id in session.execute(
            select(Attempt.child_id, Attempt.instrument_id).where(
                Attempt.teacher == teacher,
                Attempt.study_id == study.id,
                Attempt.wave_id == wave.id,
                Attempt.respondent == "teacher",
                Attempt.submitted_at.is_not(None),
            )
        )
    }
    return all((c.id, i) in submitted for c in kids for i in wave.instruments)
