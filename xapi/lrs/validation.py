"""Statement validation to xAPI 1.0.3 (Data section), and parsers for query parameters.

Every rule that the specification states as a MUST for the LRS raises :class:`BadRequest` with
the path of the offending property, so a client learns what and where. The validator also
normalises what the specification asks the LRS to normalise (context activities given as a
single object become a list of one).

The file stays whole (about 500 lines) because it holds one concern, the Data rules of a
1.0.3 statement, checked by small functions that call each other down the statement's tree;
the query-parameter parsers at the end are those same checks with a parameter's message (and
``steun lrs`` imports them from here).
"""

from __future__ import annotations

import copy as copy_module
import functools
import math
import re
from datetime import UTC, datetime
from typing import Any

from xapi import vocab
from xapi.lrs.exceptions import BadRequest
from xapi.lrs.limits import loads

VOIDED = "http://adlnet.gov/expapi/verbs/voided"

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
MBOX_RE = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
SHA2_RE = re.compile(r"^[0-9a-fA-F]{56,128}$")
# RFC 5646; a four-letter primary language subtag is reserved (2.2.1) and so never valid.
LANG_RE = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{5,8})"
    r"(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?$"
    r"|^[xX](?:-[A-Za-z0-9]{1,8})+$|^i-[A-Za-z]{2,8}$"
)
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
# ISO 8601: PnYnMnDTnHnMnS, or weeks alone (PnW); the week form does not combine with others.
DURATION_RE = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?=\d|T\d)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)$"
)
VERSION_RE = re.compile(r"^1\.0(?:\.\d+)?$")
MEDIA_TYPE_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+(?:\s*;.*)?$")

COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")


def fail(path: str, message: str) -> BadRequest:
    return BadRequest(f"Invalid statement: {path}: {message}")


def _obj(
    value: Any,
    path: str,
    allowed: set[str],
    required: tuple[str, ...] = (),
    *,
    may_be_empty: bool = False,
) -> dict:
    if not isinstance(value, dict):
        raise fail(path, "must be a JSON object")
    if not value and not may_be_empty:
        # ADL's LRS conformance requirement XAPI-00001 (Data 2.2): no property may be "null, an
        # empty object, or has no value, except in an extensions property".
        raise fail(path, "must not be an empty object")
    if not value.keys() <= allowed:
        extra = sorted(set(value) - allowed)
        raise fail(path, f"unknown propert{'y' if len(extra) == 1 else 'ies'} {', '.join(extra)}")
    for key in required:
        if key not in value:
            raise fail(path, f"'{key}' is required")
    if None in value.values():
        for key, item in value.items():
            if item is None:
                raise fail(f"{path}.{key}", "must not be null")
    return value


def check_string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise fail(path, "must be a string")
    return value


def check_iri(value: Any, path: str) -> str:
    if not isinstance(value, str) or not (
        _is_iri(value) if len(value) <= _CACHED_LENGTH else IRI_RE.match(value)
    ):
        raise fail(path, "must be an absolute IRI")
    return value


# Verbs, activity types and ids, language tags recur from statement to statement: each is
# matched once (per worker) while it stays among the recent; long texts are not kept.
_CACHED_LENGTH = 300


@functools.lru_cache(maxsize=4096)
def _is_iri(value: str) -> bool:
    return IRI_RE.match(value) is not None


def check_uuid(value: Any, path: str) -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise fail(path, "must be a UUID")
    return value


def check_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise fail(path, "must be true or false")
    return value


