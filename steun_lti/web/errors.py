"""Error pages: Dutch first, English second; never a stack trace (the log has it)."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from steun_lti.exceptions import SteunError
from steun_lti.lti.exceptions import LtiError
from steun_lti.lti.launch import current_launch, with_lti_params

log = logging.getLogger("steun.web")

TITLES = {
    400: ("Ongeldig verzoek", "Bad request"),
    401: ("Niet aangemeld", "Not signed in"),
    403: ("Geen toegang", "Forbidden"),
    404: ("Pagina niet gevonden", "Page not found"),
    405: ("Methode niet toegestaan", "Method not allowed"),
    413: ("Verzoek te groot", "Request too large"),
    429: ("Te veel verzoeken", "Too many requests"),
    500: ("Er ging iets mis", "Something went wrong"),
    503: ("Tijdelijk niet beschikbaar", "Temporarily unavailable"),
}


# A failed login or launch never takes the return URL of an earlier launch in the same browser:
# it may belong to another course or LMS. Only the failing token's own (verified) one counts.
LAUNCH_ENDPOINTS = ("lti.login", "lti.launch")


def launch_return_link(**params: str) -> str | None:
    """The current launch's return URL with ``params``, for errors in the tool's own pages."""
    if request.endpoint in LAUNCH_ENDPOINTS:
        return None
    try:
        launch = current_launch()
    except Exception:  # an error page must render even when the launch cannot be read
        log.warning("launch not readable for the error page", exc_info=True)
        return None
    return launch.return_link(**params) if launch is not None else None


def render_error(status: int, detail: str | None = None) -> ResponseReturnValue:
    title_nl, title_en = TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400])
    wants_json = (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )
    if wants_json:
        return {"error": title_en, "status": status, "detail": detail}, status
    return_url = None
    if status in (403, 404, 409, 410, 422, 429) or status >= 500:
        # A page of the tool went wrong inside an LMS launch: offer the way back, with the reason.
        # (401 means there is no launch to return to; 400/405/413 are mostly not a person.)
        return_url = launch_return_link(
            lti_errormsg=f"{title_nl} / {title_en}",
            lti_errorlog=f"HTTP {status} {request.endpoint}",
        )
    return (
        render_template(
            "error.html",
            status=status,
            title_nl=title_nl,
            title_en=title_en,
            detail=detail,
            return_url=return_url,
        ),
        status,
    )


def render_lti_error(error: LtiError) -> ResponseReturnValue:
    """A launch/registration failure: what happened and what the admin can do, nl and en.

    Where the platform gave a return URL (only taken from a token whose signature verified), the
    page links back to it with ``lti_errormsg`` and ``lti_errorlog`` as LTI 1.3 describes.
    """
    nl = {
        "lang": "nl",
        "message": error.message_nl,
        "hint": error.hint_nl,
        "back": "Terug naar de leeromgeving",
    }
    en = {
        "lang": "en",
        "message": error.message_en,
        "hint": error.hint_en,
        "back": "Back to your learning platform",
    }
    english_first = request.accept_languages.best_match(["nl", "en"], default="nl") == "en"
    first, second = (en, nl) if english_first else (nl, en)
    return_url = None
    errorlog = error.code + (f": {error.detail}" if error.detail else "")
    if error.return_url:  # set only once the token's signature verified
        return_url = with_lti_params(
            error.return_url, {"lti_errormsg": first["message"], "lti_errorlog": errorlog}
        )
    else:
        return_url = launch_return_link(lti_errormsg=first["message"], lti_errorlog=errorlog)
    wants_json = (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )
    if wants_json:
        return {
            "error": error.code,
            "message": error.message_en,
            "detail": error.detail,
        }, error.http_status
    html = render_template(
        "lti/error.html",
        first=first,
        second=second,
        code=error.code,
        detail=error.detail,
        status=error.http_status,
        return_url=return_url,
    )
    return html, error.http_status, {"Cache-Control": "no-store", "Content-Language": first["lang"]}


def register(app: Flask) -> None:
    @app.errorhandler(LtiError)
    def handle_lti_error(error: LtiError) -> ResponseReturnValue:
        log.info("LTI refused %s %s: %s %s", request.method, request.path, error.code, error.detail)
        return render_lti_error(error)

    @app.errorhandler(SteunError)
    def handle_steun_error(error: SteunError) -> ResponseReturnValue:
        log.info("refused request to %s: %s", request.path, error.message)
        return render_error(error.http_status, error.message)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> ResponseReturnValue:
        return render_error(error.code or 500, None)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500, None)
