"""The document resources: State, Activity Profile and Agent Profile (GET, list, PUT,
POST to merge JSON, DELETE), one handler for all three.
"""

from __future__ import annotations

from xapi.lrs import xapi2
from xapi.lrs.app.auth import Resource
from xapi.lrs.app.messages import XRequest, XResponse, http_date_us, json_response, to_us
from xapi.lrs.exceptions import BadRequest, MethodNotAllowed, NotFound
from xapi.lrs.limits import loads
from xapi.lrs.store import agent_hash, agent_identity, hkey, state_owner, state_scope
from xapi.lrs.validation import (
    parse_agent_param,
    parse_iri_param,
    parse_timestamp_param,
    parse_uuid_param,
)


class Documents(Resource):
    """activities/state, activities/profile and agents/profile."""

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
            since_us = to_us(parse_timestamp_param(since, "since").timestamp()) if since else None
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
                {"ETag": f'"{row.etag}"', "Last-Modified": http_date_us(row.updated_us)},
            )
        if "since" in xreq.params:
            raise BadRequest("'since' is only used with GET.")
        if xreq.method in ("PUT", "POST"):
            if doc_id is None:
                raise BadRequest(f"Parameter '{id_param}' is required.")
            content_type = xreq.content_type or "application/octet-stream"
            if xreq.method == "POST" and xreq.version.is_2:
                xapi2.check_json_post(content_type, xreq.body, xreq.json_depth)
            elif xreq.method == "POST" and _is_json(content_type):
                # Communication 2.2 (1.0.3): a posted JSON document must parse as a JSON
                # object, also when there is no document yet to merge it with.
                _json_object(xreq)
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
                # Communication 3.1: a client MUST send one of them with a profile PUT; ADL's
                # 1.0.3 suite wants a 400 without them for a new document too (docs/lrs.md).
                precondition_to_create=concurrency,
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


def _json_object(xreq: XRequest) -> None:
    if not isinstance(loads(xreq.body, max_depth=xreq.json_depth, what="The document"), dict):
        raise BadRequest("POST merges JSON objects only.")


def _is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"
