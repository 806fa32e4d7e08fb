"""The courses the participants launch from, and the course's overview for its staff.

A course's teachers and admins see, per wave, how many participants of *their* course have
started and finished: counts only, never answers, children or who is who. A participant is noted
for a course (both as pseudonyms: the course as the HMAC of issuer and context id) when they
open the study from it; withdrawal removes the note with everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steun_lti.study.attempts import wave_done
from steun_lti.study.definition import Study, Wave
from steun_lti.study.models import Attempt, Consent, CourseParticipant

# Built once: every visit of the study's entry page asks (building costs more than running it).
_KNOWN_PARTICIPANT = select(CourseParticipant.id).where(
    CourseParticipant.study_id == bindparam("study"),
    CourseParticipant.context == bindparam("context"),
    CourseParticipant.teacher == bindparam("teacher"),
)


def note_participant(
    session: Session, study: Study, context: str | None, teacher: str, now: datetime
) -> bool:
    """Remember that ``teacher`` takes part from this course (once; no-op without a course).

    True when a row was added (the caller commits it); False when there was nothing to add.
    """
    if not context:
        return False
    known = session.scalar(
        _KNOWN_PARTICIPANT, {"study": study.id, "context": context, "teacher": teacher}
    )
    if known is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                CourseParticipant(
                    study_id=study.id, context=context, teacher=teacher, first_seen=now
                )
            )
    except IntegrityError:  # the same teacher's other tab noted it a moment ago
        return False
    return True


@dataclass(frozen=True)
class WaveCount:
    wave: Wave
    participants: int  # consented participants of this course
    started: int  # ... with at least one questionnaire of the wave opened
    finished: int  # ... with every questionnaire of the wave submitted for every child


def course_overview(session: Session, study: Study, context: str | None) -> list[WaveCount]:
    """Per wave: how many of this course's consented participants started and finished it."""
    teachers: list[str] = []
    if context:
        noted = select(CourseParticipant.teacher).where(
            CourseParticipant.study_id == study.id, CourseParticipant.context == context
        )
        teachers = sorted(
            set(
                session.scalars(
                    select(Consent.teacher).where(
                        Consent.study_id == study.id,
                        Consent.withdrawn_at.is_(None),
                        Consent.teacher.in_(noted),
                    )
                )
            )
        )
    counts = []
    for wave in study.waves:
        started = set(
            session.scalars(
                select(Attempt.teacher).where(
                    Attempt.study_id == study.id,
                    Attempt.wave_id == wave.id,
                    Attempt.teacher.in_(teachers),
                )
            )
        )
        finished = sum(1 for t in started if wave_done(session, study, t, wave))
        counts.append(WaveCount(wave, len(teachers), len(started), finished))
    return counts
