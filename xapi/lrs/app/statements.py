"""The Statement resource: PUT and POST (JSON or multipart with attachments), GET of one
statement or a page with a ``more`` link, and the count extension for progress bars.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import sys
from dataclasses import asdict
from typing import Any

from xapi.lrs import formats, multipart, xapi2
from xapi.lrs.app.auth import READ_ANY, Resource
from xapi.lrs.app.messages import PREFIX, XRequest, XResponse, http_date, json_response, to_us
from xapi.lrs.exceptions import BadRequest, Forbidden, MethodNotAllowed, NotFound
from xapi.lrs.limits import loads
from xapi.lrs.store import StatementQuery, agent_identity, format_us, now_us
from xapi.lrs.validation import (
    parse_agent_param,
    parse_bool_param,
    parse_iri_param,
    parse_timestamp_param,
    parse_uuid_param,
    validate_statement,
)

log = logging.getLogger("xapi.lrs")

FORMATS = ("exact", "ids", "canonical")
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


class Statements(Resource):
    """statements and extensions/statements/count."""

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
            return multipart.parse_statement_request(
                xreq.content_type, xreq.body, max_depth=xreq.json_depth
            )
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

    def get_statements(self, xreq: XRequest) -> XResponse:
        xreq.allow(STATEMENT_PARAMS)
        credential = self._credential(xreq)
        mine = None if credential.allows("statements/read", *READ_ANY) else credential.id
        consistent = {"X-Experience-API-Consistent-Through": format_us(now_us())}
        fmt = xreq.params.get("format", "exact")
        if fmt not in FORMATS:
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
            if not _servable(statement_id, body):
                raise NotFound(
                    f"Statement {statement_id} is stored but holds a number JSON cannot carry "
                    "(NaN or Infinity, from an older version); see the LRS log."
                )
            statement = json.loads(body)
            statement = formats.apply(statement, fmt, xreq.accept_language)
            headers = {**consistent, "Last-Modified": http_date(statement.get("stored"))}
            if attachments:
                return self._multipart(statement, [statement], headers)
            if fmt == "exact":
                return XResponse(200, body.encode(), "application/json", headers)
            return json_response(statement, headers=headers)
        query = self._statement_query(xreq)
        if "more" in xreq.params:
            # The next page keeps the format the first page was asked in.
            fmt, attachments = query.format, query.attachments
        query.format, query.attachments, query.mine = fmt, attachments, mine
        rows, more = self.store.query_statements(query)
        last_seq = rows[-1][0] if rows else None
        rows = [row for row in rows if _servable(row[0], row[1])]
        if xreq.version.is_2 and rows:
            consistent = {**consistent, "Last-Modified": http_date(xapi2.latest_stored(rows))}
        more_url = ""
        if more and last_seq is not None:
            query.after = last_seq
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
            return _query_from_token(xreq.params["more"])
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
            query.since_us = to_us(parse_timestamp_param(p["since"], "since").timestamp())
        if "until" in p:
            query.until_us = to_us(parse_timestamp_param(p["until"], "until").timestamp())
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


_BIGINT = 2**63
_TOKEN_TYPES: dict[str, tuple[type, ...]] = {
    "agent": (str, type(None)),
    "verb": (str, type(None)),
    "activity": (str, type(None)),
    "registration": (str, type(None)),
    "related_activities": (bool,),
    "related_agents": (bool,),
    "since_us": (int, type(None)),
    "until_us": (int, type(None)),
    "limit": (int,),
    "ascending": (bool,),
    "format": (str,),
    "attachments": (bool,),
    "after": (int, type(None)),
    "ceiling": (int, type(None)),
    "extra": (dict,),
}


def _query_from_token(token: str) -> StatementQuery:
    """The query a ``more`` token carries, every field checked: a token is the client's to
    change, and a changed one is refused (400), never passed on to the database."""
    invalid = BadRequest("The 'more' token is not valid.")
    try:
        state = loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), what="more")
    except (ValueError, binascii.Error, BadRequest):
        raise invalid from None
    if not isinstance(state, dict) or not set(state) <= set(_TOKEN_TYPES):
        raise invalid
    for name, value in state.items():
        if not isinstance(value, _TOKEN_TYPES[name]):
            raise invalid
        if isinstance(value, bool) != (bool in _TOKEN_TYPES[name]):
            raise invalid  # True is an int to Python, not a position to the database
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not -_BIGINT <= value < _BIGINT
        ):
            raise invalid
    if state.get("limit", 0) < 0 or state.get("format", "exact") not in FORMATS:
        raise invalid
    return StatementQuery(**state)


def _servable(which: object, body: str) -> bool:
    """Whether a stored statement is valid JSON to serve. Statements are refused with
    ``NaN``/``Infinity`` now (limits.loads), but an older version stored them; served as they
    are, they made every page holding them invalid JSON. Only a body containing those words
    is parsed (the words are rare: any other body is served untouched, at no cost)."""
    if "NaN" not in body and "Infinity" not in body:
        return True
    try:
        loads(body, max_depth=sys.maxsize)
    except BadRequest:
        log.warning("stored statement %s holds NaN or Infinity; left out of the answer", which)
        return False
    return True
