"""Tables of the LTI layer.

Registrations are keyed on (issuer, client_id) because Canvas uses one issuer for every school;
deployments are unique per registration and created *inactive* when a launch first names them.
Nothing here holds a name, an e-mail or a raw LMS user id (see ``LtiLaunch.ags_subject`` for the one
encrypted, short-lived exception that AGS needs).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from steun_lti.plumbing.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class LtiRegistration(Base):
    """One platform (LMS) as the tool knows it: issuer + client_id and the platform's endpoints."""

    __tablename__ = "lti_registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_registration_issuer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    auth_audience: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_via: Mapped[str] = mapped_column(String(20), default="manual")  # manual | dynamic
    registered_from: Mapped[str | None] = mapped_column(String(255), nullable=True)  # host
    invite_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_invite.id", ondelete="SET NULL"), nullable=True
    )

    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="LtiDeployment.id"
    )


class LtiDeployment(Base):
    """A deployment of the tool inside a platform; launches need an *active* one."""

    __tablename__ = "lti_deployment"
    __table_args__ = (
        UniqueConstraint("registration_id", "deployment_id", name="uq_lti_deployment_reg"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    registration: Mapped[LtiRegistration] = relationship(back_populates="deployments")


class LtiToolKey(Base):
    """The tool's RSA signing keys. All unretired keys are published; the newest signs."""

    __tablename__ = "lti_tool_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LtiLoginState(Base):
    """One OIDC login in flight: state and nonce, bound to a browser, usable once."""

    __tablename__ = "lti_login_state"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE")
    )
    binding_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the browser's secret
    storage_target: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LtiLaunch(Base):
    """A verified launch: the pseudonymous LaunchContext plus what the services need later."""

    __tablename__ = "lti_launch"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE")
    )
    context: Mapped[dict[str, object]] = mapped_column(JSON)
    # Deep linking: the return URL and opaque data of the request; AGS: the endpoint claim.
    services: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # The platform's user id, encrypted (Fernet), only to address an AGS score; deleted with the row.
    ags_subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Set only when the launch travels in URLs (no cookies): sha256 of the key the launching
    # page keeps, and of the one-time ticket it last asked for (steun_lti/lti/sessions.py).
    browser_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ticket_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ticket_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # Child mode: the launch is locked to a child's pages until the teacher launches again.
    child_mode: Mapped[str | None] = mapped_column(String(100), nullable=True)


class LtiInvite(Base):
    """A one-time link that lets one LMS admin run Dynamic Registration."""

    __tablename__ = "lti_invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    for_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    auto_activate: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_from: Mapped[str | None] = mapped_column(String(255), nullable=True)


class LtiLineItem(Base):
    """The gradebook column Steun found or created for a link that came without one.

    Keyed on a digest of (registration, line item container, resource link, tag). A row without
    ``url`` is a claim: one worker is creating the column, the others wait for it, so two teachers
    finishing at the same moment do not make two columns. The URL is the platform's, no user data.
    """

    __tablename__ = "lti_line_item"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LtiCourseKey(Base):
    """The key built into the course package one platform's admin downloaded (decision 0012).

    The secret is not stored: it is derived from the tool's HMAC key and ``kid``
    (``steun_lti/records/course_channel.py``), so a copy of the database alone cannot sign course
    events. A revoked key (or an inactive registration) makes the relay refuse the package.
    """

    __tablename__ = "lti_course_key"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
