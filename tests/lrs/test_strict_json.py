"""The fast path of the LRS's strict JSON parser (orjson and a depth check read from the text)
gives what the json path gives, value for value and refusal for refusal."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from xapi.lrs.exceptions import BadRequest
from xapi.lrs.limits import _strict_json, loads, too_deep

TRICKY = [
    b"NaN",
    b"[Infinity]",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"[1E400]",
    b"9" * 401,
    b"1" + b"0" * 30,
    b"-9223372036854775809",
    b"18446744073709551616",
    b"9223372036854775807",
    b"[1.5e308, 5e-324, 1e-400, -0.0, -0]",
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b'"\\ud83d\\ude00"',
    b'"\xff"',
    b"\xef\xbb\xbf[1]",
    '["é"]'.encode("utf-16"),
    b'{"a": 1, "a": 2}',
    b"[1,]",
    b" [1] ",
    b"",
    b'"\\u0000"',
    b'{"a": "[[[[", "b": "\\\\", "c": "\\"[{"}',
    b"[" * 64 + b"]" * 64,
    b"[" * 65 + b"]" * 65,
    b"[" * 2000 + b"]" * 2000,
    b'{"a":' * 64 + b"1" + b"}" * 64,
    b'{"a":' * 65 + b"1" + b"}" * 65,
    b'[{"x": "\\\\\\"]]]]"}, [[["a\\\\"]]]]',
]


def outcome(parse: Any, data: bytes, depth: int = 64) -> Any:
    try:
        value = (
            parse(data, max_depth=depth)
            if parse is loads
            else parse(data, depth, "The request body")
        )
    except BadRequest as exc:
        return ("refused", exc.message)
    return ("accepted", json.dumps(value), _types(value))


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return type(value).__name__


@pytest.mark.parametrize("data", TRICKY)
def test_tricky_texts_as_the_json_path(data: bytes) -> None:
    assert outcome(loads, data) == outcome(_strict_json, data)


def _random_json(rng: random.Random, depth: int) -> str:
    kind = rng.randrange(9 if depth < 70 else 5)
    if kind == 0:
        return rng.choice(["0", "-0", "1.5", "-2e-7", "3E+2", "12345678901234567890", "1e999"])
    if kind == 1:
        return rng.choice(["true", "false", "null", "NaN"])
    if kind in (2, 3, 4):
        chars = rng.choices(["[", "]", "{", "}", '\\"', "\\\\", "a", "é", "\\u005b", " ", ","], k=6)
        return '"' + "".join(chars) + '"'
    items = [_random_json(rng, depth + 1) for _ in range(rng.randrange(4 if depth < 10 else 2))]
    if kind in (5, 6):
        return "[" + ",".join(items) + "]"
    return "{" + ",".join(f'"k{i}":{v}' for i, v in enumerate(items)) + "}"


def test_random_texts_as_the_json_path() -> None:
    rng = random.Random(16)
    for _ in range(3000):
        depth = rng.choice([2, 3, 5, 8, 64])
        data = _random_json(rng, 0).encode()
        assert outcome(loads, data, depth) == outcome(_strict_json, data, depth), data


def test_depth_read_from_the_text() -> None:
    assert not too_deep(b"[" * 3 + b"]" * 3, 3)
    assert too_deep(b"[" * 4 + b"]" * 4, 3)
    assert not too_deep(b'[[["]]]]]]"]]]', 3)
    assert too_deep(b'[{"a":[{"b":"\\\\"}]}]', 3)
    assert not too_deep(b'[{"a":["\\"[{[{"]}]', 3)
