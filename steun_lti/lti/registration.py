"""Manual registration, one-time invites and LTI Dynamic Registration without an open door.

Dynamic Registration makes the tool fetch a URL that a browser hands it and post to an endpoint
that URL names. Unguarded, that is server-side request forgery and lets anyone register a platform
(issue 9). So: registration starts only from a one-time invite an operator created; the
configuration URL must be https (http only on loopback in debug/demo mode), must not resolve to a
private, loopback or link-local address (unless allowed for tests), and its issuer and registration
endpoint must be on its own host; responses are size- and time-limited and redirects refused.
The invite is claimed atomically *before* any outgoing request, and spent by the first attempt,
also when that attempt is refused.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from steun_lti.lti.exceptions import InviteInvalid, RegistrationRefused
from steun_lti.lti.flow import deployment_for, digest
from steun_lti.lti.http import AddressPolicy, HttpError, UnsafeTarget, checked_address, request_json
from steun_lti.lti.identity import registration_custom_parameters
from steun_lti.lti.models import LtiDeployment, LtiInvite, LtiRegistration
from steun_lti.plumbing.settings import Settings

log = logging.getLogger("steun.lti.registration")

CLAIM_TIMEOUT = timedelta(minutes=2)
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- manual registration ------------------------------------------------------------------


def add_platform(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    auth_audience: str | None = None,
    name: str = "",
    deployment_ids: tuple[str, ...] = (),
    activate: bool = True,
    created_via: str = "manual",
) -> LtiRegistration:
    """Create or update the registration (issuer, client_id); named deployments are activated."""
    for label, url in (
        ("issuer", issuer),
        ("auth login URL", auth_login_url),
        ("auth token URL", auth_token_url),
        ("key set URL", key_set_url),
    ):
        if not url.startswith(("https://", "http://")):
            raise RegistrationRefused(f"{label} must be an http(s) URL, got {url[:100]!r}")
    if not client_id.strip():
        raise RegistrationRefused("client id is empty")
    registration = session.scalars(
        select(LtiRegistration).where(
            LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id
        )
    ).first()
    if registration is None:
        registration = LtiRegistration(issuer=issuer, client_id=client_id)
        session.add(registration)
    registration.auth_login_url = auth_login_url
    registration.auth_token_url = auth_token_url
    registration.key_set_url = key_set_url
    registration.auth_audience = auth_audience or None
    registration.name = name or urlsplit(issuer).netloc
    registration.created_via = created_via
    registration.active = True
    session.commit()
    for deployment_id in deployment_ids:
        deployment = deployment_for(session, registration, deployment_id)
        if activate:
            set_active(session, deployment, True)
    return registration


def set_active(session: Session, deployment: LtiDeployment, active: bool) -> None:
    deployment.active = active
    deployment.activated_at = utcnow() if active else None
    session.commit()


# -- invites ------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w``."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise RegistrationRefused(f"duration {text!r} is not like 30m, 12h, 7d or 2w")
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "m": timedelta(minutes=1),
        "h": timedelta(hours=1),
        "d": timedelta(days=1),
        "w": timedelta(weeks=1),
    }[unit] * amount


def create_invite(
    session: Session,
    *,
    for_host: str | None = None,
    expires_in: timedelta = timedelta(days=7),
    auto_activate: bool = False,
    note: str = "",
) -> tuple[LtiInvite, str]:
    """A new invite and its token (shown once; only its hash is stored)."""
    token = secrets.token_urlsafe(24)
    invite = LtiInvite(
        token_hash=digest(token),
        for_host=(for_host or "").strip().lower() or None,
        auto_activate=auto_activate,
        note=note[:255],
        expires_at=utcnow() + expires_in,
    )
    session.add(invite)
    session.commit()
    return invite, token


def claim_invite(session: Session, token: str) -> LtiInvite:
    """Take the invite for this registration attempt, or refuse (no outgoing request yet)."""
    now = utcnow()
    result = session.execute(
        update(LtiInvite)
        .where(
            LtiInvite.token_hash == digest(token or ""),
            LtiInvite.used_at.is_(None),
            LtiInvite.expires_at > now,
            or_(LtiInvite.claimed_at.is_(None), LtiInvite.claimed_at < now - CLAIM_TIMEOUT),
        )
        .values(claimed_at=now)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteInvalid("unknown, used or expired invite")
    invite = session.scalars(select(LtiInvite).where(LtiInvite.token_hash == digest(token))).one()
    return invite


REFUSED = "refused"  # ``used_from`` of an invite burnt by a refused attempt


def burn_invite(session: Session, invite: LtiInvite) -> None:
    """Spend the invite of a refused registration attempt (nothing else of it is kept)."""
    session.rollback()
    session.execute(
        update(LtiInvite)
        .where(LtiInvite.id == invite.id, LtiInvite.used_at.is_(None))
        .values(used_at=utcnow(), used_from=REFUSED)
    )
    session.commit()


# -- URL safety ---------------------------------------------------------------------------


def allowed_hosts(settings: Settings) -> set[str]:
    return {h.strip().lower() for h in settings.registration_allowed_hosts.split(",") if h.strip()}


def check_url(url: str, settings: Settings, *, what: str, for_host: str | None = None) -> str:
    """Refuse URLs a registration must not make us fetch; return the URL's host."""
    return checked_target(url, settings, what=what, for_host=for_host)[0]


