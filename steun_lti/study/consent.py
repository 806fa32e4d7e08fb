"""A teacher's consent to take part: give, withdraw, require.

Part of the study service (``steun_lti.study.service`` gathers them for the views); every function
that records a fact emits its domain event in the same session.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from steun_lti.records.events import emit
from steun_lti.study.definition import Study
from steun_lti.study.errors import (
    ConsentRequired,
)
from steun_lti.study.models import Consent

_C = Consent.__table__
# Built once: every launch and study page asks (building a statement costs more than running it;
# benchmarks/launch_profile.py).
_CURRENT_CONSENT_ID = (
    select(_C.c.id)
    .where(
        _C.c.study_id == bindparam("study"),
        _C.c.teacher == bindparam("teacher"),
        _C.c.version == bindparam("version"),
        _C.c.withdrawn_at.is_(None),
    )
    .order_by(_C.c.id.desc())
    .limit(1)
)


def _current_consent_id(session: Session, study: Study, teacher: str) -> int | None:
    """One column read with a plain statement, no row object built (an ORM query cost half of a
    new teacher's consent page, where the answer is nearly always "none")."""
    if session.new or session.dirty:  # the statement bypasses the ORM: let it see pending rows
        session.flush()
    params = {"study": study.id, "teacher": teacher, "version": study.consent_version}
    found: int | None = session.connection().execute(_CURRENT_CONSENT_ID, params).scalar()
    return found


def current_consent(session: Session, study: Study, teacher: str) -> Consent | None:
    """The teacher's consent to this version, if given and not withdrawn (the row through the
    ORM, when there is one)."""
    found = _current_consent_id(session, study, teacher)
    return None if found is None else session.get(Consent, found)


def has_consent(session: Session, study: Study, teacher: str) -> bool:
    """Whether :func:`current_consent` finds one."""
    return _current_consent_id(session, study, teacher) is not None


def give_consent(session: Session, study: Study, teacher: str, now: datetime) -> Consent:
    existing = current_consent(session, study, teacher)
    if existing is not None:
        return existing
    consent = Consent(
        study_id=study.id, teacher=teacher, version=study.consent_version, given_at=now
    )
    session.add(consent)
    emit(
        session,
        "consent_given",
        teacher,
        at=now,
        study=study.id,
        consent_version=study.consent_version,
    )
    return consent


def withdraw_consent(session: Session, study: Study, teacher: str, now: datetime) -> bool:
    """Stop taking part: nothing more is collected until consent is given again."""
    consent = current_consent(session, study, teacher)
    if consent is None:
        return False
    consent.withdrawn_at = now
    emit(session, "consent_withdrawn", teacher, at=now, study=study.id)
    return True


# built once: this check runs on every saved answer
_HAS_CONSENT = (
    select(Consent.id)
    .where(
        Consent.study_id == bindparam("study"),
        Consent.teacher == bindparam("teacher"),
        Consent.version == bindparam("version"),
        Consent.withdrawn_at.is_(None),
    )
    .limit(1)
)


def require_consent(session: Session, study: Study, teacher: str) -> None:
    if session.new or session.dirty:  # the statement bypasses the ORM: let it see pending rows
        session.flush()
    params = {"study": study.id, "teacher": teacher, "version": study.consent_version}
    if session.execute(_HAS_CONSENT, params).first() is None:
        raise ConsentRequired()
