"""Validation of a statement before it is queued: xAPI 1.0.3 structure plus Steun's own rules.

The checks are those that catch our own mistakes early (an LRS would refuse the statement with
400 and it would be parked): ids, IRIs, language maps, interaction definitions, the timestamp, and
the privacy rules — an ``account`` actor only, no mbox, mbox_sha1sum, openid or name.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn

from dateutil import parser as dateparser

from xapi import vocab
from xapi.exceptions import StatementInvalid

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
_LANG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_DURATION = re.compile(
    r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)
_STATEMENT_KEYS = {
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
}
_FORBIDDEN_IFI = ("mbox", "mbox_sha1sum", "openid", "name")


def _fail(path: str, what: str) -> NoReturn:
    raise StatementInvalid(f"{path}: {what}")


def _iri(value: Any, path: str) -> None:
    if not isinstance(value, str) or not _IRI.match(value):
        _fail(path, f"must be an IRI, got {value!r}")


def _uuid(value: Any, path: str) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        _fail(path, f"must be a UUID, got {value!r}")
    if not isinstance(value, str):
        _fail(path, "must be a UUID string")


def _lang_map(value: Any, path: str) -> None:
    if not isinstance(value, Mapping) or not value:
        _fail(path, "must be a non-empty language map")
    for key, text in value.items():
        if not _LANG.match(str(key)):
            _fail(f"{path}.{key}", "is not a language tag")
        if not isinstance(text, str):
            _fail(f"{path}.{key}", "must be a string")


def _extensions(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        _fail(path, "must be an object")
    for key in value:
        _iri(key, f"{path} key")


def _timestamp(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "must be an ISO 8601 string")
    try:
        parsed = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        _fail(path, f"is not ISO 8601: {value!r}")
    if parsed.tzinfo is None:
        _fail(path, "must carry a time zone")


def _actor(actor: Any, path: str) -> None:
    if not isinstance(actor, Mapping):
        _fail(path, "must be an object")
    if actor.get("objectType", "Agent") != "Agent":
        _fail(f"{path}.objectType", "must be Agent")
    for key in _FORBIDDEN_IFI:
        if key in actor:
            _fail(f"{path}.{key}", "is not allowed: actors are pseudonymous accounts only")
    account = actor.get("account")
    if not isinstance(account, Mapping) or set(account) != {"homePage", "name"}:
        _fail(f"{path}.account", "must be {homePage, name}")
    _iri(account["homePage"], f"{path}.account.homePage")
    if not isinstance(account["name"], str) or not account["name"]:
        _fail(f"{path}.account.name", "must be a non-empty pseudonym")


def _activity(activity: Any, path: str) -> None:
    if not isinstance(activity, Mapping):
        _fail(path, "must be an object")
    if activity.get("objectType", "Activity") != "Activity":
        _fail(f"{path}.objectType", "must be Activity")
    _iri(activity.get("id"), f"{path}.id")
    definition = activity.get("definition")
    if definition is None:
        return
    if not isinstance(definition, Mapping):
        _fail(f"{path}.definition", "must be an object")
    if "type" in definition:
        _iri(definition["type"], f"{path}.definition.type")
    for key in ("name", "description"):
        if key in definition:
            _lang_map(definition[key], f"{path}.definition.{key}")
    itype = definition.get("interactionType")
    if itype is not None and itype not in vocab.INTERACTION_TYPES:
        _fail(f"{path}.definition.interactionType", f"unknown interaction type {itype!r}")
    if "correctResponsesPattern" in definition:
        crp = definition["correctResponsesPattern"]
        if not isinstance(crp, list) or not crp:
            _fail(
                f"{path}.definition.correctResponsesPattern",
                "must be omitted for a survey (an empty list means every answer is wrong)",
            )
    for key in ("choices", "scale", "source", "target", "steps"):
        if key not in definition:
            continue
        if itype is None:
            _fail(f"{path}.definition.{key}", "needs an interactionType")
        entries = definition[key]
        if not isinstance(entries, list):
            _fail(f"{path}.definition.{key}", "must be a list")
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
                _fail(f"{path}.definition.{key}[{i}]", "needs a string id")
            if entry["id"] in seen:
                _fail(f"{path}.definition.{key}[{i}].id", f"duplicate id {entry['id']!r}")
            seen.add(entry["id"])
            if "description" in entry:
                _lang_map(entry["description"], f"{path}.definition.{key}[{i}].description")
    if "extensions" in definition:
        _extensions(definition["extensions"], f"{path}.definition.extensions")


def validate_statement(statement: Mapping[str, Any]) -> None:
    """Raise :class:`StatementInvalid` naming the first field that is wrong."""
    if not isinstance(statement, Mapping):
        raise StatementInvalid("statement: must be an object")
    unknown = set(statement) - _STATEMENT_KEYS
    if unknown:
        _fail("statement", f"unknown properties {sorted(unknown)}")
    _uuid(statement.get("id"), "id")
    _actor(statement.get("actor"), "actor")
    verb = statement.get("verb")
    if not isinstance(verb, Mapping):
        _fail("verb", "is required")
    _iri(verb.get("id"), "verb.id")
    if "display" in verb:
        _lang_map(verb["display"], "verb.display")
    obj = statement.get("object")
    if not isinstance(obj, Mapping):
        _fail("object", "is required")
    if obj.get("objectType") == "StatementRef":
        _uuid(obj.get("id"), "object.id")
    else:
        if verb.get("id") == vocab.VOIDED.id:
            _fail("object", "a voiding statement must target a StatementRef")
        _activity(obj, "object")
    if "timestamp" in statement:
        _timestamp(statement["timestamp"], "timestamp")
    result = statement.get("result")
    if result is not None:
        if not isinstance(result, Mapping):
            _fail("result", "must be an object")
        if "response" in result and not isinstance(result["response"], str):
            _fail("result.response", "must be a string")
        for key in ("completion", "success"):
            if key in result and not isinstance(result[key], bool):
                _fail(f"result.{key}", "must be true or false")
        if "duration" in result and not (
            isinstance(result["duration"], str) and _DURATION.match(result["duration"])
        ):
            _fail("result.duration", f"is not an ISO 8601 duration: {result['duration']!r}")
        if "extensions" in result:
            _extensions(result["extensions"], "result.extensions")
    context = statement.get("context")
    if context is not None:
        if not isinstance(context, Mapping):
            _fail("context", "must be an object")
        if "registration" in context:
            _uuid(context["registration"], "context.registration")
        if "language" in context and not _LANG.match(str(context["language"])):
            _fail("context.language", "is not a language tag")
        for key, refs in (context.get("contextActivities") or {}).items():
            if key not in ("parent", "grouping", "category", "other"):
                _fail(f"context.contextActivities.{key}", "is not a context activity kind")
            if not isinstance(refs, list):
                refs = [refs]
            for i, ref in enumerate(refs):
                _activity(ref, f"context.contextActivities.{key}[{i}]")
        if "extensions" in context:
            _extensions(context["extensions"], "context.extensions")
        if "instructor" in context:
            _actor(context["instructor"], "context.instructor")
