"""The course channel's proof: package keys per platform, and the packages that carry them.

Decision 0012. A registered platform's admin downloads the course package from the tool
(``/lti/admin``, or ``steun platform course-package``); the copy holds a key that belongs to that
registration. The relay accepts course events only with a valid token for that key
(:func:`verify`), takes the platform (issuer) from the key, never from the request, and only for a
participant who has consented.

The key's secret is derived from the tool's HMAC key and the key id; the database holds only the
id, the registration and whether it was revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from steun_lti.exceptions import SteunError
from steun_lti.lti.models import LtiCourseKey, LtiRegistration
from xapi.course_relay import KID_PATTERN, RELAY_FILE, learner_token, relay_script

STANDARDS = ("scorm12", "scorm2004")


class PackageError(SteunError):
    """No built package to hand out, or one without the relay slot."""


def key_secret(hmac_key: str, kid: str) -> str:
    """The package key (hex) for ``kid``: derived, never stored."""
    return hmac.new(
        hmac_key.encode(), b"steun-course-key\x00" + kid.encode(), hashlib.sha256
    ).hexdigest()


def current_key(session: Session, registration: LtiRegistration) -> LtiCourseKey:
    """The registration's newest unrevoked key; a new one when it has none."""
    key = session.scalars(
        select(LtiCourseKey)
        .where(LtiCourseKey.registration_id == registration.id, LtiCourseKey.revoked_at.is_(None))
        .order_by(LtiCourseKey.created_at.desc())
        .limit(1)
    ).first()
    if key is None:
        key = LtiCourseKey(kid=secrets.token_hex(8), registration_id=registration.id)
        session.add(key)
        session.flush()
    return key


def revoke_keys(session: Session, registration: LtiRegistration) -> int:
    """Revoke every key of the registration: its packages stop sending until replaced."""
    keys = session.scalars(
        select(LtiCourseKey).where(
            LtiCourseKey.registration_id == registration.id, LtiCourseKey.revoked_at.is_(None)
        )
    ).all()
    for key in keys:
        key.revoked_at = datetime.now(UTC)
    return len(keys)


def verify(
    session: Session, hmac_key: str, kid: str, learner_id: str, token: str
) -> LtiRegistration | None:
    """The active registration whose unrevoked key signed this learner's token, else None."""
    if not KID_PATTERN.match(kid) or len(token) != 64:
        return None
    expected = learner_token(key_secret(hmac_key, kid), learner_id)
    if not hmac.compare_digest(expected, token.lower()):
        return None
    key = session.get(LtiCourseKey, kid)
    if key is None or key.revoked_at is not None:
        return None
    registration = session.get(LtiRegistration, key.registration_id)
    if registration is None or not registration.active:
        return None
    return registration


def built_package(packages_dir: Path, standard: str) -> Path:
    """The newest built package of a standard in the packages folder."""
    if standard not in STANDARDS:
        raise PackageError(f"unknown standard {standard!r}; one of {', '.join(STANDARDS)}")
    found = sorted(packages_dir.glob(f"*-{standard}.zip"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise PackageError(
            f"no {standard} package in {packages_dir}: build it with "
            f"`python build_scorm.py --out {packages_dir}`"
        )
    return found[-1]


def keyed_package(source: Path, relay_url: str, kid: str, key_hex: str) -> bytes:
    """A copy of the built package whose ``steun-relay.js`` holds this key; all else unchanged."""
    script = relay_script(relay_url, kid, key_hex).encode()
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
            names = zin.namelist()
            if RELAY_FILE not in names:
                raise PackageError(
                    f"{source.name} has no {RELAY_FILE}: it was built by an older Steun; "
                    "rebuild it with build_scorm.py"
                )
            for info in zin.infolist():
                data = script if info.filename == RELAY_FILE else zin.read(info)
                zout.writestr(info, data, compress_type=info.compress_type)
    except zipfile.BadZipFile as exc:
        raise PackageError(f"{source.name} is not a readable zip file: {exc}") from exc
    return out.getvalue()


def relay_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/relay/course"


def package_for(
    session: Session,
    registration: LtiRegistration,
    standard: str,
    *,
    packages_dir: Path,
    base_url: str,
    hmac_key: str,
) -> tuple[str, bytes, str]:
    """(file name, zip bytes, key id) of the package this platform's admin imports."""
    key = current_key(session, registration)
    source = built_package(packages_dir, standard)
    data = keyed_package(source, relay_url(base_url), key.kid, key_secret(hmac_key, key.kid))
    host = registration.issuer.split("://")[-1].split("/")[0].replace(":", "-")
    return source.name.removesuffix(".zip") + f"-{host}.zip", data, key.kid
