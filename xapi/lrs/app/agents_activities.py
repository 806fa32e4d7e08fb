"""The Agents resource (a Person object) and the Activities resource (the canonical definition)."""

from __future__ import annotations

import logging
from typing import Any

from xapi.jsoncheck import is_finite_json
from xapi.lrs.app.auth import Resource
from xapi.lrs.app.messages import XRequest, XResponse, json_response
from xapi.lrs.exceptions import MethodNotAllowed
from xapi.lrs.validation import parse_agent_param, parse_iri_param

log = logging.getLogger("xapi.lrs")


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
        bare = {"objectType": "Activity", "id": activity_id}
        activity = self.store.get_activity(activity_id) or bare
        if not is_finite_json(activity):
            # Stored by an older version, which took NaN and Infinity: never answer invalid JSON.
            log.warning(
                "the definition of activity %s holds NaN or Infinity; left out", activity_id
            )
            activity = bare
        return json_response(activity)