def checked_target(
    url: str, settings: Settings, *, what: str, for_host: str | None = None
) -> tuple[str, str]:
    """Check ``url`` like :func:`check_url`; return its host and the approved address to use.

    Every address the name resolves to must pass; the caller then connects to the returned
    address only (``request_json(pin=...)``), so a second DNS answer cannot redirect the
    request to an internal service (DNS rebinding).
    """
    try:
        host, address = checked_address(
            url, AddressPolicy.from_settings(settings), what=what, require_https=True
        )
    except UnsafeTarget as exc:
        raise RegistrationRefused(exc.reason) from exc
    hosts = allowed_hosts(settings)
    if hosts and host not in hosts:
        raise RegistrationRefused(f"{what}: host {host!r} is not in the allowed LMS hosts")
    if for_host and host != for_host:
        raise RegistrationRefused(f"{what}: this invite is for {for_host!r}, not {host!r}")
    return host, address


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


# -- dynamic registration -----------------------------------------------------------------


@dataclass(frozen=True)
class ToolUrls:
    base: str
    login: str
    launch: str
    jwks: str

    @property
    def domain(self) -> str:
        return urlsplit(self.base).netloc  # Moodle wants the host including the port


def tool_configuration(
    urls: ToolUrls, platform_scopes: list[str] | None, product_family: str | None = None
) -> dict[str, Any]:
    scopes = SCOPES if platform_scopes is None else [s for s in SCOPES if s in platform_scopes]
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": "Steun in het onderwijs",
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(scopes),
        TOOL_CONFIG: {
            "domain": urls.domain,
            "description": "Vragenlijsten van het onderzoek Steun in het onderwijs.",
            "target_link_uri": urls.launch,
            # The SCORM player's learner id where the LMS can substitute it (lti/identity.py).
            "custom_parameters": registration_custom_parameters(product_family),
            "claims": ["iss", "sub", "locale"],
            "messages": [
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": urls.launch,
                    "label": "Steun in het onderwijs",
                    "placements": ["ContentArea"],
                },
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch},
            ],
        },
    }


def register_dynamically(
    session: Session,
    settings: Settings,
    *,
    invite_token: str,
    openid_configuration: str,
    registration_token: str | None,
    urls: ToolUrls,
) -> tuple[LtiRegistration, LtiDeployment | None]:
    """Run LTI Dynamic Registration for one invite; refuse unsafe or inconsistent platforms."""
    invite = claim_invite(session, invite_token)
    try:
        result = _register(
            session, settings, invite, openid_configuration, registration_token, urls
        )
    except Exception:
        # Burnt, not released: a link that leaked (a log, a screenshot) must not allow a second
        # try; the operator makes a new invite.
        burn_invite(session, invite)
        raise
    return result


