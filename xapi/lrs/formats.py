"""The ``format`` parameter of GET /statements: exact, ids and canonical (Communication 2.1.3)."""

from __future__ import annotations

from typing import Any

from xapi.lrs.validation import COMPONENT_LISTS, IFIS


def preferred_languages(accept_language: str) -> list[str]:
    """Language tags from an Accept-Language header, best first."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, tag.strip().lower()))
    return [tag for _q, _i, tag in sorted(weighted)]


def pick_language(value: dict[str, str], languages: list[str]) -> dict[str, str]:
    if len(value) <= 1:
        return value
    lowered = {k.lower(): k for k in value}
    for wanted in languages:
        if wanted == "*":
            break
        if wanted in lowered:
            key = lowered[wanted]
            return {key: value[key]}
        for low, key in lowered.items():
            if low.split("-")[0] == wanted.split("-")[0]:
                return {key: value[key]}
    first = next(iter(value))
    return {first: value[first]}


def _canonical_definition(definition: dict[str, Any], languages: list[str]) -> None:
    for key in ("name", "description"):
        if isinstance(definition.get(key), dict):
            definition[key] = pick_language(definition[key], languages)
    for key in COMPONENT_LISTS:
        for component in definition.get(key, []) or []:
            if isinstance(component.get("description"), dict):
                component["description"] = pick_language(component["description"], languages)


def _walk_activities(statement: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    parts = [statement]
    if statement.get("object", {}).get("objectType") == "SubStatement":
        parts.append(statement["object"])
    for part in parts:
        obj = part.get("object", {})
        if obj.get("objectType", "Activity") == "Activity":
            found.append(obj)
        for items in ((part.get("context") or {}).get("contextActivities") or {}).values():
            found.extend(items)
    return found


def _ids_agent(agent: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"objectType": agent.get("objectType", "Agent")}
    for ifi in IFIS:
        if ifi in agent:
            result[ifi] = agent[ifi]
            return result
    if "member" in agent:
        result["member"] = [_ids_agent(m) for m in agent["member"]]
    return result


def apply(statement: dict[str, Any], fmt: str, accept_language: str) -> dict[str, Any]:
    if fmt == "exact":
        return statement
    if fmt == "canonical":
        languages = preferred_languages(accept_language)
        parts = [statement]
        if statement["object"].get("objectType") == "SubStatement":
            parts.append(statement["object"])
        for part in parts:
            if isinstance(part["verb"].get("display"), dict):
                part["verb"]["display"] = pick_language(part["verb"]["display"], languages)
            for attachment in part.get("attachments", []) or []:
                for key in ("display", "description"):
                    if isinstance(attachment.get(key), dict):
                        attachment[key] = pick_language(attachment[key], languages)
        for activity in _walk_activities(statement):
            if isinstance(activity.get("definition"), dict):
                _canonical_definition(activity["definition"], languages)
        return statement
    # ids
    parts = [statement]
    if statement["object"].get("objectType") == "SubStatement":
        parts.append(statement["object"])
    for part in parts:
        part["actor"] = _ids_agent(part["actor"])
        part["verb"] = {"id": part["verb"]["id"]}
        kind = part["object"].get("objectType", "Activity")
        if kind in ("Agent", "Group"):
            part["object"] = _ids_agent(part["object"])
        elif kind == "Activity":
            part["object"] = {"id": part["object"]["id"]}
        context = part.get("context")
        if context:
            for key in ("instructor", "team"):
                if key in context:
                    context[key] = _ids_agent(context[key])
            # xAPI 2.0 context agents and groups
            for item in context.get("contextAgents") or []:
                item["agent"] = _ids_agent(item["agent"])
            for item in context.get("contextGroups") or []:
                item["group"] = _ids_agent(item["group"])
            activities = context.get("contextActivities") or {}
            for key, items in activities.items():
                activities[key] = [{"id": a["id"]} for a in items]
    if "authority" in statement:
        statement["authority"] = _ids_agent(statement["authority"])
    return statement
