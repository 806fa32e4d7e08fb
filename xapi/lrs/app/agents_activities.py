"""The Agents resource (a Person object) and the Activities resource (the canonical definition)."""

from __future__ import annotations

from typing import Any

from xapi.lrs.app.auth import Resource
from xapi.lrs.app.messages import XRequest, XResponse, json_response
from xapi.lrs.exceptions import MethodNotAllowed
from xapi.lrs.validation import parse_agent_param, parse_iri_param


class AgentsActivities(Resource):
    """agents and activities (GET only)."""

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
