"""Sessions that can end (issue 14): the launch carried in a URL, its refusal page, sign-out.

Where the browser keeps Steun's (partitioned) cookie, the cookie session carries the launch and
wins over anything in the URL. Where it keeps no cookie at all (the launch then came through the
platform's storage), the launch id travels in the URL, but the id alone opens nothing:

- the launch response is a page that keeps a per-launch **browser key** in the platform's
  storage (``lti.put_data``, the LMS's own store in this browser; the frame's sessionStorage
  too where the browser allows it, which Chromium blocking third-party cookies does not);
- a page load (GET) needs a **one-time ticket**: a page without one is answered with a small
  page whose script fetches the key back (``lti.get_data``) and posts it to
  ``/session/resume``, which returns a ticket valid once for 60 s and sends the browser on;
- forms and ``fetch`` send the key itself (a hidden field, the ``X-Steun-Launch-Key`` header),
  added by ``static/lti/launch_key.js`` from the page, which got it because its own request
  proved the key.

A link pasted to a colleague, or read in a proxy log or the history, carries an id and a used
ticket: the colleague's browser has no key, so it gets a page saying to start from the LMS.
Every request, whichever the transport, re-checks the launch (``steun_lti/lti/sessions.py``).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from steun_lti.lti import sessions
from steun_lti.lti.launch import (
    LaunchContext,
    SessionEnded,
    current_launch,
    forget,
    launch_in_url,
    register_check,
    register_resolver,
    require_launch,
    with_lti_params,
)
from steun_lti.lti.models import LtiLaunch, LtiRegistration
from steun_lti.plumbing.db import db_session
from steun_lti.web.lti import LAUNCH_PARAM, origin_of

log = logging.getLogger("steun.web.sessions")
bp = Blueprint("session", __name__, url_prefix="/session")

KEY_HEADER = "X-Steun-Launch-Key"
KEY_FIELD = "lti_launch_key"
TICKET_PARAM = "lti_ticket"
REFUSED_ENDPOINTS = ("session.resume",)


# -- the transports -------------------------------------------------------------------------


def check_launch(launch_id: str, deployment_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """Every request: is the launch behind this session still usable? With its stored context."""
    return sessions.launch_in_use(db_session(), launch_id, deployment_id)


def url_launch_id() -> str | None:
    launch_id = request.args.get(LAUNCH_PARAM) or request.form.get(LAUNCH_PARAM)
    return launch_id if launch_id and len(launch_id) <= 64 else None


def launch_from_url() -> LaunchContext | None:
    """The cookie-less transport: the launch id in the URL, proven by key or one-time ticket."""
    launch_id = url_launch_id()
    if launch_id is None:
        return None
    session = db_session()
    row = session.get(LtiLaunch, launch_id)
    if row is None or row.browser_hash is None:
        # Unknown, ended, or a launch that lives in a cookie: its id never works in a URL.
        g.steun_launch_refused = "unknown launch in the URL"
        return None
    key = request.headers.get(KEY_HEADER) or request.form.get(KEY_FIELD)
    proven = sessions.browser_holds(row, key) or (
        request.method == "GET"
        and sessions.use_ticket(session, launch_id, request.args.get(TICKET_PARAM))
    )
    if not proven:
        g.steun_launch_refused = "launch in the URL without its browser key"
        g.steun_launch_unproven = launch_id
        return None
    problem = sessions.launch_problem(session, launch_id)
    if problem is not None:
        g.steun_launch_refused = problem
        return None
    return LaunchContext.from_dict(row.context)


def launch_param() -> dict[str, str]:
    """For templates: add to url_for(...) so links keep working without cookies."""
    launch = current_launch()
    if launch is not None and launch.launch_id and launch_in_url():
        return {LAUNCH_PARAM: launch.launch_id}
    return {}


def url_launch_for_page() -> dict[str, str] | None:
    """For a page of a launch carried in the URL: the id and key its script hands to forms and
    fetches (in the page, never in a URL; only a request that proved the key gets a page)."""
    try:
        launch = current_launch()
        if launch is None or not launch.launch_id or not launch_in_url():
            return None
        return {"id": launch.launch_id, "key": key_of(launch.launch_id)}
    except Exception:  # an error page must render even when the launch cannot be read
        log.warning("launch not readable for the page", exc_info=True)
        return None


def key_of(launch_id: str) -> str:
    return sessions.browser_key(str(current_app.config["SECRET_KEY"]), launch_id)


def resume_page(launch_id: str, next_url: str, *, with_key: bool) -> str:
    """The page whose script finds the frame's key (the platform's storage) and resumes."""
    session = db_session()
    row = session.get(LtiLaunch, launch_id)
    registration = session.get(LtiRegistration, row.registration_id) if row else None
    storage_target = row.services.get("storage_target") if row else None
    return render_template(
        "lti/resume.html",
        launch_id=launch_id,
        browser_key=key_of(launch_id) if with_key else None,
        next_url=next_url,
        storage_target=storage_target if isinstance(storage_target, str) else None,
        platform_origin=origin_of(registration.auth_login_url) if registration else None,
    )


# -- refusal and resumption -----------------------------------------------------------------


def safe_next(url: str | None) -> str | None:
    """A path on this site (no scheme, no host): the only place ``resume`` sends a browser."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")) or len(url) > 2000:
        return None
    if any(ord(c) < 32 for c in url):
        return None
    return url


