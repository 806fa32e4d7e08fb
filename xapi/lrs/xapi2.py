"""xAPI 2.0 (IEEE 9274.1.1): version negotiation and the rules that differ from 1.0.3.

The LRS speaks both versions. Each request is answered by the rules of the version its
``X-Experience-API-Version`` header names (:func:`negotiate`); the 1.0.3 rules live in
``validation.py`` and ``app/`` and stay untouched by 2.0. The 2.0 statement validator below wraps
the 1.0.3 one: it takes out what only 2.0 has (``context.contextAgents``, ``context.contextGroups``,
a ``version`` of 2.0.x), lets the 1.0.3 validator check the rest, checks the 2.0 parts itself and
puts them back, then applies the stricter 2.0 formats (RFC 3339 timestamps, ISO 8601 durations).

Sources: the IEEE 9274.1.1 text as published by ADL, and ADL's LRS conformance test suite for 2.0
(``test/v2_0`` of adlnet/lrs-conformance-test-suite); section numbers below are the 2.0 ones the
suite cites (they follow the 1.0.3 Data/Communication numbering).
"""

from __future__ import annotations

import copy as copy_module
import re
from dataclasses import dataclass
from typing import Any

from xapi.lrs.exceptions import BadRequest
from xapi.lrs.limits import DEFAULT_LIMITS, loads
from xapi.lrs.validation import (
    check_agent,
    check_iri,
    fail,
    parse_timestamp,
    validate_statement,
)


@dataclass(frozen=True)
class XapiVersion:
    """The xAPI version a request is handled by, and the header value the response carries."""

    header: str

    @property
    def is_2(self) -> bool:
        return self.header.startswith("2.")


V1_0_3 = XapiVersion("1.0.3")
V2_0_0 = XapiVersion("2.0.0")
# Requests without a usable version header are refused (400) and the response names 1.0.3.
# ADL's suites disagree here: the 1.0.3 suite (XAPI-00321) wants 1.0.x on that 400, the 2.0 suite
# wants 2.0.0, and no LRS can answer both. 1.0.3 is the version the study's tools speak and the
# suite Steun is checked against first (docs/decisions/0010-lrs-xapi-2.md).
DEFAULT_VERSION = V1_0_3
ABOUT_VERSIONS = ["2.0.0", "1.0.3", "1.0.2", "1.0.1", "1.0.0"]
# A 1.0.x client asking About sees the 1.0.x versions only: the 1.0.3 specification allows no
# other value there (Communication 2.8, XAPI-00316); 2.0 clients and clients without a version
# header see them all.
ABOUT_VERSIONS_1 = [v for v in ABOUT_VERSIONS if v.startswith("1.")]


def about_versions(header: str | None) -> list[str]:
    """The About resource's ``version`` list for a request with this version header."""
    return ABOUT_VERSIONS_1 if negotiate(header) == V1_0_3 else ABOUT_VERSIONS


HEADER_1_RE = re.compile(r"^1\.0(?:\.\d+)?$")
HEADER_2_RE = re.compile(r"^2\.0(?:\.\d+)?$")
# Data 2.4.10 (2.0): a statement's version starts with "1.0." or "2.0." (semantic versioning).
STATEMENT_VERSION_2_RE = re.compile(r"^(?:1\.0|2\.0)(?:\.\d+)?$")
# Data 4.5 (2.0): RFC 3339 date-time; seconds and an offset are required (RFC 3339 section 5.6,
# which also allows a space instead of "T"); -00:00 ("unknown local offset") is refused.
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
# Data 4.6 (2.0): ISO 8601:2004 4.4.3.2 durations; weeks stand alone (P4W, never P4W1D), and only
# the smallest unit given may carry a decimal fraction.
_N = r"(\d+(?:[.,]\d+)?)"
DURATION_WEEKS_RE = re.compile(rf"^P{_N}W$")
DURATION_2_RE = re.compile(
    rf"^P(?:{_N}Y)?(?:{_N}M)?(?:{_N}D)?(?:T(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?$"
)


