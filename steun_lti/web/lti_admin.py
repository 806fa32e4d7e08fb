"""``/lti/admin``: the operator's page for registrations, deployments and invites.

Protected by HTTP Basic auth (user ``admin``, password ``STEUN_ADMIN_PASSWORD`` or the one generated
in ``data_dir/secrets/admin_password``) and a CSRF token on every change.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from steun_lti.lti.models import LtiCourseKey, LtiDeployment, LtiInvite, LtiRegistration
from steun_lti.lti.registration import create_invite, parse_duration, set_active
from steun_lti.plumbing.audit import record
from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.secrets import load_or_create_secret
from steun_lti.plumbing.settings import get_settings
from steun_lti.records import course_channel
from steun_lti.records.statements import hmac_key

bp = Blueprint("lti_admin", __name__, url_prefix="/lti/admin")
NEW_INVITE_KEY = "steun_admin_new_invite"


def admin_password() -> str:
    settings = get_settings()
    if settings.admin_password:
        return settings.admin_password.get_secret_value()
    return load_or_create_secret(settings.data_dir, "admin_password", nbytes=18)


@bp.before_request
def require_admin() -> ResponseReturnValue | None:
    auth = request.authorization
    if (
        auth is None
        or auth.type != "basic"
        or auth.username != "admin"
        or not hmac.compare_digest((auth.password or "").encode(), admin_password().encode())
    ):
        return Response(
            "Beheerderswachtwoord nodig / Administrator password required",
            401,
            {"WWW-Authenticate": 'Basic realm="Steun beheer", charset="UTF-8"'},
        )
    if request.method == "POST":
        expected = session.get("steun_admin_csrf", "")
        if not expected or not hmac.compare_digest(request.form.get("csrf", ""), expected):
            abort(400)
    return None


def csrf_token() -> str:
    if "steun_admin_csrf" not in session:
        session["steun_admin_csrf"] = secrets.token_urlsafe(16)
    return str(session["steun_admin_csrf"])


@bp.get("/")
def index() -> ResponseReturnValue:
    db = db_session()
    registrations = list(db.scalars(select(LtiRegistration).order_by(LtiRegistration.id)))
    invites = list(db.scalars(select(LtiInvite).order_by(LtiInvite.id.desc()).limit(20)))
    keys = {
        key.registration_id: key
        for key in db.scalars(
            select(LtiCourseKey)
            .where(LtiCourseKey.revoked_at.is_(None))
            .order_by(LtiCourseKey.created_at)
        )
    }
    packages_dir = get_settings().resolved_packages_dir
    return render_template(
        "lti/admin.html",
        registrations=registrations,
        invites=invites,
        course_keys=keys,
        packages={s: any(packages_dir.glob(f"*-{s}.zip")) for s in course_channel.STANDARDS},
        packages_dir=packages_dir,
        csrf=csrf_token(),
        new_invite_url=session.pop(NEW_INVITE_KEY, None),
    )


@bp.post("/deployments/<int:row_id>")
def toggle(row_id: int) -> ResponseReturnValue:
    db = db_session()
    deployment = db.get(LtiDeployment, row_id)
    if deployment is None:
        abort(404)
    active = request.form.get("active") == "1"
    set_active(db, deployment, active)
    record(
        db, "lti.deployment." + ("activated" if active else "deactivated"), actor="admin", id=row_id
    )
    db.commit()
    return redirect(url_for("lti_admin.index"), code=303)


@bp.post("/invites")
def invite() -> ResponseReturnValue:
    db = db_session()
    created, token = create_invite(
        db,
        for_host=request.form.get("for_host") or None,
        expires_in=parse_duration(request.form.get("expires") or "7d"),
        auto_activate=request.form.get("activate") == "1",
        note=request.form.get("note", ""),
    )
    record(db, "lti.invite.created", actor="admin", id=created.id, for_host=created.for_host)
    db.commit()
    # Shown once on the next page, carried in the signed session: never in a URL (history, logs).
    session[NEW_INVITE_KEY] = get_settings().base_url.rstrip("/") + "/lti/register/" + token
    return redirect(url_for("lti_admin.index"), code=303)


@bp.get("/platforms/<int:row_id>/course-<standard>.zip")
def course_package(row_id: int, standard: str) -> ResponseReturnValue:
    """The course package for this platform: the built zip with the platform's package key.

    The first download creates the key (decision 0012); later downloads carry the same key
    until it is replaced."""
    db = db_session()
    registration = db.get(LtiRegistration, row_id)
    if registration is None:
        abort(404)
    settings = get_settings()
    try:
        name, data, kid = course_channel.package_for(
            db,
            registration,
            standard,
            packages_dir=settings.resolved_packages_dir,
            base_url=settings.base_url,
            hmac_key=hmac_key(settings),
        )
    except course_channel.PackageError as exc:
        db.rollback()
        return Response(f"Geen cursuspakket / No course package: {exc}", 404, mimetype="text/plain")
    record(db, "lti.course_package.downloaded", actor="admin", id=row_id, kid=kid)
    db.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/platforms/<int:row_id>/course-key")
def replace_course_key(row_id: int) -> ResponseReturnValue:
    """Revoke the platform's package key: its installed packages stop sending course events
    until the admin imports a freshly downloaded package."""
    db = db_session()
    registration = db.get(LtiRegistration, row_id)
    if registration is None:
        abort(404)
    revoked = course_channel.revoke_keys(db, registration)
    record(db, "lti.course_key.revoked", actor="admin", id=row_id, count=revoked)
    db.commit()
    return redirect(url_for("lti_admin.index"), code=303)
