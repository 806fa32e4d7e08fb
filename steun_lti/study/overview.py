"""The wave dashboard: per child and instrument, not started, in progress or done.

Part of the study service (``steun_lti.study.service`` gathers them for the views); every function
that records a fact emits its domain event in the same session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steun_lti.questionnaires.registry import InstrumentRegistry
from steun_lti.study.attempts import DONE, IN_PROGRESS, NOT_STARTED, progress
from steun_lti.study.children import children
from steun_lti.study.definition import Study, Wave
from steun_lti.study.models import Answer, Attempt


@dataclass(frozen=True)
class Cell:
    instrument_id: str
    respondent: str
    status: str
    attempt_id: int | None = None
    answered: int = 0
    shown: int = 0
    late: bool = False


def wave_overview(
    session: Session,
    study: Study,
    registry: InstrumentRegistry,
    teacher: str,
    wave: Wave,
) -> dict[int, list[Cell]]:
    """Per active child (by id): the status of each instrument of the wave."""
    kids = [c for c in children(session, study, teacher) if c.active]
    if not kids:
        return {}
    attempts = list(
        session.scalars(
            select(Attempt).where(
                Attempt.teacher == teacher, Attempt.study_id == study.id, Attempt.wave_id == wave.id
            )
        )
    )
    counts: dict[int, dict[str, Any]] = {}
    if attempts:
        rows = session.execute(
            select(Answer.attempt_id, Answer.item_id, Answer.value).where(
                Answer.attempt_id.in_([a.id for a in attempts])
            )
        )
        for attempt_id, item_id, value in rows:
            counts.setdefault(attempt_id, {})[item_id] = value
    by_key = {(a.child_id, a.instrument_id, a.respondent): a for a in attempts}
    overview: dict[int, list[Cell]] = {}
    for child in kids:
        cells = []
        wanted = [(i, "teacher") for i in wave.instruments]
        if child.parental_consent_at is not None:
            wanted += [(i, "child") for i in wave.child_instruments]
        for instrument_id, respondent in wanted:
            attempt = by_key.get((child.id, instrument_id, respondent))
            if attempt is None:
                cells.append(Cell(instrument_id, respondent, NOT_STARTED))
                continue
            answers = counts.get(attempt.id, {})
            prog = progress(registry.get(instrument_id), answers)
            cells.append(
                Cell(
                    instrument_id,
                    respondent,
                    DONE if attempt.submitted_at else IN_PROGRESS,
                    attempt.id,
                    prog.answered,
                    prog.shown,
                    attempt.late,
                )
            )
        overview[child.id] = cells
    return overview
