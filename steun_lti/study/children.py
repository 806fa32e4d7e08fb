"""The children a teacher picks, under codes, with the reasons why; a child's withdrawal.

Part of the study service (``steun_lti.study.service`` gathers them for the views); every function
that records a fact emits its domain event in the same session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext, lazy_gettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from steun_lti.records.events import emit
from steun_lti.study.consent import require_consent
from steun_lti.study.definition import Study
from steun_lti.study.errors import (
    NotFound,
    StudyError,
)
from steun_lti.study.identifying import identifying_details
from steun_lti.study.models import Answer, Attempt, Child


def children(session: Session, study: Study, teacher: str) -> list[Child]:
    return list(
        session.scalars(
            select(Child)
            .where(Child.study_id == study.id, Child.teacher == teacher)
            .order_by(Child.seq)
        )
    )


def get_child(session: Session, study: Study, teacher: str, code: str) -> Child:
    for child in children(session, study, teacher):
        if child.code == code.upper():
            return child
    raise NotFound()


def clean_reasons(
    study: Study, reasons: Iterable[str], comment: str | None
) -> tuple[list[str], str | None]:
    known = [r.id for r in study.reasons]
    chosen = [r for r in known if r in set(reasons)]
    unknown = set(reasons) - set(known)
    if unknown:
        raise StudyError(lazy_gettext("Unknown reason."))
    text = (comment or "").strip() or None
    if text is not None and len(text) > study.reason_comment_max:
        raise StudyError(
            lazy_gettext(
                "The comment is too long (at most %(n)s characters).", n=study.reason_comment_max
            )
        )
    if text is not None:
        refuse_identifying_details(text)
    return chosen, text


_KINDS = {
    "name": lambda text: gettext("a name (“%(text)s”)", text=text),
    "date": lambda text: gettext("a date (“%(text)s”)", text=text),
    "address": lambda text: gettext("an address (“%(text)s”)", text=text),
}


def refuse_identifying_details(text: str) -> None:
    """Refuse a note with a name, date or address in it (heuristics: ``study.identifying``):
    the study knows children only as codes, and the note is never to be a way round that."""
    found = identifying_details(text)
    if found:
        raise StudyError(
            lazy_gettext(
                "Your explanation seems to contain something that could identify the child: "
                "%(found)s. Leave it out and describe the situation in general terms.",
                found=", ".join(_KINDS[f.kind](f.text) for f in found),
            )
        )


def add_child(
    session: Session,
    study: Study,
    teacher: str,
    reasons: Iterable[str],
    comment: str | None,
    now: datetime,
) -> Child:
    require_consent(session, study, teacher)
    chosen, text = clean_reasons(study, reasons, comment)
    active = [c for c in children(session, study, teacher) if c.active]
    if len(active) >= study.max_children:
        raise StudyError(lazy_gettext("You can add at most %(n)s children.", n=study.max_children))
    last = session.scalar(
        select(func.max(Child.seq)).where(Child.study_id == study.id, Child.teacher == teacher)
    )
    child = Child(
        study_id=study.id,
        teacher=teacher,
        seq=(last or 0) + 1,
        reasons=chosen,
        comment=text,
        added_at=now,
    )
    session.add(child)
    session.flush()
    emit(
        session,
        "child_added",
        teacher,
        at=now,
        study=study.id,
        child_code=child.code,
        reasons=chosen,
    )
    return child


def update_reasons(
    session: Session, study: Study, child: Child, reasons: Iterable[str], comment: str | None
) -> None:
    chosen, text = clean_reasons(study, reasons, comment)
    changed = list(child.reasons or []) != chosen
    child.reasons = chosen
    child.comment = text
    if changed:
        emit(
            session,
            "child_reasons_changed",
            child.teacher,
            study=study.id,
            child_code=child.code,
            reasons=chosen,
        )


def withdraw_child(
    session: Session, study: Study, child: Child, remove_data: bool, now: datetime
) -> None:
    """Take a child out of the study; with ``remove_data`` its answers are deleted for good."""
    if remove_data:
        attempt_ids = select(Attempt.id).where(Attempt.child_id == child.id)
        session.execute(delete(Answer).where(Answer.attempt_id.in_(attempt_ids)))
        session.execute(delete(Attempt).where(Attempt.child_id == child.id))
        child.reasons = []
        child.comment = None
    if child.withdrawn_at is None:
        child.withdrawn_at = now
    emit(
        session,
        "child_withdrawn",
        child.teacher,
        at=now,
        study=study.id,
        child_code=child.code,
        data_removed=remove_data,
    )


def confirm_parental_consent(child: Child, now: datetime) -> None:
    if child.parental_consent_at is None:
        child.parental_consent_at = now