def negotiate(header: str | None) -> XapiVersion | None:
    """The version a request's X-Experience-API-Version header asks for; None if unsupported."""
    value = (header or "").strip()
    if HEADER_2_RE.match(value):
        return V2_0_0
    if HEADER_1_RE.match(value):
        return V1_0_3
    return None


def wants_2(header: str | None) -> bool:
    return bool(HEADER_2_RE.match((header or "").strip()))


# -- statements ------------------------------------------------------------------------------


def validate_statement_2(value: Any, path: str = "statement", *, copy: bool = True) -> Any:
    """Validate one statement by the 2.0 rules and return it (a deep copy unless ``copy=False``)."""
    statement: Any = copy_module.deepcopy(value) if copy else value
    if not isinstance(statement, dict):
        return validate_statement(statement, path, copy=False)  # the 1.0.3 message
    set_aside = _take_2_0_parts(statement)
    try:
        validate_statement(statement, path, copy=False)
    finally:
        _restore(statement, set_aside)
    if "version" in statement:
        version = statement["version"]
        if not isinstance(version, str) or not STATEMENT_VERSION_2_RE.match(version):
            raise fail(f"{path}.version", "must be a 1.0.x or 2.0.x version")
    check_2_0_rules(statement, path)
    return statement


def _take_2_0_parts(statement: dict[str, Any]) -> list[tuple[dict[str, Any], str, Any]]:
    """Remove the properties 1.0.3 does not know, remembering where they were."""
    taken: list[tuple[dict[str, Any], str, Any]] = []
    if "version" in statement:
        taken.append((statement, "version", statement.pop("version")))
    for context in _contexts(statement):
        for key in ("contextAgents", "contextGroups"):
            if key in context:
                taken.append((context, key, context.pop(key)))
    for holder in (statement, statement.get("object")):
        # A context of only 2.0 properties would look empty to the 1.0.3 rules (XAPI-00001).
        if (
            isinstance(holder, dict)
            and holder.get("context") == {}
            and any(h is holder.get("context") for h, _, _ in taken)
        ):
            taken.append((holder, "context", holder.pop("context")))
    return taken


def _restore(statement: dict[str, Any], taken: list[tuple[dict[str, Any], str, Any]]) -> None:
    for holder, key, value in taken:
        holder[key] = value


