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
CACHE_NAME = "framing_policy"  # kept lti.recent.TTL seconds per process


def _source(origin: Origin) -> str:
    scheme, host, port = origin
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{shown}" + ("" if port == default else f":{port}")


class _Unreadable(Exception):
    pass


def _load_framing_policy() -> str:
    """The whole header value for the tool's framed pages (built once per cache period)."""
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
    return _policy(found)


def _policy(origins: set[str]) -> str:
    for extra in get_settings().frame_ancestors.split():
        origin = origin_of(extra)
        if origin is not None:
            origins.add(_source(origin))
    sources = ["'self'", *sorted(origins)]
    return f"frame-ancestors {' '.join(sources)}; {BASE_POLICY}"


def framing_policy() -> str:
    """'self', the registered platforms' origins and the operator's extra ones, in a stable
    order; from this process's cache while it is fresh."""
    try:
        return recent(current_app, CACHE_NAME).get(None, _load_framing_policy)
    except _Unreadable:  # the database is down: /healthz must still answer
        log.warning("registered platforms unreadable; pages may be framed by the tool only")
        return _policy(set())  # not kept: the next response asks the database again


def _content_security_policy(response: Response) -> str:
    path = request.path
    if path.startswith(NOT_FRAMED):
        return f"frame-ancestors 'none'; {BASE_POLICY}"
    if path.startswith(FRAMED_BY_ANYONE):
        return f"frame-ancestors *; {BASE_POLICY}"
    if response.mimetype != "text/html":
        return f"frame-ancestors 'none'; {BASE_POLICY}"  # data, not pages: nothing to frame
    return framing_policy()


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}  # one pass over the list
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", _content_security_policy(response))
    if "referrer-policy" not in present:
        headers.add("Referrer-Policy", "no-referrer")
    if "x-content-type-options" not in present:
        headers.add("X-Content-Type-Options", "nosniff")
    if "cache-control" not in present and request.endpoint != "static":
        headers.add("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    install_change_listeners()
