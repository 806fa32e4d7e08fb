"""An append-only audit log of what happened, without content (who as pseudonym, what, when)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from steun_lti.plumbing.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


def record(session: Session, action: str, actor: str | None = None, **detail: object) -> None:
    """Add an audit row to the session; it is committed with the caller's transaction."""
    session.add(AuditEvent(action=action, actor=actor, detail=detail))
