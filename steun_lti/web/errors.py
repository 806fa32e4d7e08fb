"""Error pages: Dutch first, English second; never a stack trace (the log has it)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from steun_lti.exceptions import SteunError
from steun_lti.lti.exceptions import LtiError

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


def render_error(status: int, detail: str | None = None) -> ResponseReturnValue:
    title_nl, title_en = TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400])
    wants_json = (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )
    if wants_json:
        return {"error": title_en, "status": status, "detail": detail}, status
    return (
        render_template(
            "error.html", status=status, title_nl=title_nl, title_en=title_en, detail=detail
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
    if error.return_url:
        sep = "&" if "?" in error.return_url else "?"
        return_url = (
            error.return_url
            + sep
            + urlencode({"lti_errormsg": first["message"], "lti_errorlog": error.code})
        )
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
