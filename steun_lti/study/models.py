"""Tables of the study: consent, children (as codes), questionnaire attempts and their answers.

Nothing here identifies a person: teachers are pseudonyms (HMAC of issuer and subject), children
are codes per teacher (Leerling A, B, ...). The only free text is the short optional comment on
the reasons, which the form warns must hold no names, initials or dates of birth.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from steun_lti.plumbing.db import Base
from steun_lti.records.withdrawal import Scope, withdrawal_hook


def utcnow() -> datetime:
    return datetime.now(UTC)


def child_code(seq: int) -> str:
    """1 → A, 26 → Z, 27 → AA (spreadsheet style)."""
    letters = ""
    while seq > 0:
        seq, rest = divmod(seq - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class Consent(Base):
    """A teacher's consent to the study, for one version of the information letter."""

    __tablename__ = "study_consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(64))
    teacher: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[str] = mapped_column(String(40))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Child(Base):
    """A child a teacher picked, known only by its code."""

    __tablename__ = "study_child"
    __table_args__ = (UniqueConstraint("study_id", "teacher", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(64))
    teacher: Mapped[str] = mapped_column(String(80), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(String(500))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parental_consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def code(self) -> str:
        return child_code(self.seq)

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


class Attempt(Base):
    """One instrument for one child in one wave, by one respondent (teacher or child)."""

    __tablename__ = "q_attempt"
    __table_args__ = (UniqueConstraint("child_id", "wave_id", "instrument_id", "respondent"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(64))
    teacher: Mapped[str] = mapped_column(String(80), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("study_child.id", ondelete="CASCADE"))
    wave_id: Mapped[str] = mapped_column(String(64))
    instrument_id: Mapped[str] = mapped_column(String(64))
    instrument_version: Mapped[str] = mapped_column(String(20))
    respondent: Mapped[str] = mapped_column(String(10), default="teacher")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    child: Mapped[Child] = relationship(lazy="joined")


class Answer(Base):
    """One item's answer, saved the moment it is given (upserted on change)."""

    __tablename__ = "q_answer"
    __table_args__ = (UniqueConstraint("attempt_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("q_attempt.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class CourseParticipant(Base):
    """A participant opened the study from this course (both pseudonyms): for the staff's counts."""

    __tablename__ = "study_course_participant"
    __table_args__ = (UniqueConstraint("study_id", "context", "teacher"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(String(80), index=True)
    teacher: Mapped[str] = mapped_column(String(80), index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@withdrawal_hook("study")
def erase(session: Session, scope: Scope) -> int:
    """Withdrawal (``steun_lti.records.withdrawal``): delete a teacher's study rows, or one child's answers.

    A child's row stays as a withdrawn code without reasons, so codes are never reused.
    """
    children = select(Child.id).where(Child.teacher == scope.pseudonym)
    if scope.child_code:
        seq = child_seq(scope.child_code)
        if seq is None:
            return 0
        children = children.where(Child.seq == seq)
    attempts = select(Attempt.id).where(Attempt.child_id.in_(children))
    removed = _count(session, delete(Answer).where(Answer.attempt_id.in_(attempts)))
    removed += _count(session, delete(Attempt).where(Attempt.child_id.in_(children)))
    if scope.child_code:
        for child in session.scalars(select(Child).where(Child.id.in_(children))):
            child.reasons, child.comment = [], None
            child.withdrawn_at = child.withdrawn_at or utcnow()
        return removed
    removed += _count(session, delete(Child).where(Child.teacher == scope.pseudonym))
    removed += _count(session, delete(Consent).where(Consent.teacher == scope.pseudonym))
    removed += _count(
        session, delete(CourseParticipant).where(CourseParticipant.teacher == scope.pseudonym)
    )
    return removed


def _count(session: Session, statement: Any) -> int:
    result: Any = session.execute(statement)
    return int(result.rowcount)


def child_seq(code: str) -> int | None:
    """Code to number: A → 1, AA → 27; ``None`` for anything that is not a code."""
    code = code.strip().upper().removeprefix("LEERLING ").removeprefix("PUPIL ")
    if not code.isalpha() or not code.isascii():
        return None
    seq = 0
    for letter in code:
        seq = seq * 26 + ord(letter) - ord("A") + 1
    return seq
