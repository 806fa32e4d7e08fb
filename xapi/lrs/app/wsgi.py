"""The LRS as a plain Werkzeug WSGI app, served at ``/xapi/``.

Each request is adapted into an :class:`XRequest` (method, parameters, headers, body), after
resolving the alternate request syntax, then dispatched to a resource handler that returns an
:class:`XResponse`. Handlers hold no state between requests; everything lives in the store.
The handlers live in a module per resource; :class:`LrsApp` joins them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from xapi.lrs import xapi2
from xapi.lrs.app.about import About
from xapi.lrs.app.agents_activities import AgentsActivities
from xapi.lrs.app.documents import Documents
from xapi.lrs.app.messages import PREFIX, XRequest, XResponse, json_response
from xapi.lrs.app.statements import Statements
from xapi.lrs.app.withdrawal import Withdrawal
from xapi.lrs.exceptions import (
    BadRequest,
    LrsError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from xapi.lrs.limits import DEFAULT_LIMITS, LrsLimits
from xapi.lrs.store import Store, format_us, now_us
from xapi.lrs.xapi2 import XapiVersion

log = logging.getLogger("xapi.lrs")


ALT_HEADERS = {
    "authorization": "authorization",
    "x-experience-api-version": "x-experience-api-version",
    "content-type": "content-type",
    "content-length": "content-length",
    "if-match": "if-match",
    "if-none-match": "if-none-match",
}


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "HEAD, GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": (
        "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, "
        "X-Experience-API-Hash, Content-Transfer-Encoding"
    ),
    "Access-Control-Expose-Headers": (
        "ETag, Last-Modified, X-Experience-API-Consistent-Through, X-Experience-API-Version, "
        "Content-Type"
    ),
    "Access-Control-Max-Age": "86400",
}


_DOCUMENT_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
ALLOWED_METHODS: dict[str, tuple[str, ...]] = {
    "statements": ("GET", "HEAD", "PUT", "POST"),
    "activities/state": _DOCUMENT_METHODS,
    "activities/profile": _DOCUMENT_METHODS,
    "agents/profile": _DOCUMENT_METHODS,
    "activities": ("GET", "HEAD"),
    "agents": ("GET", "HEAD"),
    "about": ("GET", "HEAD"),
    "extensions/agent": ("DELETE",),
    "extensions/statements/delete": ("POST",),
    "extensions/statements/count": ("GET", "HEAD"),
}


class LrsApp(Statements, Documents, AgentsActivities, About, Withdrawal):
    """The WSGI application. Build it with :func:`create_app`."""

    def __init__(self, store: Store, limits: LrsLimits = DEFAULT_LIMITS) -> None:
        self.store = store
        self.limits = limits
        self.routes: dict[str, Callable[[XRequest], XResponse]] = {
            "statements": self.statements,
            "activities/state": self.state,
            "activities/profile": self.activity_profile,
            "agents/profile": self.agent_profile,
            "activities": self.activities,
            "agents": self.agents,
            "about": self.about,
            "extensions/agent": self.delete_agent,
            "extensions/statements/delete": self.delete_statements,
            "extensions/statements/count": self.count_statements,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        negotiated = [xapi2.DEFAULT_VERSION]
        try:
            response = self.handle(request, negotiated)
        except LrsError as exc:
            response = json_response({"error": exc.status, "message": exc.message}, exc.status)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
            if exc.status == 503:
                response.headers["Retry-After"] = str(self.limits.retry_after)
        except Exception as exc:
            if self.store.unavailable(exc):
                # The database is down, locked or unreadable: the client may try again later.
                # The driver's message only: SQLAlchemy's text adds the SQL and its parameters.
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                log.error("database unavailable on %s %s: %s", request.method, request.path, reason)
                response = json_response(
                    {"error": 503, "message": "The LRS's database is unavailable; try again."},
                    503,
                    {"Retry-After": str(self.limits.retry_after)},
                )
            else:
                log.exception("unexpected error on %s %s", request.method, request.path)
                response = json_response(
                    {"error": 500, "message": "Internal error in the LRS."}, 500
                )
        headers = Headers()
        # Communication 3.3: the version the request was handled by (1.0.3 or 2.0.0).
        headers["X-Experience-API-Version"] = negotiated[-1].header
        if request.path.rstrip("/").endswith("/statements"):
            # Communication 2.1.3: on every response of the Statement resource, errors included.
            headers["X-Experience-API-Consistent-Through"] = format_us(now_us())
        for name, value in CORS_HEADERS.items():
            headers[name] = value
        for name, value in response.headers.items():
            headers[name] = value
        if response.content_type:
            headers["Content-Type"] = response.content_type
        body = response.body
        if request.method == "HEAD":
            body = b""
        wsgi = Response(body, status=response.status, headers=headers)
        if request.method == "HEAD" and isinstance(response.body, bytes):
            wsgi.headers["Content-Length"] = str(len(response.body))
        return wsgi(environ, start_response)

    def handle(self, request: Request, negotiated: list[XapiVersion]) -> XResponse:
        """Dispatch one request; appends to ``negotiated`` the xAPI version it is handled by.

        The body is read last: after the route, the method, the version header and the
        credentials were checked (a plain request), and never beyond the resource's limit.
        Only the alternate request syntax carries its credentials inside the body, so it is read
        (within the limit) before them."""
        asked = xapi2.negotiate(request.headers.get("X-Experience-API-Version"))
        if asked is not None:
            negotiated.append(asked)
        path = request.path
        if not path.startswith(PREFIX):
            raise NotFound("The xAPI endpoint is /xapi/.")
        resource = path[len(PREFIX) :].strip("/")
        handler = self.routes.get(resource)
        if handler is None:
            raise NotFound(f"No xAPI resource '{resource}'.")
        if request.method == "OPTIONS":
            return XResponse(200)
        xreq = self.adapt(request, resource)
        allowed = ALLOWED_METHODS.get(resource, ())
        if allowed and xreq.method not in allowed:
            # Communication 3.2: 405 for a method the resource does not have, whoever asks.
            raise MethodNotAllowed(
                f"Method {xreq.method} is not allowed on {resource}; use {', '.join(allowed)}."
            )
        version = xreq.header("X-Experience-API-Version")
        negotiated_version = xapi2.negotiate(version)
        if negotiated_version is not None:
            xreq.version = negotiated_version
            negotiated.append(negotiated_version)
        if resource != "about":
            if not version:
                raise BadRequest("The X-Experience-API-Version header is required.")
            if negotiated_version is None:
                raise BadRequest(
                    f"X-Experience-API-Version {version} is not supported; use 1.0.3 or 2.0.0."
                )
            xreq.credential = self.authenticate(xreq)
        if not xreq.body_read and resource != "about":  # About (no credentials) takes no body
            xreq.body = self.read_body(request, resource)
            xreq.body_read = True
        return handler(xreq)

    def read_body(self, request: Request, resource: str) -> bytes:
        """The request body, or 413 if it is larger than the resource's limit: refused by its
        Content-Length before anything is read, and a body without one (chunked) is read up to
        the limit and one byte more, no further. (Werkzeug's own ``max_content_length`` cuts
        a chunked body at the limit without an error, so the reading is done here.)"""
        limit = self.limits.body_limit(resource)
        too_large = PayloadTooLarge(
            f"The request body is larger than {limit:,} bytes, the limit for {resource}."
        )
        length = request.content_length
        if length is not None and length > limit:
            raise too_large
        environ = request.environ
        if length is None and not environ.get("wsgi.input_terminated"):
            return b""  # no length and a server that does not end the stream: nothing to read
        wanted = length if length is not None else limit + 1
        stream = environ["wsgi.input"]
        chunks: list[bytes] = []
        received = 0
        while received < wanted:
            chunk = stream.read(min(65536, wanted - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        if received > limit:
            raise too_large
        return b"".join(chunks)

    def adapt(self, request: Request, resource: str) -> XRequest:
        """Build an XRequest; resolves the alternate request syntax (Communication 1.3).

        A plain request's body is left unread here (:meth:`read_body`, after authentication)."""
        params = _single_valued(
            parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
        )
        headers = {k.lower(): v for k, v in request.headers.items()}
        method = request.method
        xreq = XRequest(
            method=method,
            resource=resource,
            params=params,
            headers=headers,
            body=b"",
            accept_language=headers.get("accept-language", ""),
            json_depth=self.limits.json_depth,
        )
        if "method" in params and xapi2.wants_2(headers.get("x-experience-api-version")):
            # xAPI 2.0 dropped the alternate request syntax (ADL's 2.0 suite expects a 4xx).
            raise BadRequest("xAPI 2.0 has no alternate request syntax; send a plain request.")
        if not (method == "POST" and "method" in params):
            return xreq
        if set(params) != {"method"}:
            raise BadRequest(
                "With the alternate request syntax, 'method' is the only URL parameter."
            )
        alt_method = params.pop("method").upper()
        if alt_method not in ("GET", "HEAD", "PUT", "POST", "DELETE"):
            raise BadRequest(f"Alternate request method '{alt_method}' is not allowed.")
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise BadRequest("The alternate request syntax needs a form-encoded body.")
        form = _single_valued(
            parse_qsl(
                self.read_body(request, resource).decode("utf-8", "replace"),
                keep_blank_values=True,
            )
        )
        body = b""
        # Form fields named like headers win over the request's own headers.
        headers = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
        for name, value in form.items():
            lower = name.lower()
            if lower in ALT_HEADERS:
                headers[ALT_HEADERS[lower]] = value
            elif name == "content":
                body = value.encode()
            else:
                params[name] = value
        if "content-type" not in headers and body:
            headers["content-type"] = "application/json"
        if xapi2.wants_2(headers.get("x-experience-api-version")):
            raise BadRequest("xAPI 2.0 has no alternate request syntax; send a plain request.")
        xreq.method, xreq.params, xreq.headers, xreq.body = alt_method, params, headers, body
        xreq.accept_language = headers.get("accept-language", "")
        xreq.body_read = True
        return xreq


def _single_valued(pairs: list[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in pairs:
        if name in result:
            raise BadRequest(f"Parameter '{name}' is given more than once.")
        result[name] = value
    return result


def create_app(
    database_url: str,
    *,
    max_limit: int = 500,
    create_schema: bool = True,
    limits: LrsLimits = DEFAULT_LIMITS,
) -> LrsApp:
    """The LRS WSGI app on this database (SQLite or PostgreSQL URL), with these limits."""
    store = Store(database_url, max_limit=max_limit)
    if create_schema:
        store.create_schema()
    return LrsApp(store, limits)
