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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from steun_lti.db import Base


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
