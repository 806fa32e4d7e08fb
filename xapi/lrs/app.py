"""The LRS as a plain Werkzeug WSGI app, served at ``/xapi/``.

Each request is adapted into an :class:`XRequest` (method, parameters, headers, body), after
resolving the alternate request syntax, then dispatched to a resource handler that returns an
:class:`XResponse`. Handlers hold no state between requests; everything lives in the store.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from xapi import vocab
from xapi.lrs import formats, multipart, xapi2
from xapi.lrs.exceptions import (
    BadRequest,
    Forbidden,
    LrsError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from xapi.lrs.store import (
    Credential,
    StatementQuery,
    Store,
    agent_hash,
    agent_identity,
    format_us,
    hkey,
    now_us,
    state_owner,
    state_scope,
)
from xapi.lrs.validation import (
    parse_agent_param,
    parse_bool_param,
    parse_iri_param,
    parse_timestamp_param,
    parse_uuid_param,
    validate_statement,
)
from xapi.lrs.xapi2 import V1_0_3, XapiVersion

log = logging.getLogger("xapi.lrs")

PREFIX = "/xapi/"
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
STATEMENT_PARAMS = {
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "more",
}
READ_ANY = ("all", "all/read")
# Steun's own resources, listed in About: extension IRI -> path under the endpoint.
EXTENSION_IRI = vocab.LRS_EXTENSIONS
EXTENSIONS = {
    EXTENSION_IRI + "agent-delete": "extensions/agent",
    EXTENSION_IRI + "statements-delete": "extensions/statements/delete",
    EXTENSION_IRI + "statements-count": "extensions/statements/count",
}
MAX_DELETE_IDS = 1000


@dataclass
class XRequest:
    method: str
    resource: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    accept_language: str = ""
    credential: Credential | None = None
    version: XapiVersion = V1_0_3

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def allow(self, params: set[str]) -> None:
        unknown = sorted(set(self.params) - params)
        if unknown:
            raise BadRequest(f"Unknown parameter {', '.join(unknown)} for this resource.")

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise BadRequest(f"Parameter '{name}' is required.")
        return value

    def json_body(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None


@dataclass
class XResponse:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> XResponse:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return XResponse(status, body, "application/json", dict(headers or {}))


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


class LrsApp:
    """The WSGI application. Build it with :func:`create_app`."""

    def __init__(self, store: Store) -> None:
        self.store = store
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

    # WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        negotiated = [xapi2.DEFAULT_VERSION]
        try:
            response = self.handle(request, negotiated)
        except LrsError as exc:
            response = json_response({"error": exc.status, "message": exc.message}, exc.status)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = json_response({"error": 500, "message": "Internal error in the LRS."}, 500)
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
        """Dispatch one request; appends to ``negotiated`` the xAPI version it is handled by."""
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
        return handler(xreq)

    def adapt(self, request: Request, resource: str) -> XRequest:
        """Build an XRequest; resolves the alternate request syntax (Communication 1.3)."""
        params = _single_valued(
            parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
        )
        headers = {k.lower(): v for k, v in request.headers.items()}
        method = request.method
        body = request.get_data(cache=False)
        if "method" in params and xapi2.wants_2(headers.get("x-experience-api-version")):
            # xAPI 2.0 dropped the alternate request syntax (ADL's 2.0 suite expects a 4xx).
            raise BadRequest("xAPI 2.0 has no alternate request syntax; send a plain request.")
        if method == "POST" and "method" in params:
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
                parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            )
            body = b""
            # Form fields named like headers win over the request's own headers.
            headers = {
                k: v for k, v in headers.items() if k not in ("content-type", "content-length")
            }
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
            method = alt_method
        return XRequest(
            method=method,
            resource=resource,
            params=params,
            headers=headers,
            body=body,
            accept_language=headers.get("accept-language", ""),
        )

    def authenticate(self, xreq: XRequest) -> Credential:
        header = xreq.header("Authorization") or ""
        if not header.lower().startswith("basic "):
            raise Unauthorized("HTTP Basic authentication is required.")
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            key, _, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Malformed Basic credentials.") from None
        credential = self.store.authenticate(key, secret)
        if credential is None:
            raise Unauthorized("Unknown or revoked credentials.")
        return credential

    # scopes -----------------------------------------------------------------------------

    @staticmethod
    def need(xreq: XRequest, *, read: tuple[str, ...], write: tuple[str, ...]) -> None:
        assert xreq.credential is not None
        if xreq.method in ("GET", "HEAD"):
            allowed = xreq.credential.allows(*read, *READ_ANY)
        else:
            allowed = xreq.credential.allows(*write, "all")
        if not allowed:
            raise Forbidden()

    # About ------------------------------------------------------------------------------

    def about(self, xreq: XRequest) -> XResponse:
        if xreq.method not in ("GET", "HEAD"):
            raise MethodNotAllowed()
        return json_response(
            {
                "version": xapi2.about_versions(xreq.header("X-Experience-API-Version")),
                "extensions": EXTENSIONS,
            }
        )

    # Statements -------------------------------------------------------------------------

    def statements(self, xreq: XRequest) -> XResponse:
        credential = xreq.credential
        assert credential is not None
        if xreq.method in ("GET", "HEAD"):
            if not credential.allows("statements/read", "statements/read/mine", *READ_ANY):
                raise Forbidden()
            return self.get_statements(xreq)
        if xreq.method in ("PUT", "POST"):
            if not credential.allows("statements/write", "all"):
                raise Forbidden()
            if xreq.method == "PUT":
                return self.put_statement(xreq)
            return self.post_statements(xreq)
        raise MethodNotAllowed(f"Method {xreq.method} is not allowed on statements.")

    def _parse_statement_body(self, xreq: XRequest) -> tuple[Any, dict[str, tuple[str, bytes]]]:
        content_type = xreq.content_type.lower()
        if content_type.startswith("multipart/mixed"):
            return multipart.parse_statement_request(xreq.content_type, xreq.body)
        if content_type and not content_type.startswith("application/json"):
            raise BadRequest("Statements are sent as application/json or multipart/mixed.")
        return xreq.json_body(), {}

    def put_statement(self, xreq: XRequest) -> XResponse:
        xreq.allow({"statementId"})
        statement_id = parse_uuid_param(xreq.require("statementId"), "statementId")
        body, parts = self._parse_statement_body(xreq)
        if not isinstance(body, dict):
            raise BadRequest("PUT takes one statement (a JSON object).")
        statement = self._validate(xreq, body, "statement")
        if "id" in statement and statement["id"].lower() != statement_id:
            raise BadRequest("The statement's id differs from the statementId parameter.")
        statement["id"] = statement.get("id", xreq.params["statementId"])
        attachments = multipart.match_attachments([statement], parts)
        self.store.store_statements([statement], self._credential(xreq), attachments)
        return XResponse(204)

    def post_statements(self, xreq: XRequest) -> XResponse:
        xreq.allow(set())
        body, parts = self._parse_statement_body(xreq)
        raw = body if isinstance(body, list) else [body]
        if not raw:
            raise BadRequest("The batch is empty.")
        statements = [
            self._validate(xreq, s, f"statement[{i}]" if isinstance(body, list) else "statement")
            for i, s in enumerate(raw)
        ]
        attachments = multipart.match_attachments(statements, parts)
        ids, stored = self.store.store_statements(statements, self._credential(xreq), attachments)
        if stored == 0:
            # Every statement was already stored with the same content: nothing new.
            return XResponse(204)
        return json_response(ids)

    @staticmethod
    def _validate(xreq: XRequest, value: Any, path: str) -> dict[str, Any]:
        """Validate one received statement by the rules of the request's xAPI version."""
        if not xreq.version.is_2:
            return validate_statement(value, path, copy=False)
        statement: dict[str, Any] = xapi2.validate_statement_2(value, path, copy=False)
        # Data 2.4.10 (2.0): a statement without a version is stored as 2.0.0.
        statement.setdefault("version", xreq.version.header)
        return statement

    @staticmethod
    def _credential(xreq: XRequest) -> Credential:
        assert xreq.credential is not None
        return xreq.credential

    def get_statements(self, xreq: XRequest) -> XResponse:
        xreq.allow(STATEMENT_PARAMS)
        credential = self._credential(xreq)
        mine = None if credential.allows("statements/read", *READ_ANY) else credential.id
        consistent = {"X-Experience-API-Consistent-Through": format_us(now_us())}
        fmt = xreq.params.get("format", "exact")
        if fmt not in ("exact", "ids", "canonical"):
            raise BadRequest("Parameter 'format' must be exact, ids or canonical.")
        attachments = parse_bool_param(xreq.params.get("attachments", "false"), "attachments")
        single = [p for p in ("statementId", "voidedStatementId") if p in xreq.params]
        if single:
            if len(single) > 1 or set(xreq.params) - {single[0], "format", "attachments"}:
                raise BadRequest(f"With {single[0]} only 'format' and 'attachments' may be given.")
            statement_id = parse_uuid_param(xreq.params[single[0]], single[0])
            found = self.store.get_statement(
                statement_id, voided=single[0] == "voidedStatementId", mine=mine
            )
            if found is None:
                raise NotFound(f"No statement {statement_id}.")
            body, _has_attachments = found
            statement = json.loads(body)
            statement = formats.apply(statement, fmt, xreq.accept_language)
            headers = {**consistent, "Last-Modified": _http_date(statement.get("stored"))}
            if attachments:
                return self._multipart(statement, [statement], headers)
            if fmt == "exact":
                return XResponse(200, body.encode(), "application/json", headers)
            return json_response(statement, headers=headers)
        query = self._statement_query(xreq)
        query.format, query.attachments, query.mine = fmt, attachments, mine
        rows, more = self.store.query_statements(query)
        if xreq.version.is_2 and rows:
            consistent = {**consistent, "Last-Modified": _http_date(xapi2.latest_stored(rows))}
        more_url = ""
        if more and rows:
            query.after = rows[-1][0]
            state = asdict(query)
            state.pop("mine")
            token = base64.urlsafe_b64encode(
                json.dumps(state, separators=(",", ":")).encode()
            ).decode()
            more_url = f"{PREFIX}statements?more={token.rstrip('=')}"
        if fmt == "exact" and not attachments:
            text = (
                '{"statements":['
                + ",".join(r[1] for r in rows)
                + '],"more":'
                + json.dumps(more_url)
                + "}"
            )
            return XResponse(200, text.encode(), "application/json", consistent)
        statements = [formats.apply(json.loads(r[1]), fmt, xreq.accept_language) for r in rows]
        result = {"statements": statements, "more": more_url}
        if attachments:
            return self._multipart(result, statements, consistent)
        return json_response(result, headers=consistent)

    def _statement_query(self, xreq: XRequest) -> StatementQuery:
        if "more" in xreq.params:
            if len(xreq.params) > 1:
                raise BadRequest("'more' is used alone.")
            token = xreq.params["more"]
            try:
                state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                return StatementQuery(**state)
            except (ValueError, TypeError, binascii.Error):
                raise BadRequest("The 'more' token is not valid.") from None
        p = xreq.params
        query = StatementQuery()
        if "agent" in p:
            identity = agent_identity(parse_agent_param(p["agent"]))
            query.agent = identity
        if "verb" in p:
            query.verb = parse_iri_param(p["verb"], "verb")
        if "activity" in p:
            query.activity = parse_iri_param(p["activity"], "activity")
        if "registration" in p:
            query.registration = parse_uuid_param(p["registration"], "registration")
        query.related_activities = parse_bool_param(
            p.get("related_activities", "false"), "related_activities"
        )
        query.related_agents = parse_bool_param(p.get("related_agents", "false"), "related_agents")
        query.ascending = parse_bool_param(p.get("ascending", "false"), "ascending")
        if "since" in p:
            query.since_us = _to_us(parse_timestamp_param(p["since"], "since").timestamp())
        if "until" in p:
            query.until_us = _to_us(parse_timestamp_param(p["until"], "until").timestamp())
        if "limit" in p:
            try:
                query.limit = int(p["limit"])
            except ValueError:
                raise BadRequest("Parameter 'limit' must be a non-negative integer.") from None
            if query.limit < 0:
                raise BadRequest("Parameter 'limit' must be a non-negative integer.")
        # Pin the result set: statements stored after the first page never shift later pages.
        query.ceiling = self.store.max_seq()
        return query

    def _multipart(
        self, result: Any, statements: list[dict[str, Any]], headers: dict[str, str]
    ) -> XResponse:
        sha2s = [
            a["sha2"]
            for s in statements
            for a in s.get("attachments", [])
            if isinstance(a, dict) and "sha2" in a
        ]
        files = self.store.get_attachments(sha2s)
        content_type, body = multipart.build(result, files)
        return XResponse(200, body, content_type, headers)

    # Documents ---------------------------------------------------------------------------

    def _document(
        self,
        xreq: XRequest,
        *,
        kind: str,
        id_param: str,
        scope: str,
        owner: str,
        owner_agent: str | None,
        concurrency: bool,
        list_scope: tuple[str | None, str | None],
    ) -> XResponse:
        doc_id = xreq.params.get(id_param)
        if xreq.method in ("GET", "HEAD"):
            since = xreq.params.get("since")
            since_us = _to_us(parse_timestamp_param(since, "since").timestamp()) if since else None
            if doc_id is None:
                ids = self.store.list_documents(
                    kind, scope=list_scope[0], owner=list_scope[1], since_us=since_us
                )
                return json_response(ids)
            row = self.store.get_document(kind, scope, doc_id)
            if row is None:
                raise NotFound(f"No document '{doc_id}'.")
            return XResponse(
                200,
                bytes(row.content),
                row.content_type,
                {"ETag": f'"{row.etag}"', "Last-Modified": _http_date_us(row.updated_us)},
            )
        if "since" in xreq.params:
            raise BadRequest("'since' is only used with GET.")
        if xreq.method in ("PUT", "POST"):
            if doc_id is None:
                raise BadRequest(f"Parameter '{id_param}' is required.")
            content_type = xreq.content_type or "application/octet-stream"
            if xreq.method == "POST" and xreq.version.is_2:
                xapi2.check_json_post(content_type, xreq.body)
            etag = self.store.save_document(
                kind,
                scope,
                doc_id,
                xreq.body,
                content_type,
                owner=owner,
                agent_hash=owner_agent,
                merge=xreq.method == "POST",
                if_match=xreq.header("If-Match"),
                if_none_match=xreq.header("If-None-Match"),
                # Communication 3.1 (2.0): the State resource joins the profiles here.
                require_precondition=concurrency or xreq.version.is_2,
            )
            return XResponse(204, headers={"ETag": f'"{etag}"'})
        if xreq.method == "DELETE":
            if doc_id is None and kind != "state":
                raise BadRequest(f"Parameter '{id_param}' is required.")
            self.store.delete_documents(
                kind,
                doc_id,
                scope=scope if doc_id is not None else list_scope[0],
                owner=list_scope[1],
                if_match=xreq.header("If-Match"),
                if_none_match=xreq.header("If-None-Match"),
            )
            return XResponse(204)
        raise MethodNotAllowed()

    def state(self, xreq: XRequest) -> XResponse:
        self.need(xreq, read=("state",), write=("state",))
        xreq.allow({"activityId", "agent", "registration", "stateId", "since"})
        activity_id = parse_iri_param(xreq.require("activityId"), "activityId")
        agent = parse_agent_param(xreq.require("agent"))
        if agent.get("objectType", "Agent") != "Agent":
            raise BadRequest("Parameter 'agent' of the State resource must be an Agent.")
        registration = xreq.params.get("registration")
        if registration is not None:
            registration = parse_uuid_param(registration, "registration")
        identity = agent_identity(agent) or ""
        scope = state_scope(activity_id, identity, registration)
        owner = state_owner(activity_id, identity)
        return self._document(
            xreq,
            kind="state",
            id_param="stateId",
            scope=scope,
            owner=owner,
            owner_agent=agent_hash(agent),
            concurrency=False,
            list_scope=(scope, None) if registration else (None, owner),
        )

    def activity_profile(self, xreq: XRequest) -> XResponse:
        self.need(xreq, read=("profile",), write=("profile",))
        xreq.allow({"activityId", "profileId", "since"})
        activity_id = parse_iri_param(xreq.require("activityId"), "activityId")
        scope = hkey("activity-profile\n" + activity_id)
        return self._document(
            xreq,
            kind="activity-profile",
            id_param="profileId",
            scope=scope,
            owner=scope,
            owner_agent=None,
            concurrency=True,
            list_scope=(scope, None),
        )

    def agent_profile(self, xreq: XRequest) -> XResponse:
        self.need(xreq, read=("profile",), write=("profile",))
        xreq.allow({"agent", "profileId", "since"})
        agent = parse_agent_param(xreq.require("agent"))
        scope = agent_hash(agent)
        return self._document(
            xreq,
            kind="agent-profile",
            id_param="profileId",
            scope=scope,
            owner=scope,
            owner_agent=scope,
            concurrency=True,
            list_scope=(scope, None),
        )

    # Agents and Activities ---------------------------------------------------------------

    def agents(self, xreq: XRequest) -> XResponse:
        self.need(xreq, read=("statements/read", "profile", "state"), write=())
        if xreq.method not in ("GET", "HEAD"):
            raise MethodNotAllowed()
        xreq.allow({"agent"})
        agent = parse_agent_param(xreq.require("agent"))
        person: dict[str, Any] = {"objectType": "Person"}
        if "name" in agent:
            person["name"] = [agent["name"]]
        for ifi in ("mbox", "mbox_sha1sum", "openid", "account"):
            if ifi in agent:
                person[ifi] = [agent[ifi]]
        return json_response(person)

    def activities(self, xreq: XRequest) -> XResponse:
        self.need(xreq, read=("statements/read", "profile", "state"), write=())
        if xreq.method not in ("GET", "HEAD"):
            raise MethodNotAllowed()
        xreq.allow({"activityId"})
        activity_id = parse_iri_param(xreq.require("activityId"), "activityId")
        activity = self.store.get_activity(activity_id) or {
            "objectType": "Activity",
            "id": activity_id,
        }
        return json_response(activity)

    # Withdrawal (non-standard, admin only) ------------------------------------------------

    def delete_agent(self, xreq: XRequest) -> XResponse:
        if xreq.method != "DELETE":
            raise MethodNotAllowed()
        credential = self._credential(xreq)
        if not credential.allows("admin"):
            raise Forbidden("Deleting an agent's data needs the admin scope.")
        xreq.allow({"agent"})
        agent = parse_agent_param(xreq.require("agent"))
        counts = self.store.delete_agent(agent, by=credential.key)
        return json_response(counts)

    def delete_statements(self, xreq: XRequest) -> XResponse:
        """``POST extensions/statements/delete`` with ``{"statementIds": [...]}``: hard-delete
        those statements and what refers to them (admin only; see Store.delete_statements)."""
        if xreq.method != "POST":
            raise MethodNotAllowed('Use POST with a JSON body {"statementIds": [...]}.')
        credential = self._credential(xreq)
        if not credential.allows("admin"):
            raise Forbidden("Deleting statements needs the admin scope.")
        xreq.allow(set())
        body = xreq.json_body()
        ids = body.get("statementIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            raise BadRequest('The body must be {"statementIds": [one or more statement ids]}.')
        if len(ids) > MAX_DELETE_IDS:
            raise BadRequest(f"At most {MAX_DELETE_IDS} statement ids per request.")
        clean = [
            parse_uuid_param(i, f"statementIds[{n}]") if isinstance(i, str) else _not_id(n)
            for n, i in enumerate(ids)
        ]
        counts = self.store.delete_statements(clean, by=credential.key)
        return json_response(counts)

    def count_statements(self, xreq: XRequest) -> XResponse:
        """``GET extensions/statements/count`` with the filters of GET statements: how many
        statements a query would return, for progress bars."""
        if xreq.method not in ("GET", "HEAD"):
            raise MethodNotAllowed()
        credential = self._credential(xreq)
        if not credential.allows("statements/read", "statements/read/mine", *READ_ANY):
            raise Forbidden()
        xreq.allow(STATEMENT_PARAMS - {"statementId", "voidedStatementId", "more"})
        query = self._statement_query(xreq)
        query.mine = None if credential.allows("statements/read", *READ_ANY) else credential.id
        return json_response({"count": self.store.count_statements(query)})


def _not_id(n: int) -> str:
    raise BadRequest(f"statementIds[{n}] must be a string (a UUID).")


def _single_valued(pairs: list[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in pairs:
        if name in result:
            raise BadRequest(f"Parameter '{name}' is given more than once.")
        result[name] = value
    return result


def _to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _http_date(iso: str | None) -> str:
    from xapi.lrs.validation import parse_timestamp

    if not iso:
        return formatdate(time.time(), usegmt=True)
    return formatdate(parse_timestamp(iso, "stored").timestamp(), usegmt=True)


def _http_date_us(us: int) -> str:
    return formatdate(us / 1_000_000, usegmt=True)


def create_app(database_url: str, *, max_limit: int = 500, create_schema: bool = True) -> LrsApp:
    """The LRS WSGI app on this database (SQLite or PostgreSQL URL)."""
    store = Store(database_url, max_limit=max_limit)
    if create_schema:
        store.create_schema()
    return LrsApp(store)
