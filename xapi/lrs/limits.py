"""What the LRS accepts at most, and its strict JSON parser.

:class:`LrsLimits` is the LRS's own configuration of its limits (``create_app(limits=...)``):
the largest request body per resource and the deepest JSON nesting. :func:`loads` is the one
JSON parser for everything the LRS receives: besides the nesting limit it refuses what Python's
``json`` would accept but JSON does not have (``NaN``, ``Infinity``, ``-Infinity``) and numbers
no double can hold (``1e400``, a 400-digit integer). Such a value, once stored, would make every
statement page that holds it invalid JSON for every reader (docs/lrs.md, "Limits").
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from xapi.lrs.exceptions import BadRequest

MIB = 1024 * 1024
# A double holds integers up to about 1.8e308, which has 309 digits.
_MAX_INT_DIGITS = 309


@dataclass(frozen=True)
class LrsLimits:
    """The LRS's limits. Bodies are counted in bytes as received (a form-encoded alternate
    syntax request counts its encoded form)."""

    # POST/PUT statements, attachments included (multipart/mixed): a batch of some thousands
    # of ordinary statements, or one statement with a few MB of attachments.
    statement_body: int = 10 * MIB
    # State, Activity Profile and Agent Profile documents, and every other resource's body.
    document_body: int = 1 * MIB
    # Arrays and objects inside each other in a request body; a statement needs about 8, the
    # rest is room for extensions. (JSON in a query parameter, such as ``agent``, and documents
    # read back for a merge always have the default.)
    json_depth: int = 64
    # Seconds a client is told to wait (Retry-After) when the database is unavailable.
    retry_after: int = 5

    def body_limit(self, resource: str) -> int:
        return self.statement_body if resource == "statements" else self.document_body


DEFAULT_LIMITS = LrsLimits()


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a JSON number; numbers must be finite.")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"The number {text[:40]} is too large (more than a double holds).")
    return value


def _parse_int(text: str) -> int:
    if len(text) < 20:
        return int(text)  # the usual case, no check needed
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or abs(value := int(text)) > sys.float_info.max:
        raise BadRequest(f"The number {text[:40]}... is too large (more than a double holds).")
    return value


# orjson reads integers beyond 64 bits as floats (Python's json keeps them exact): a text with
# a run of 19 digits or more, anywhere, is parsed by json instead (it is rare: a UUID has 12).
# Digits become "0", the rest " ", and the run is searched for (several times a regex's speed).
_DIGITS_ONLY = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"0" * 19


def loads(
    data: bytes | str,
    *,
    max_depth: int = DEFAULT_LIMITS.json_depth,
    what: str = "The request body",
) -> Any:
    """Parse JSON strictly (see the module's docstring); :class:`BadRequest` if refused.

    Bytes go through orjson first, which refuses NaN, Infinity and numbers beyond a double by
    itself and is several times faster than json with its hooks. Whatever orjson refuses, and
    a text with long digit runs, is parsed again by the json path below, so what is accepted,
    the values it gives and every error message stay those of that path."""
    if type(data) is bytes and not has_long_digit_run(data):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the json path gives the answer (and the message)
        else:
            if too_deep(data, max_depth):
                raise BadRequest(f"The JSON is nested more than {max_depth} levels deep.")
            return value
    return _strict_json(data, max_depth, what)


def has_long_digit_run(data: bytes) -> bool:
    """Whether ``data`` has 19 digits in a row anywhere (where orjson and json may differ)."""
    return _LONG_RUN in data.translate(_DIGITS_ONLY)


def _strict_json(data: bytes | str, max_depth: int, what: str) -> Any:
    try:
        value = json.loads(
            data,
            parse_constant=_refuse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except RecursionError:
        raise BadRequest(f"The JSON is nested more than {max_depth} levels deep.") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"{what} is not valid JSON.") from None
    check_depth(value, data, max_depth)
    return value


# The bytes that open and close arrays and objects as parentheses; strings' quotes kept.
_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


def too_deep(text: bytes, max_depth: int) -> bool:
    """Whether valid JSON ``text`` nests arrays and objects more than ``max_depth`` levels,
    read from the text, without walking the parsed value: escaped backslashes and quotes are
    dropped, then everything but brackets and quotes, then what was inside strings; each pass
    then removes the innermost level (``()``: empty arrays and objects) of what is left
    (``bytes.replace`` does not see the pairs its own removals make)."""
    if text.count(b"[") + text.count(b"{") <= max_depth:
        return False  # cannot be deeper than the brackets it has
    shape = text.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_AS_PARENS, _NOT_STRUCTURE)
    # A string without brackets is now "": removing those pairs leaves no quote exactly when
    # no string holds a bracket (the usual case); otherwise strings are cut out one by one.
    bare = shape.replace(b'""', b"")
    shape = bare if b'"' not in bare else b"".join(shape.split(b'"')[::2])
    for _ in range(max_depth):
        shape = shape.replace(b"()", b"")
        if not shape:
            return False
    return True


def check_depth(value: Any, text: bytes | str, max_depth: int) -> None:
    """Refuse arrays and objects nested more than ``max_depth`` levels. Walked level by level
    over the containers only (a statement batch costs about as much as parsing it)."""
    opening = (b"[", b"{") if isinstance(text, bytes) else ("[", "{")
    if text.count(opening[0]) + text.count(opening[1]) <= max_depth:  # type: ignore[arg-type]
        return  # cannot be deeper than the brackets it has (a single statement: no walk)
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            raise BadRequest(f"The JSON is nested more than {max_depth} levels deep.")
        deeper: list[Any] = []
        for item in level:
            children = item.values() if type(item) is dict else item
            deeper += [c for c in children if type(c) is dict or type(c) is list]
        level = deeper
