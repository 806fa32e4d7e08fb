"""LTI endpoints an LMS admin types in: /lti/login, /lti/launch, /lti/jwks.json, /lti/, /lti/config.json.

The views adapt the request; :mod:`steun_lti.lti.flow` does the protocol work.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import escape
from werkzeug.wrappers import Response

from steun_lti.lti import ags, flow, keys, sessions
from steun_lti.lti.exceptions import LtiError, StateError
from steun_lti.lti.launch import LaunchContext, remember
from steun_lti.lti.recent import install as install_change_listeners
from steun_lti.lti.recent import recent
from steun_lti.lti.service import init_services, services
from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.settings import get_settings
from steun_lti.records.events import emit

log = logging.getLogger("steun.lti")
bp = Blueprint("lti", __name__, url_prefix="/lti")

BROWSER_COOKIE = "steun_lti_browser"
LAUNCH_PARAM = "lti_launch"
DESTINATIONS_KEY = "steun.lti_destinations"
PARTICIPATION_KEY = "steun.lti_participation"
TEACHER_ENDPOINT = "teacher.index"


def base_url() -> str:
    return get_settings().base_url.rstrip("/")


def state_key() -> str:
    """The key that signs login states (flow.py keeps no row for a login in flight)."""
    return str(current_app.secret_key)


def is_https() -> bool:
    return base_url().startswith("https://") or request.is_secure


def set_browser_cookie(response: Response, value: str) -> None:
    """The browser binding of logins. Cross-site iframes need SameSite=None; Secure; Partitioned."""
    if is_https():
        response.set_cookie(
            BROWSER_COOKIE,
            value,
            max_age=400 * 24 * 3600,
            secure=True,
            httponly=True,
            samesite="None",
            partitioned=True,
            path="/lti/",
        )
    else:
        # Plain http (development, the demo): no SameSite attribute, so Chromium's "Lax by default"
        # still sends the fresh cookie with the platform's cross-site form_post of the launch.
        response.set_cookie(
            BROWSER_COOKIE, value, max_age=400 * 24 * 3600, httponly=True, path="/lti/"
        )


# -- login and launch ---------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    params = flow.LoginParams.from_mapping(request.values)
    existing = request.cookies.get(BROWSER_COOKIE)
    secret = existing or flow.new_secret()
    if secrets.randbelow(200) == 0:  # now and then, drop expired states and launch records
        flow.purge_expired(db_session())
    start = flow.begin_login(
        db_session,  # asked for only when the registration is not among the recent ones
        params,
        redirect_uri=base_url() + "/lti/launch",
        browser_secret=secret,
        state_key=state_key(),
        cache=recent(current_app, "login"),
    )
    if existing:
        response: Response = redirect(start.auth_url, code=302)
    else:
        # First sight of this browser: check in the page whether cookies work here; if not, use the
        # platform's storage (lti_storage_target) or offer a new window.
        data = {
            "auth_url": start.auth_url,
            "state": start.state,
            "secret": secret,
            "storage_target": start.storage_target,
            "platform_origin": start.platform_origin,
            "secure": is_https(),
        }
        response = current_app.make_response(
            login_page(
                new_window_url=url_for("lti.login") + "?" + params.query(),
                auth_action=start.auth_action,
                safe={
                    "auth_inputs": "\n  ".join(
                        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
                        for name, value in start.auth_fields
                    ),
                    "login_data": htmlsafe_json_dumps(data, dumps=current_app.json.dumps),
                },
            )
        )
        response.headers["Cache-Control"] = "no-store"
    set_browser_cookie(response, secret)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


LOGIN_SHELLS_KEY = "steun.login_shells"
_SLOT = "steun-login-slot-" + secrets.token_hex(8) + "-"  # per process; never in a real value


def login_page(safe: dict[str, str], **values: str) -> str:
    """The cookie-check page of a login. Every value in it is the login's own, so the page is
    rendered once per process (and script root) with a marker per value, and the values are
    put in per request: rendering it whole cost about half of a login (issue 16). ``values``
    are HTML-escaped here, as the template would; ``safe`` ones are HTML already."""
    shells: dict[str, str] = current_app.extensions.setdefault(LOGIN_SHELLS_KEY, {})
    shell = shells.get(request.script_root)
    if shell is None:
        marks = {name: _SLOT + name + "-" for name in (*values, *safe)}
        # url_launch: no launch of any request may end up in a page shared by all.
        shell = render_template("lti/login.html", **marks, url_launch=lambda: None)
        shells[request.script_root] = shell
    for name, value in values.items():
        shell = shell.replace(_SLOT + name + "-", str(escape(value)))
    for name, value in safe.items():
        shell = shell.replace(_SLOT + name + "-", value)
    return shell


@bp.post("/launch")
def launch() -> ResponseReturnValue:
    id_token = request.form.get("id_token", "")
    state = request.form.get("state", "")
    session = db_session()
    from_storage = request.form.get("lti_storage_binding")
    secret = from_storage or request.cookies.get(BROWSER_COOKIE)
    login = flow.read_state(state_key(), state)
    if not from_storage:
        row = login
        if not (secret and flow.digest(secret) == row.binding_hash) and row.storage_target:
            # No cookie came back: read the binding from the platform's storage in the browser.
            parts = urlsplit(row_registration_login_url(row.registration_id))
            page = render_template(
                "lti/storage_check.html",
                id_token=id_token,
                state=state,
                storage_target=row.storage_target,
                platform_origin=f"{parts.scheme}://{parts.netloc}",
            )
            return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    verified = flow.verify_launch(
        session,
        id_token=id_token,
        state=state,
        browser_secret=secret,
        jwks_cache=services().jwks_cache,
        state_key=state_key(),
        leeway=get_settings().lti_clock_leeway,
        login=login,
    )
    launch_id = flow.new_secret()
    context, extra = flow.build_context(verified, hmac_key=services().hmac_key, launch_id=launch_id)
    sealed = None
    if ags.can_report(context):  # the platform's user id, only to post a score (decision 0005)
        sealed = services().seal(str(verified.claims["sub"]))
    # Cookies do not work in this frame: the launch travels in the URL, bound to a key that only
    # this frame gets and keeps in the platform's storage; see steun_lti/web/sessions.py.
    browser_key = None
    if from_storage:
        browser_key = sessions.browser_key(str(current_app.config["SECRET_KEY"]), launch_id)
        extra["storage_target"] = login.storage_target  # from the signed login state
    # Only a participant's launch is a record (issue 14): no statement before consent.
    participant = verified.message_type != flow.DEEP_LINKING_REQUEST and takes_part(
        session, context
    )
    flow.store_launch(
        session,
        context,
        extra,
        registration_id=verified.registration.id,
        sealed_subject=sealed,
        ttl=timedelta(hours=get_settings().session_hours),
        browser_key=browser_key,
        consuming=login,
        alone=not participant,
    )
    if participant:
        emit(
            session,
            "launched",
            context.pseudonym,
            target=context.target or verified.message_type,
            context=context.context_pseudonym,
            role=context.roles[0] if context.roles else "other",
        )
    session.commit()
    log.info(
        "launch %s by %s (%s) on deployment %s",
        verified.message_type,
        context.pseudonym,
        ",".join(context.roles) or "no role",
        verified.deployment.id,
    )
    if browser_key is None:
        # Remembered first: building the destination's URL then sees this launch, not (and
        # without re-checking in the database) whatever launch the old cookie carried.
        remember(context)
        return redirect(destination(context, verified.message_type), code=303)
    target = destination(context, verified.message_type)
    page = render_template(
        "lti/resume.html",
        launch_id=launch_id,
        browser_key=browser_key,
        next_url=target,
        storage_target=extra.get("storage_target"),
        platform_origin=origin_of(verified.registration.auth_login_url),
    )
    return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def takes_part(session: Any, context: LaunchContext) -> bool:
    """Is this person a participant (the study's check: consented and not withdrawn)?"""
    check = current_app.extensions.get(PARTICIPATION_KEY)
    return bool(check is not None and check(session, context))


def set_participation_check(app: Flask, check: Callable[[Any, LaunchContext], bool]) -> None:
    """Let the study say who takes part: only their launches become records (issue 14)."""
    app.extensions[PARTICIPATION_KEY] = check


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def row_registration_login_url(registration_id: int) -> str:
    from steun_lti.lti.models import LtiRegistration

    registration = db_session().get(LtiRegistration, registration_id)
    if registration is None:
        raise StateError("registration removed during login")
    return registration.auth_login_url


def destination(context: LaunchContext, message_type: str) -> str:
    """Where a verified launch goes: deep linking, the teacher's views, or the learner's page."""
    if message_type == flow.DEEP_LINKING_REQUEST:
        return url_for("lti_dl.pick")
    for resolver in current_app.extensions.get(DESTINATIONS_KEY, []):
        found = resolver(context)
        if found:
            return str(found)
    # The study's views when they are mounted; a placeholder page otherwise.
    if TEACHER_ENDPOINT in current_app.view_functions:
        return url_for(TEACHER_ENDPOINT)
    return url_for("lti.teacher_home")


def add_destination_resolver(app: Flask, resolver: Any) -> None:
    """Let other parts route a launch (e.g. ``target`` ``wave:t1``) to their own view."""
    app.extensions.setdefault(DESTINATIONS_KEY, []).append(resolver)


@bp.get("/teacher")
def teacher_home() -> ResponseReturnValue:
    from steun_lti.lti.launch import require_launch

    launch = require_launch()
    return render_template("lti/teacher.html", launch=launch)


# -- what an admin copies -----------------------------------------------------------------


@bp.get("/jwks.json")
def jwks() -> ResponseReturnValue:
    response = jsonify(keys.jwks(db_session()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def tool_urls() -> dict[str, str]:
    base = base_url()
    return {
        "base": base,
        "login": base + "/lti/login",
        "launch": base + "/lti/launch",
        "jwks": base + "/lti/jwks.json",
        "register": base + "/lti/register",
        "config": base + "/lti/config.json",
        "domain": urlsplit(base).netloc,
    }


@bp.get("/")
def config_page() -> ResponseReturnValue:
    return render_template("lti/config.html", urls=tool_urls())


AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]


@bp.get("/config.json")
def config_json() -> ResponseReturnValue:
    urls = tool_urls()
    placements = [
        {
            "placement": placement,
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": urls["launch"],
            "text": "Steun in het onderwijs",
        }
        for placement in ("link_selection", "assignment_selection")
    ]
    return jsonify(
        {
            "title": "Steun in het onderwijs",
            "description": "Vragenlijsten van het onderzoek Steun in het onderwijs "
            "(questionnaires of the study).",
            "oidc_initiation_url": urls["login"],
            "target_link_uri": urls["launch"],
            "public_jwk_url": urls["jwks"],
            "scopes": AGS_SCOPES,
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "domain": urls["domain"],
                    "privacy_level": "anonymous",
                    "settings": {"placements": placements},
                }
            ],
            "custom_fields": {},
        }
    )


# -- wiring -------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    settings = app.config["STEUN_SETTINGS"]
    init_services(app, settings)
    install_change_listeners()
    if settings.base_url.startswith("https://"):
        # Inside an LMS iframe every cookie is third-party: only these attributes survive.
        app.config.update(
            SESSION_COOKIE_SAMESITE="None",
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_PARTITIONED=True,
        )
    app.register_blueprint(bp)


__all__ = ["LtiError", "add_destination_resolver", "bp", "init_app"]