def with_ticket(url: str, launch_id: str, ticket: str) -> str:
    parts = urlsplit(url)
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in (LAUNCH_PARAM, TICKET_PARAM, KEY_FIELD)
    ]
    query = urlencode([*kept, (LAUNCH_PARAM, launch_id), (TICKET_PARAM, ticket)])
    return urlunsplit(parts._replace(query=query))


def without_ticket(url: str) -> str:
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TICKET_PARAM]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def handle_session_ended(error: SessionEnded) -> ResponseReturnValue:
    """No usable launch. A page of a URL-carried launch without its ticket gets the resume
    page (the launching frame finds its key and carries on); everyone else a page that says
    to start again from the LMS: never a stack trace, and nothing saved is touched."""
    unproven = g.get("steun_launch_unproven")
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    wants_json = (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )
    if wants_json:
        return (
            {
                "error": "session ended",
                "status": 401,
                "message": "Je sessie is afgelopen: open Steun opnieuw vanuit de leeromgeving. "
                "/ Your session has ended: open Steun again from your learning platform.",
            },
            401,
            headers,
        )
    if unproven and request.method == "GET" and request.endpoint not in REFUSED_ENDPOINTS:
        page = resume_page(unproven, without_ticket(request.full_path.rstrip("?")), with_key=False)
        return page, 200, headers
    ended_return_url: str | None = g.get("steun_launch_ended_return_url")
    return_url = None
    if ended_return_url:  # the browser's own (cookie) launch only
        return_url = with_lti_params(
            ended_return_url,
            {
                "lti_errormsg": "Sessie afgelopen / Session ended",
                "lti_errorlog": f"session refused: {error.reason}",
            },
        )
    log.info("session refused on %s %s: %s", request.method, request.path, error.reason)
    page = render_template("lti/session_ended.html", return_url=return_url, reason=error.reason)
    return page, 401, headers


@bp.post("/resume")
def resume() -> ResponseReturnValue:
    """The launching frame shows its key; it gets a one-time ticket for the page it wants."""
    launch_id = request.form.get(LAUNCH_PARAM, "")
    next_url = safe_next(request.form.get("next"))
    session = db_session()
    row = session.get(LtiLaunch, launch_id) if 0 < len(launch_id) <= 64 else None
    if (
        row is None
        or next_url is None
        or not sessions.browser_holds(row, request.form.get(KEY_FIELD))
        or sessions.launch_problem(session, launch_id) is not None
    ):
        g.steun_launch_refused = "resume refused"
        raise SessionEnded("resume refused")
    ticket = sessions.issue_ticket(session, row)
    response: Response = redirect(with_ticket(next_url, launch_id, ticket), code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- sign-out -------------------------------------------------------------------------------


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Afmelden / Sign out: the launch record goes, so neither the cookie nor a URL opens it."""
    from steun_lti.web.teacher_support import check_csrf

    launch = require_launch()
    check_csrf(launch)
    sessions.end_launch(db_session(), launch.launch_id)
    forget()
    log.info("signed out: %s", launch.pseudonym)
    return_url = launch.return_link(lti_msg="Je bent afgemeld bij Steun. / Signed out of Steun.")
    page = render_template("lti/signed_out.html", return_url=return_url)
    return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


# -- logs -----------------------------------------------------------------------------------

SECRET_IN_URL = re.compile(r"((?:lti_launch|lti_ticket|lti_launch_key)=)[^&\s\"']+")


class MaskLaunchIds(logging.Filter):
    """Access logs of servers that print the query (the development server, ``steun demo``):
    launch ids and tickets become ``…`` (gunicorn's format leaves the query out entirely)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                SECRET_IN_URL.sub(r"\1…", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = SECRET_IN_URL.sub(r"\1…", record.msg)
        return True


def mask_access_logs() -> None:
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, MaskLaunchIds) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(MaskLaunchIds())


# -- wiring ---------------------------------------------------------------------------------


def url_launch_responses(response: Response) -> Response:
    """Responses of a launch carried in the URL: never sent on as a Referer, never cached, and a
    redirect to one of its own pages (after a form's POST) comes with the next page's ticket,
    which saves the resume round trip."""
    if g.get("steun_launch_via") != "url":
        return response
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    launch: LaunchContext | None = g.get("steun_launch")
    location = response.headers.get("Location")
    if launch and launch.launch_id and location and response.status_code in (302, 303):
        local = safe_next(location)
        query = dict(parse_qsl(urlsplit(location).query))
        if local and query.get(LAUNCH_PARAM) == launch.launch_id and TICKET_PARAM not in query:
            session = db_session()
            row = session.get(LtiLaunch, launch.launch_id)
            if row is not None:
                ticket = sessions.issue_ticket(session, row)
                response.headers["Location"] = with_ticket(local, launch.launch_id, ticket)
    return response


def register(app: Flask) -> None:
    register_check(app, check_launch)
    register_resolver(app, launch_from_url)
    app.register_error_handler(SessionEnded, handle_session_ended)
    app.after_request(url_launch_responses)
    app.jinja_env.globals["lti_launch_param"] = launch_param
    app.jinja_env.globals["url_launch"] = url_launch_for_page
    app.register_blueprint(bp)
    mask_access_logs()
