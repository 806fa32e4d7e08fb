"""Security headers on every response of the tool.

- ``Content-Security-Policy: frame-ancestors``: the tool lives in the LMS's iframe, so only the
  registered platforms (the origins of their issuer and login URL, plus ``STEUN_FRAME_ANCESTORS``)
  and the tool itself may frame it; nobody can overlay it on another site (clickjacking). The
  operator page is never framed. The Dynamic Registration page answers in whichever LMS is
  registering (not registered yet, so not known); it has no buttons to trick anyone into.
- ``Referrer-Policy: no-referrer``: a launch id or page path never leaks to another site.
- ``X-Content-Type-Options: nosniff``.
- ``Cache-Control: no-store`` on every page that did not choose its own caching (the study's
  pages hold a teacher's answers and pupils' codes; nothing of them belongs in a shared cache).

The registered platforms' origins are read from the database at most every ``lti.recent.TTL``
seconds per process (not on every response), and at once after a registration changed in this
process. A registration changed by another process (the CLI, another worker) reaches the header
within that time; whether a platform may *launch* is never cached (``lti/recent.py``).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from steun_lti.lti.models import LtiRegistration
from steun_lti.lti.origins import Origin, origin_of
from steun_lti.lti.recent import install as install_change_listeners
from steun_lti.lti.recent import recent
from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.settings import get_settings

log = logging.getLogger("steun.web")

NOT_FRAMED = ("/lti/admin",)
FRAMED_BY_ANYONE = ("/lti/register",)
BASE_POLICY = "base-uri 'self'; object-src 'none'"
CACHE_NAME = "framing_origins"  # kept lti.recent.TTL seconds per process


def _source(origin: Origin) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{shown}" + ("" if port == default else f":{port}")


class _Unreadable(Exception):
    pass


def _load_origins() -> frozenset[str]:
    found: set[str] = set()
    try:
        rows = db_session().execute(
            select(LtiRegistration.issuer, LtiRegistration.auth_login_url).where(
                LtiRegistration.active.is_(True)
            )
        )
        for issuer, login in rows:
            for url in (issuer, login):
                origin = origin_of(url)
                if origin is not None:
                    found.add(_source(origin))
    except SQLAlchemyError as exc:
        db_session().rollback()
        raise _Unreadable from exc
    return frozenset(found)


def _registered_origins() -> frozenset[str]:
    """The active registrations' origins, from this process's cache while it is fresh."""
    try:
        return recent(current_app, CACHE_NAME).get(None, _load_origins)
    except _Unreadable:  # the database is down: /healthz must still answer
        log.warning("registered platforms unreadable; pages may be framed by the tool only")
        return frozenset()  # not kept: the next response asks the database again


def framing_sources() -> list[str]:
    """'self', the registered platforms' origins and the operator's extra ones, in a stable order."""
    found = set(_registered_origins())
    for extra in get_settings().frame_ancestors.split():
        origin = origin_of(extra)
        if origin is not None:
            found.add(_source(origin))
    return ["'self'", *sorted(found)]


def _frame_ancestors(response: Response) -> str:
    path = request.path
    if path.startswith(NOT_FRAMED):
        return "'none'"
    if path.startswith(FRAMED_BY_ANYONE):
        return "*"
    if response.mimetype != "text/html":
        return "'none'"  # data, not pages: nothing to show in a frame
    return " ".join(framing_sources())


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy", f"frame-ancestors {_frame_ancestors(response)}; {BASE_POLICY}"
    )
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if "Cache-Control" not in headers and request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    install_change_listeners()
