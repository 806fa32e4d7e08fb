"""Does a statement match a statement template of the profile? (xAPI Profiles 1.0, part 2 §9).

Determining properties (verb, object activity type, context activity types) pick the templates a
statement claims; every rule of such a template must then hold. Locations are the JSONPath subset
the profile uses: ``$.a.b``, ``[*]``, ``[n]`` and ``['key']``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[\*\]|\[(\d+)\]|\['([^']*)'\]")


def resolve(document: Any, location: str) -> list[Any]:
    """The values at a JSONPath location (a missing key gives no value)."""
    if not location.startswith("$"):
        raise ValueError(f"location must start with $: {location}")
    values = [document]
    pos = 1
    while pos < len(location):
        match = _TOKEN.match(location, pos)
        if not match:
            raise ValueError(f"unsupported JSONPath at {location[pos:]!r} in {location}")
        pos = match.end()
        key = match.group(1) or match.group(3)
        nxt: list[Any] = []
        for value in values:
            if match.group(0) == "[*]":
                if isinstance(value, list):
                    nxt.extend(value)
            elif match.group(2) is not None:
                idx = int(match.group(2))
                if isinstance(value, list) and idx < len(value):
                    nxt.append(value[idx])
            elif isinstance(value, Mapping) and key in value:
                nxt.append(value[key])
        values = nxt
    return values


def _types(statement: Mapping[str, Any], kind: str) -> list[str]:
    refs = (statement.get("context") or {}).get("contextActivities", {}).get(kind) or []
    if isinstance(refs, Mapping):
        refs = [refs]
    return [str((r.get("definition") or {}).get("type")) for r in refs]


def claims(template: Mapping[str, Any], statement: Mapping[str, Any]) -> bool:
    """The determining properties of the template all hold for the statement."""
    if "verb" in template and statement.get("verb", {}).get("id") != template["verb"]:
        return False
    if "objectActivityType" in template:
        obj = statement.get("object") or {}
        if (obj.get("definition") or {}).get("type") != template["objectActivityType"]:
            return False
    for key, kind in (
        ("contextParentActivityType", "parent"),
        ("contextGroupingActivityType", "grouping"),
        ("contextCategoryActivityType", "category"),
        ("contextOtherActivityType", "other"),
    ):
        wanted = template.get(key)
        if wanted and not set(wanted) <= set(_types(statement, kind)):
            return False
    return True


def rule_errors(template: Mapping[str, Any], statement: Mapping[str, Any]) -> list[str]:
    """The rules of the template that the statement breaks (empty: it conforms)."""
    errors: list[str] = []
    for rule in template.get("rules", []):
        values = resolve(statement, rule["location"])
        where = rule["location"]
        presence = rule.get("presence")
        if presence == "included" and not values:
            errors.append(f"{where} must be present")
        if presence == "excluded" and values:
            errors.append(f"{where} must be absent")
        if presence == "excluded":
            continue
        if "any" in rule and values and not any(v in rule["any"] for v in values):
            errors.append(f"{where} must include one of {rule['any']}")
        if "all" in rule and values and not all(v in rule["all"] for v in values):
            errors.append(f"{where} must all be in {rule['all']}")
        if "none" in rule and any(v in rule["none"] for v in values):
            errors.append(f"{where} must not be any of {rule['none']}")
    return errors


def matching_templates(profile: Mapping[str, Any], statement: Mapping[str, Any]) -> list[str]:
    """Ids of the templates the statement claims and fully conforms to."""
    return [
        t["id"]
        for t in profile["templates"]
        if claims(t, statement) and not rule_errors(t, statement)
    ]


def explain(profile: Mapping[str, Any], statement: Mapping[str, Any]) -> str:
    """Why a statement matches no template (for test failure messages)."""
    lines = []
    for t in profile["templates"]:
        if claims(t, statement):
            lines.append(f"{t['id']}: {rule_errors(t, statement)}")
    return "; ".join(lines) or "no template claims this verb / activity types"
