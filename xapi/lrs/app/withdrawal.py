"""Steun's withdrawal extensions (admin scope only): hard-delete an agent's data, or
statements by id with everything that refers to them.
"""

from __future__ import annotations

from xapi.lrs.app.auth import Resource
from xapi.lrs.app.messages import XRequest, XResponse, json_response
from xapi.lrs.exceptions import BadRequest, Forbidden, MethodNotAllowed
from xapi.lrs.validation import parse_agent_param, parse_uuid_param

MAX_DELETE_IDS = 1000


class Withdrawal(Resource):
    """extensions/agent and extensions/statements/delete."""

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


def _not_id(n: int) -> str:
    raise BadRequest(f"statementIds[{n}] must be a string (a UUID).")