def _contexts(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The context objects of a statement and of its SubStatement (if any)."""
    found = []
    if isinstance(statement.get("context"), dict):
        found.append(statement["context"])
    obj = statement.get("object")
    if (
        isinstance(obj, dict)
        and obj.get("objectType") == "SubStatement"
        and isinstance(obj.get("context"), dict)
    ):
        found.append(obj["context"])
    return found


def _parts(statement: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]]:
    parts = [(statement, path)]
    if statement["object"].get("objectType") == "SubStatement":
        parts.append((statement["object"], f"{path}.object"))
    return parts


def check_2_0_rules(statement: dict[str, Any], path: str) -> None:
    """The 2.0 checks on an otherwise valid statement (and its SubStatement)."""
    for part, part_path in _parts(statement, path):
        context = part.get("context")
        if isinstance(context, dict):
            if "contextAgents" in context:
                check_context_agents(context["contextAgents"], f"{part_path}.context.contextAgents")
            if "contextGroups" in context:
                check_context_groups(context["contextGroups"], f"{part_path}.context.contextGroups")
        if "timestamp" in part:
            check_timestamp_2(part["timestamp"], f"{part_path}.timestamp")
        duration = (part.get("result") or {}).get("duration")
        if duration is not None:
            check_duration_2(duration, f"{part_path}.result.duration")
    if "stored" in statement:
        check_timestamp_2(statement["stored"], f"{path}.stored")


def _relevant_types(item: dict[str, Any], path: str) -> None:
    if "relevantTypes" not in item:
        return
    types = item["relevantTypes"]
    if not isinstance(types, list) or not types:
        raise fail(f"{path}.relevantTypes", "must be an array of one or more IRIs")
    for i, iri in enumerate(types):
        check_iri(iri, f"{path}.relevantTypes[{i}]")


def _context_item(
    item: Any, path: str, *, object_type: str, key: str, allowed: set[str]
) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise fail(path, f"must be a {object_type} object")
    extra = sorted(set(item) - allowed)
    if extra:
        raise fail(path, f"unknown propert{'y' if len(extra) == 1 else 'ies'} {', '.join(extra)}")
    if item.get("objectType") != object_type:
        raise fail(f"{path}.objectType", f"must be '{object_type}'")
    if key not in item:
        raise fail(path, f"'{key}' is required")
    _relevant_types(item, path)
    return item


def check_context_agents(value: Any, path: str) -> None:
    """Data 2.4.6.3 (2.0): an array of Context Agent objects: objectType "contextAgent", an
    ``agent`` (an Agent, not a Group), optional ``relevantTypes`` (one or more IRIs)."""
    if not isinstance(value, list):
        raise fail(path, "must be an array of contextAgent objects")
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        entry = _context_item(
            item,
            p,
            object_type="contextAgent",
            key="agent",
            allowed={"objectType", "agent", "relevantTypes"},
        )
        agent = entry["agent"]
        if isinstance(agent, dict) and agent.get("objectType", "Agent") != "Agent":
            raise fail(f"{p}.agent", "must be an Agent")
        check_agent(agent, f"{p}.agent", group_allowed=False)


def check_context_groups(value: Any, path: str) -> None:
    """Data 2.4.6.4 (2.0): an array of Context Group objects: objectType "contextGroup", a
    ``group`` (a Group), optional ``relevantTypes`` (one or more IRIs)."""
    if not isinstance(value, list):
        raise fail(path, "must be an array of contextGroup objects")
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        entry = _context_item(
            item,
            p,
            object_type="contextGroup",
            key="group",
            allowed={"objectType", "group", "relevantTypes"},
        )
        group = entry["group"]
        if not isinstance(group, dict) or group.get("objectType") != "Group":
            raise fail(f"{p}.group", "must be a Group (objectType 'Group')")
        check_agent(group, f"{p}.group")


def check_timestamp_2(value: Any, path: str) -> None:
    """Data 4.5 (2.0): timestamps are RFC 3339 date-times with an offset."""
    if not isinstance(value, str) or not RFC3339_RE.match(value):
        raise fail(path, "must be an RFC 3339 timestamp with seconds and an offset (Z or +hh:mm)")
    parse_timestamp(value, path)  # a real date and time, and not -00:00


def check_duration_2(value: Any, path: str) -> None:
    """Data 4.6 (2.0): an ISO 8601 duration; weeks alone; a fraction only on the last unit."""
    if not isinstance(value, str) or not _valid_duration_2(value):
        raise fail(path, "must be an ISO 8601 duration (e.g. PT1H30M or P4W)")


def _valid_duration_2(text: str) -> bool:
    if DURATION_WEEKS_RE.match(text):
        return True
    match = DURATION_2_RE.match(text)
    if match is None:
        return False
    given = [g for g in match.groups() if g is not None]
    if not given or ("T" in text and all(g is None for g in match.groups()[3:])):
        return False  # "P", "PT" and "P1DT" name no amount
    return not any("." in g or "," in g for g in given[:-1])


def latest_stored(rows: list[tuple[int, str, bool]]) -> str:
    """The latest ``stored`` among statement rows (stored JSON text): the Last-Modified of a
    statement query (Communication 2.1.3, 2.0). The LRS writes ``stored`` in one fixed UTC format
    near the start of the text, so a string search and comparison suffice."""
    latest = ""
    for _seq, body, _attachments in rows:
        start = body.find('"stored":"') + len('"stored":"')
        latest = max(latest, body[start : body.find('"', start)])
    return latest


# -- documents -------------------------------------------------------------------------------


def check_json_post(
    content_type: str, body: bytes, max_depth: int = DEFAULT_LIMITS.json_depth
) -> None:
    """Communication 2.2 (2.0): a POST to a document resource merges JSON objects, so a posted
    document that is not application/json, or not a JSON object, is refused with 400 even when
    no document exists yet."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise BadRequest("POST merges JSON documents only: Content-Type must be application/json.")
    value = loads(body, max_depth=max_depth, what="The document")
    if not isinstance(value, dict):
        raise BadRequest("POST merges JSON objects only.")