def check_number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(path, "must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        # The request parser refuses these already (limits.loads); a statement built in
        # Python must not store what no JSON reader can read back.
        raise fail(path, "must be a finite number")
    return number


def valid_language_tag(tag: str) -> bool:
    """RFC 5646 syntax, plus: no extension singleton twice (e.g. ``zh-z-aaa-z-bbb``)."""
    if len(tag) <= _CACHED_LENGTH:
        return _valid_language_tag(tag)
    return _valid_language_tag.__wrapped__(tag)


@functools.lru_cache(maxsize=1024)
def _valid_language_tag(tag: str) -> bool:
    if not LANG_RE.match(tag):
        return False
    subtags = tag.lower().split("-")
    if "x" in subtags:
        subtags = subtags[: subtags.index("x")]
    singletons = [s for s in subtags[1:] if len(s) == 1]
    return len(singletons) == len(set(singletons))


def check_language_map(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise fail(path, "must be a language map (a JSON object)")
    if not value:
        raise fail(path, "a language map has at least one entry")
    for tag, text in value.items():
        if not valid_language_tag(tag):
            raise fail(path, f"'{tag}' is not an RFC 5646 language tag")
        if not isinstance(text, str):
            raise fail(f"{path}.{tag}", "must be a string")


def check_extensions(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise fail(path, "must be a JSON object")
    for key in value:
        check_iri(key, f"{path} key '{key}'")


def parse_timestamp(value: Any, path: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive values are taken as UTC."""
    if not isinstance(value, str):
        raise fail(path, "must be an ISO 8601 timestamp string")
    match = TIMESTAMP_RE.match(value)
    if not match:
        raise fail(path, f"'{value}' is not an ISO 8601 timestamp")
    offset = match.group(8)
    if offset in ("-00", "-0000", "-00:00"):
        raise fail(path, "the offset -00:00 is not allowed")
    text = value.replace("t", "T").replace(" ", "T").replace("z", "Z")
    text = text.replace("Z", "+00:00")
    if offset and len(offset) == 3:
        text += ":00"
    elif offset and len(offset) == 5:
        text = text[:-2] + ":" + text[-2:]
    fraction = match.group(7)
    if fraction and len(fraction) > 7:
        text = text.replace(fraction, fraction[:7])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise fail(path, f"'{value}' is not a valid date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def check_agent(value: Any, path: str, *, group_allowed: bool = True) -> None:
    if not isinstance(value, dict):
        raise fail(path, "must be an Agent or Group object")
    kind = value.get("objectType", "Agent")
    if kind == "Group":
        if not group_allowed:
            raise fail(path, "a Group member must be an Agent")
        _obj(value, path, {"objectType", "name", "member", *IFIS})
        ifis = [k for k in IFIS if k in value]
        if len(ifis) > 1:
            raise fail(path, "a Group has at most one inverse functional identifier")
        if not ifis and "member" not in value:
            raise fail(path, "an anonymous Group must list its members")
        if "member" in value:
            members = value["member"]
            if not isinstance(members, list):
                raise fail(f"{path}.member", "must be an array of Agents")
            for i, member in enumerate(members):
                check_agent(member, f"{path}.member[{i}]", group_allowed=False)
    elif kind == "Agent":
        _obj(value, path, {"objectType", "name", *IFIS})
        ifis = [k for k in IFIS if k in value]
        if len(ifis) != 1:
            raise fail(path, "an Agent has exactly one inverse functional identifier")
    else:
        raise fail(f"{path}.objectType", "must be 'Agent' or 'Group'")
    if "name" in value:
        check_string(value["name"], f"{path}.name")
    _check_ifis(value, path)


def _check_ifis(value: dict, path: str) -> None:
    if "mbox" in value and (not isinstance(value["mbox"], str) or not MBOX_RE.match(value["mbox"])):
        raise fail(f"{path}.mbox", "must be a mailto: IRI")
    if "mbox_sha1sum" in value and (
        not isinstance(value["mbox_sha1sum"], str) or not SHA1_RE.match(value["mbox_sha1sum"])
    ):
        raise fail(f"{path}.mbox_sha1sum", "must be a hex SHA-1")
    if "openid" in value:
        check_iri(value["openid"], f"{path}.openid")
    if "account" in value:
        account = _obj(
            value["account"], f"{path}.account", {"homePage", "name"}, ("homePage", "name")
        )
        check_iri(account["homePage"], f"{path}.account.homePage")
        check_string(account["name"], f"{path}.account.name")


def check_verb(value: Any, path: str) -> None:
    verb = _obj(value, path, {"id", "display"}, ("id",))
    check_iri(verb["id"], f"{path}.id")
    if "display" in verb:
        check_language_map(verb["display"], f"{path}.display")


def check_activity(value: Any, path: str) -> None:
    activity = _obj(value, path, {"objectType", "id", "definition"}, ("id",))
    if activity.get("objectType", "Activity") != "Activity":
        raise fail(f"{path}.objectType", "must be 'Activity'")
    check_iri(activity["id"], f"{path}.id")
    if "definition" in activity:
        check_definition(activity["definition"], f"{path}.definition")


def check_definition(value: Any, path: str) -> None:
    allowed = {
        "name",
        "description",
        "type",
        "moreInfo",
        "extensions",
        "interactionType",
        "correctResponsesPattern",
        *COMPONENT_LISTS,
    }
    # Data 2.4.4.1: every property of a definition is optional, so {} is a valid (if empty)
    # definition; ADL's XAPI-00001 reading (empty objects refused) does not apply here.
    definition = _obj(value, path, allowed, may_be_empty=True)
    for key in ("name", "description"):
        if key in definition:
            check_language_map(definition[key], f"{path}.{key}")
    if "type" in definition:
        check_iri(definition["type"], f"{path}.type")
    if "moreInfo" in definition:
        check_iri(definition["moreInfo"], f"{path}.moreInfo")
    if "extensions" in definition:
        check_extensions(definition["extensions"], f"{path}.extensions")
    interaction = definition.get("interactionType")
    if interaction is not None and not isinstance(interaction, str):
        raise fail(f"{path}.interactionType", "must be a string (an interaction type)")
    if interaction is not None and interaction not in vocab.INTERACTION_TYPES:
        raise fail(f"{path}.interactionType", f"'{interaction}' is not an interaction type")
    if "correctResponsesPattern" in definition:
        if interaction is None:
            raise fail(path, "correctResponsesPattern needs an interactionType")
        pattern = definition["correctResponsesPattern"]
        if not isinstance(pattern, list) or not all(isinstance(p, str) for p in pattern):
            raise fail(f"{path}.correctResponsesPattern", "must be an array of strings")
    for key in COMPONENT_LISTS:
        if key not in definition:
            continue
        if interaction is None:
            raise fail(path, f"{key} needs an interactionType")
        items = definition[key]
        if not isinstance(items, list):
            raise fail(f"{path}.{key}", "must be an array of interaction components")
        seen: set[str] = set()
        for i, item in enumerate(items):
            component = _obj(item, f"{path}.{key}[{i}]", {"id", "description"}, ("id",))
            check_string(component["id"], f"{path}.{key}[{i}].id")
            if component["id"] in seen:
                raise fail(f"{path}.{key}[{i}].id", "duplicate interaction component id")
            seen.add(component["id"])
            if "description" in component:
                check_language_map(component["description"], f"{path}.{key}[{i}].description")


def check_statement_ref(value: Any, path: str) -> None:
    ref = _obj(value, path, {"objectType", "id"}, ("objectType", "id"))
    if ref["objectType"] != "StatementRef":
        raise fail(f"{path}.objectType", "must be 'StatementRef'")
    check_uuid(ref["id"], f"{path}.id")


def check_object(value: Any, path: str, *, in_substatement: bool) -> None:
    if not isinstance(value, dict):
        raise fail(path, "must be a JSON object")
    kind = value.get("objectType", "Activity")
    if kind == "Activity":
        check_activity(value, path)
    elif kind in ("Agent", "Group"):
        check_agent(value, path)
    elif kind == "StatementRef":
        check_statement_ref(value, path)
    elif kind == "SubStatement":
        if in_substatement:
            raise fail(path, "a SubStatement cannot contain a SubStatement")
        check_statement_body(value, path, substatement=True)
    else:
        raise fail(f"{path}.objectType", f"'{kind}' is not a valid object type")


def check_result(value: Any, path: str) -> None:
    result = _obj(
        value, path, {"score", "success", "completion", "response", "duration", "extensions"}
    )
    if "score" in result:
        score = _obj(result["score"], f"{path}.score", {"scaled", "raw", "min", "max"})
        numbers = {k: check_number(v, f"{path}.score.{k}") for k, v in score.items()}
        if "scaled" in numbers and not -1 <= numbers["scaled"] <= 1:
            raise fail(f"{path}.score.scaled", "must be between -1 and 1")
        if "min" in numbers and "max" in numbers and numbers["min"] >= numbers["max"]:
            raise fail(f"{path}.score.min", "must be less than max")
        if "raw" in numbers:
            if "min" in numbers and numbers["raw"] < numbers["min"]:
                raise fail(f"{path}.score.raw", "must not be less than min")
            if "max" in numbers and numbers["raw"] > numbers["max"]:
                raise fail(f"{path}.score.raw", "must not be more than max")
    for key in ("success", "completion"):
        if key in result:
            check_bool(result[key], f"{path}.{key}")
    if "response" in result:
        check_string(result["response"], f"{path}.response")
    if "duration" in result and (
        not isinstance(result["duration"], str) or not DURATION_RE.match(result["duration"])
    ):
        raise fail(f"{path}.duration", "must be an ISO 8601 duration")
    if "extensions" in result:
        check_extensions(result["extensions"], f"{path}.extensions")


def check_context(value: Any, path: str, object_kind: str) -> None:
    allowed = {
        "registration",
        "instructor",
        "team",
        "contextActivities",
        "revision",
        "platform",
        "language",
        "statement",
        "extensions",
    }
    context = _obj(value, path, allowed)
    if "registration" in context:
        check_uuid(context["registration"], f"{path}.registration")
    if "instructor" in context:
        check_agent(context["instructor"], f"{path}.instructor")
    if "team" in context:
        check_agent(context["team"], f"{path}.team")
        if context["team"].get("objectType") != "Group":
            raise fail(f"{path}.team", "must be a Group")
    for key in ("revision", "platform"):
        if key in context:
            check_string(context[key], f"{path}.{key}")
            if object_kind != "Activity":
                # Data 2.4.6: "MUST only be used if the Statement's Object is an Activity".
                raise fail(f"{path}.{key}", "is only allowed when the object is an Activity")
    if "language" in context and (
        not isinstance(context["language"], str) or not valid_language_tag(context["language"])
    ):
        raise fail(f"{path}.language", "must be an RFC 5646 language tag")
    if "statement" in context:
        check_statement_ref(context["statement"], f"{path}.statement")
    if "extensions" in context:
        check_extensions(context["extensions"], f"{path}.extensions")
    if "contextActivities" in context:
        activities = _obj(
            context["contextActivities"],
            f"{path}.contextActivities",
            {"parent", "grouping", "category", "other"},
        )
        for key, item in list(activities.items()):
            items = [item] if isinstance(item, dict) else item
            if not isinstance(items, list):
                raise fail(f"{path}.contextActivities.{key}", "must be an Activity or an array")
            for i, activity in enumerate(items):
                check_activity(activity, f"{path}.contextActivities.{key}[{i}]")
            activities[key] = items


def check_attachments(value: Any, path: str) -> None:
    if not isinstance(value, list):
        raise fail(path, "must be an array")
    allowed = {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        attachment = _obj(
            item, p, allowed, ("usageType", "display", "contentType", "length", "sha2")
        )
        check_iri(attachment["usageType"], f"{p}.usageType")
        check_language_map(attachment["display"], f"{p}.display")
        if "description" in attachment:
            check_language_map(attachment["description"], f"{p}.description")
        content_type = attachment["contentType"]
        if not isinstance(content_type, str) or not MEDIA_TYPE_RE.match(content_type):
            raise fail(f"{p}.contentType", "must be an Internet media type")
        length = attachment["length"]
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise fail(f"{p}.length", "must be a non-negative integer")
        if not isinstance(attachment["sha2"], str) or not SHA2_RE.match(attachment["sha2"]):
            raise fail(f"{p}.sha2", "must be a hex SHA-2 hash")
        if "fileUrl" in attachment:
            check_iri(attachment["fileUrl"], f"{p}.fileUrl")


def check_statement_body(value: Any, path: str, *, substatement: bool) -> None:
    common = {"actor", "verb", "object", "result", "context", "timestamp", "attachments"}
    if substatement:
        allowed = {"objectType", *common}
    else:
        allowed = {"id", "stored", "authority", "version", *common}
    statement = _obj(value, path, allowed, ("actor", "verb", "object"))
    if "id" in statement:
        check_uuid(statement["id"], f"{path}.id")
    check_agent(statement["actor"], f"{path}.actor")
    check_verb(statement["verb"], f"{path}.verb")
    check_object(statement["object"], f"{path}.object", in_substatement=substatement)
    object_kind = statement["object"].get("objectType", "Activity")
    if statement["verb"]["id"] == VOIDED and object_kind != "StatementRef":
        raise fail(f"{path}.object", "a voiding statement's object must be a StatementRef")
    if "result" in statement:
        check_result(statement["result"], f"{path}.result")
    if "context" in statement:
        check_context(statement["context"], f"{path}.context", object_kind)
    if "timestamp" in statement:
        parse_timestamp(statement["timestamp"], f"{path}.timestamp")
    if "stored" in statement:
        parse_timestamp(statement["stored"], f"{path}.stored")
    if "authority" in statement:
        authority = statement["authority"]
        check_agent(authority, f"{path}.authority")
        if authority.get("objectType") == "Group" and (
            any(k in authority for k in IFIS) or len(authority.get("member", [])) != 2
        ):
            # Data 2.4.9: a Group authority is the OAuth pair: anonymous, exactly two Agents.
            raise fail(
                f"{path}.authority", "a Group authority is anonymous with exactly two members"
            )
    if "version" in statement and (
        not isinstance(statement["version"], str) or not VERSION_RE.match(statement["version"])
    ):
        raise fail(f"{path}.version", "must be a 1.0.x version")
    if "attachments" in statement:
        check_attachments(statement["attachments"], f"{path}.attachments")


def validate_statement(value: Any, path: str = "statement", *, copy: bool = True) -> dict[str, Any]:
    """Validate one statement and return it normalised (a deep copy unless ``copy=False``)."""
    statement: dict[str, Any] = copy_module.deepcopy(value) if copy else value
    check_statement_body(statement, path, substatement=False)
    return statement


# -- query parameters -----------------------------------------------------------------------


def parse_agent_param(text: str, name: str = "agent") -> dict[str, Any]:
    """An Agent or Group given as JSON in a query parameter; it must carry an identifier."""
    value: dict[str, Any] = loads(text, what=f"Parameter '{name}'")
    try:
        check_agent(value, name)
    except BadRequest as exc:
        raise BadRequest(exc.message.replace("Invalid statement: ", "Invalid parameter ")) from None
    if not any(k in value for k in IFIS):
        raise BadRequest(f"Parameter '{name}' must identify an Agent or Group (mbox, openid, ...).")
    return value


def parse_timestamp_param(text: str, name: str) -> datetime:
    try:
        return parse_timestamp(text, name)
    except BadRequest:
        raise BadRequest(f"Parameter '{name}' is not an ISO 8601 timestamp.") from None


def parse_uuid_param(text: str, name: str) -> str:
    if not UUID_RE.match(text):
        raise BadRequest(f"Parameter '{name}' is not a UUID.")
    return text.lower()


def parse_iri_param(text: str, name: str) -> str:
    if not IRI_RE.match(text):
        raise BadRequest(f"Parameter '{name}' is not an IRI.")
    return text


def parse_bool_param(text: str, name: str) -> bool:
    if text.lower() == "true":
        return True
    if text.lower() == "false":
        return False
    raise BadRequest(f"Parameter '{name}' must be true or false.")
