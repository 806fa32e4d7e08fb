"""Hashes and index keys computed from values, before the database is touched: IRIs and agents
as fixed-length hashes, a statement's filter keys with their roles, its canonical JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from collections.abc import Iterator
from typing import Any

import orjson

from xapi.lrs.exceptions import BadRequest
from xapi.lrs.validation import IFIS


def hkey(text: str) -> str:
    """A 128-bit hex hash: compact, fixed-length index keys for IRIs of any length."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def agent_identity(agent: dict[str, Any]) -> str | None:
    """``objectType|ifi|value`` of an Agent or identified Group; None for an anonymous Group."""
    kind = agent.get("objectType", "Agent")
    for ifi in IFIS:
        if ifi in agent:
            value = agent[ifi]
            if ifi == "account":
                return f"{kind}|account|{value.get('homePage')}|{value.get('name')}"
            return f"{kind}|{ifi}|{value}"
    return None


def agent_hash(agent: dict[str, Any]) -> str:
    identity = agent_identity(agent)
    if identity is None:
        raise BadRequest("The agent must carry an inverse functional identifier.")
    return hkey(identity)


def _agents_in(agent: dict[str, Any] | None) -> Iterator[str]:
    if not agent:
        return
    identity = agent_identity(agent)
    if identity:
        yield identity
    for member in agent.get("member", []) or []:
        member_identity = agent_identity(member)
        if member_identity:
            yield member_identity


def _context_activity_ids(context: dict[str, Any] | None) -> Iterator[str]:
    if not context:
        return
    for items in (context.get("contextActivities") or {}).values():
        for item in items:
            yield item["id"]


