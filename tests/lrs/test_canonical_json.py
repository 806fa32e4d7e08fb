"""The stored JSON is written by orjson (compact_json): the same text as json.dumps but for the
exponent of floats below 1e-4, and a statement stored with json.dumps's text before is still
'the same statement' when it is sent again."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from xapi.lrs.exceptions import Conflict
from xapi.lrs.store import Credential, Store
from xapi.lrs.store.keys import compact_json, core_json, legacy_core_json


def _dumps(value: Any, sort_keys: bool = False) -> str:
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": {"é": 'ü\u2028\x00\x1f"\\/', "Z": [1, 2.5, True, False], "z": "😀"}},
        {"n": 2**64 - 1, "m": -(2**63), "f": [0.1, 1e16, 1e22, 1.5e300, -0.0, 5e-324, 100.0]},
        {"big": 2**70},  # orjson refuses: json.dumps writes it
        {"lone": "\ud800"},  # orjson refuses: json.dumps writes it
        {"ext": None, "nan": float("nan")},  # null (or NaN) in it: json.dumps writes it
    ],
)
def test_compact_json_is_json_dumps_text(value: Any) -> None:
    assert compact_json(value) == _dumps(value)
    assert compact_json(value, sort_keys=True) == _dumps(value, True)


def test_small_floats_differ_only_in_the_exponent() -> None:
    assert compact_json([1e-7, 9.99e-5]) == "[1e-7,0.0000999]"
    assert json.loads(compact_json([1e-7, 9.99e-5])) == [1e-7, 9.99e-5]


def _statement(score: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:a@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": "http://x.example/a"},
        "result": {"score": {"raw": score}},
    }


def test_a_statement_stored_with_json_dumps_text_is_the_same_when_sent_again(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'lrs.sqlite3'}")
    store.create_schema()
    credential = Credential(1, "k", frozenset(), "k")
    try:
        stmt = _statement(1e-7)
        assert core_json(stmt) != legacy_core_json(stmt)
        store.store_statements([dict(stmt)], credential)
        # As an older version stored it: the fingerprint of json.dumps's text.
        legacy = hashlib.sha256(legacy_core_json(stmt).encode()).hexdigest()
        with store.engine.begin() as conn:
            conn.execute(
                text("UPDATE lrs_statement SET fingerprint = :f WHERE id = :i"),
                {"f": legacy, "i": stmt["id"]},
            )
        assert store.store_statements([dict(stmt)], credential) == ([stmt["id"]], 0)
        changed = {**stmt, "result": {"score": {"raw": 2e-7}}}
        with pytest.raises(Conflict):
            store.store_statements([changed], credential)
    finally:
        store.dispose()