def _register(
    session: Session,
    settings: Settings,
    invite: LtiInvite,
    config_url: str,
    registration_token: str | None,
    urls: ToolUrls,
) -> tuple[LtiRegistration, LtiDeployment | None]:
    if not config_url:
        raise RegistrationRefused("openid_configuration parameter missing")
    host, address = checked_target(
        config_url, settings, what="openid_configuration", for_host=invite.for_host
    )
    auth = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    try:
        config = request_json(
            "GET", config_url, headers=auth, max_bytes=64 * 1024, timeout=(3.05, 5), pin=address
        )
    except HttpError as exc:
        raise RegistrationRefused(f"platform configuration: {exc.reason}") from exc
    if not isinstance(config, dict):
        raise RegistrationRefused("platform configuration is not a JSON object")
    required = (
        "issuer",
        "registration_endpoint",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
    )
    missing = [k for k in required if not isinstance(config.get(k), str)]
    if missing:
        raise RegistrationRefused(f"platform configuration lacks {', '.join(missing)}")
    issuer, endpoint = config["issuer"], config["registration_endpoint"]
    if not (_origin(issuer) == _origin(config_url) == _origin(endpoint)):
        raise RegistrationRefused(
            "issuer, registration endpoint and configuration URL are not on the same host"
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        check_url(config[key], settings, what=key)
    methods = config.get("token_endpoint_auth_methods_supported")
    if isinstance(methods, list) and "private_key_jwt" not in methods:
        raise RegistrationRefused("platform does not support private_key_jwt")
    algs = config.get("id_token_signing_alg_values_supported")
    if isinstance(algs, list) and "RS256" not in algs:
        raise RegistrationRefused("platform does not sign with RS256")
    scopes = config.get("scopes_supported")
    platform = config.get(PLATFORM_CONFIG)
    platform = platform if isinstance(platform, dict) else {}
    family = platform.get("product_family_code")
    body = tool_configuration(
        urls,
        scopes if isinstance(scopes, list) else None,
        family if isinstance(family, str) else None,
    )
    try:
        # Same origin as the configuration URL (checked above), so the same approved address.
        answer = request_json(
            "POST",
            endpoint,
            json=body,
            headers=auth,
            max_bytes=64 * 1024,
            timeout=(3.05, 10),
            pin=address,
        )
    except HttpError as exc:
        raise RegistrationRefused(f"registration endpoint: {exc.reason}") from exc
    client_id = answer.get("client_id") if isinstance(answer, dict) else None
    if not isinstance(client_id, str) or not client_id:
        raise RegistrationRefused("platform answered without a client_id")
    tool_config = answer.get(TOOL_CONFIG)
    tool_config = tool_config if isinstance(tool_config, dict) else {}
    deployment_id = tool_config.get("deployment_id")
    registration = add_platform(
        session,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"],
        key_set_url=config["jwks_uri"],
        auth_audience=config.get("authorization_server")
        if isinstance(config.get("authorization_server"), str)
        else None,
        name=str(platform.get("product_family_code") or host)[:100] + f" ({host})",
        created_via="dynamic",
    )
    registration.registered_from = host
    registration.invite_id = invite.id
    deployment = None
    if isinstance(deployment_id, str) and deployment_id:
        deployment = deployment_for(session, registration, deployment_id)
        if invite.auto_activate:
            set_active(session, deployment, True)
    invite.used_at = utcnow()
    invite.used_from = host
    session.commit()
    log.info(
        "dynamic registration: %s client %s from %s (invite %s, deployment %s)",
        issuer,
        client_id,
        host,
        invite.id,
        "active" if deployment is not None and deployment.active else "pending",
    )
    return registration, deployment