def _context_people(context: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The agents and groups of xAPI 2.0 ``contextAgents`` and ``contextGroups``: related_agents
    matches them (Communication 2.1.3, 2.0) and a withdrawal reaches them."""
    people: list[dict[str, Any] | None] = [
        item.get("agent") for item in context.get("contextAgents") or []
    ]
    people += [item.get("group") for item in context.get("contextGroups") or []]
    return people


# Roles of a value in a statement, kept with its index row so that one row serves several
# filters: agent= (the actor or the object), a withdrawal (everyone it must reach) and
# related_agents (those and the authority).
ROLE_MAIN = 1
ROLE_PERSON = 2
ROLE_RELATED = 4
_KEY = struct.Struct(">qB")  # a key and its roles, packed into lrs_statement.index_keys


def key_hash(text: str) -> int:
    """The signed 64-bit index key of ``kind:value``.

    With a few million distinct values the chance that any two share a key is below 1e-6,
    and a query only goes wrong if its own value shares one: 64 bits keep the index compact."""
    if len(text) <= 300:  # verbs, activities, learners recur: hashed once while recent
        return _cached_key_hash(text)
    return _key_hash(text)


def _key_hash(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


_cached_key_hash = functools.lru_cache(maxsize=8192)(_key_hash)


def statement_keys(stmt: dict[str, Any]) -> dict[str, int]:
    """The filter keys (``kind:value``) of one statement and their roles, before inheriting those
    of a StatementRef target. Agents are ``g:``; verb ``v:``; registration ``r:``; activities
    ``a:``, the object activity with ROLE_MAIN (``activity=``), every activity with ROLE_RELATED
    (``related_activities``): one index row per activity, as for agents (schema 3; schema 2 had
    an ``o:`` and an ``ra2:`` row for the object activity)."""
    keys: dict[str, int] = {}

    def add(key: str, roles: int) -> None:
        keys[key] = keys.get(key, 0) | roles

    actor, obj, context = stmt["actor"], stmt["object"], stmt.get("context") or {}
    kind = obj.get("objectType", "Activity")
    # agent= matches the actor or the object (an Agent or identified Group).
    for identity in [
        agent_identity(actor),
        agent_identity(obj) if kind in ("Agent", "Group") else None,
    ]:
        if identity:
            add("g:" + identity, ROLE_MAIN | ROLE_RELATED)
    add("v:" + stmt["verb"]["id"], ROLE_MAIN)
    if kind == "Activity":  # activity= matches the object activity; related_activities any
        add("a:" + obj["id"], ROLE_MAIN | ROLE_RELATED)
    if context.get("registration"):
        add("r:" + context["registration"].lower(), ROLE_MAIN)
    # Everyone a withdrawal must reach: actor, object, instructor, team and group members,
    # also inside a SubStatement. related_agents adds the authority.
    people: list[dict[str, Any] | None] = [actor, context.get("instructor"), context.get("team")]
    people += _context_people(context)  # xAPI 2.0
    activities = list(_context_activity_ids(context))
    if kind in ("Agent", "Group"):
        people.append(obj)
    elif kind == "Activity":
        activities.append(obj["id"])
    elif kind == "SubStatement":
        sub_obj, sub_ctx = obj["object"], obj.get("context") or {}
        people += [obj["actor"], sub_ctx.get("instructor"), sub_ctx.get("team")]
        people += _context_people(sub_ctx)
        activities += list(_context_activity_ids(sub_ctx))
        sub_kind = sub_obj.get("objectType", "Activity")
        if sub_kind in ("Agent", "Group"):
            people.append(sub_obj)
        elif sub_kind == "Activity":
            activities.append(sub_obj["id"])
    # Supersets, so that every filter is one key and a query walks one (key, seq) range.
    for person in people:
        for identity in _agents_in(person):
            add("g:" + identity, ROLE_PERSON | ROLE_RELATED)
    for identity in _agents_in(stmt.get("authority")):
        add("g:" + identity, ROLE_RELATED)
    for activity_id in activities:
        add("a:" + activity_id, ROLE_RELATED)
    return keys


def hashed_keys(stmt: dict[str, Any]) -> dict[int, int]:
    """:func:`statement_keys` as index keys."""
    result: dict[int, int] = {}
    for text, roles in statement_keys(stmt).items():
        key = key_hash(text)
        result[key] = result.get(key, 0) | roles
    return result


def pack_keys(keys: dict[int, int]) -> bytes:
    return b"".join(_KEY.pack(key, roles) for key, roles in keys.items())


def unpack_keys(blob: bytes | None) -> dict[int, int]:
    return dict(_KEY.iter_unpack(blob)) if blob else {}


LRS_SET = ("stored", "authority", "version", "id")


def compact_json(value: Any, *, sort_keys: bool = False) -> str:
    """``value`` as compact JSON, non-ASCII as is: orjson's text, which is json.dumps's (with
    these options) except that floats below 1e-4 have no zero-padded exponent (``1e-7``, not
    ``1e-07``). Where orjson refuses (integers beyond 64 bits, lone surrogates) or writes
    ``null`` (also what it makes of NaN in a statement built in Python), json.dumps writes it."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:  # orjson.JSONEncodeError is one
        text = b"null"
    if b"null" in text:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    return text.decode()


def core_json(stmt: dict[str, Any]) -> str:
    """The statement as received minus what the LRS sets, as canonical JSON (sorted keys).

    Its hash decides whether two statements with one id are 'the same'; the stored body is
    this text with id, version, stored and authority put in front (one JSON encoding)."""
    return compact_json({k: v for k, v in stmt.items() if k not in LRS_SET}, sort_keys=True)


def legacy_core_json(stmt: dict[str, Any]) -> str:
    """:func:`core_json` as json.dumps wrote it before orjson: the fingerprint of a statement
    stored then, to compare with when the current one differs (:func:`legacy_fingerprint`)."""
    body = {k: v for k, v in stmt.items() if k not in LRS_SET}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(stmt: dict[str, Any]) -> str:
    return hashlib.sha256(core_json(stmt).encode()).hexdigest()


def legacy_fingerprint(stmt: dict[str, Any]) -> str:
    """The fingerprint of ``stmt`` as json.dumps's text made it before orjson (the text differs
    for floats below 1e-4): a stored row with it is the same statement."""
    return hashlib.sha256(legacy_core_json(stmt).encode()).hexdigest()
