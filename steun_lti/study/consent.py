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


def current_consent(session: Session, study: Study, teacher: str) -> Consent | None:
    return session.scalars(
        select(Consent)
        .where(
            Consent.study_id == study.id,
            Consent.teacher == teacher,
            Consent.version == study.consent_version,
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.id.desc())
        .limit(1)
    ).first()


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
    params = {"study": study.id, "teacher": teacher, "version": study.consent_version}
    if session.execute(_HAS_CONSENT, params).first() is None:
        raise ConsentRequired()
