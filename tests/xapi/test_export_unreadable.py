"""Issue 14: a statement the export cannot read (wrong types, NaN/Infinity, a number beyond a
double: stored by an older version or another LRS) is skipped with a warning and counted; it
never stops the export of everyone else's answers."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from tests.support.browser import serve_wsgi
from tests.xapi.test_export import BASE, SPEC, dataset, read_csv
from xapi.client import LrsClient, UnreadableStatement
from xapi.export import ScoringSpec, collect, export_all
from xapi.vocab import Iris


def _bad_statements() -> list[Any]:
    good = dataset()
    completed = next(
        s
        for s in good
        if s["verb"]["id"].endswith("/completed") and "/instrument/" in s["object"]["id"]
    )
    nan_scores = copy.deepcopy(completed)
    nan_scores["timestamp"] = "2027-02-15T23:00:00+00:00"  # the latest: it would win
    result = nan_scores.setdefault("result", {})
    result.setdefault("extensions", {})[Iris(BASE).extension("scores")] = {"x": float("nan")}
    course = next(s for s in good if "duration" in (s.get("result") or {}))
    endless = copy.deepcopy(course)
    endless["result"]["duration"] = "PT" + "9" * 400 + "S"
    actor = {"account": {"homePage": BASE, "name": "p-a"}}
    return [
        "not a statement",
        {"id": "verb-as-text", "verb": "answered", "actor": actor, "object": {"id": "x"}},
        {"id": "object-id-as-object", "actor": actor, "object": {"id": {"a": 1}}},
        UnreadableStatement(id="marker", reason="non-finite number"),
        nan_scores,
        endless,
    ]


def test_collect_skips_and_counts_unreadable_statements(tmp_path: Path, caplog: Any) -> None:
    clean_dir, mixed_dir = tmp_path / "clean", tmp_path / "mixed"
    spec = ScoringSpec.from_dict(SPEC)
    export_all(collect(dataset(), BASE), spec, clean_dir)
    mixed = dataset()
    for i, bad in enumerate(_bad_statements()):
        mixed.insert(2 * i, bad)
    with caplog.at_level(logging.WARNING, logger="xapi.export"):
        data = collect(mixed, BASE)
    assert data.unreadable == 6
    assert data.statements_read == len(mixed)
    assert "unreadable statement verb-as-text skipped" in caplog.text
    export_all(data, spec, mixed_dir)
    for name in ("wide.csv", "long.csv"):
        assert read_csv(mixed_dir / name) == read_csv(clean_dir / name), name


@pytest.fixture
def other_lrs() -> Iterator[str]:
    """An LRS that serves NaN, Infinity and a 400-digit integer in its pages (as an older
    Steun, or another LRS, can), in two pages."""
    statements = dataset()
    bad_nan = copy.deepcopy(statements[0])
    bad_nan["id"] = "00000000-0000-4000-8000-00000000000a"
    bad_nan.setdefault("result", {})["score"] = {"raw": float("nan")}
    bad_inf = copy.deepcopy(statements[1])
    bad_inf["id"] = "00000000-0000-4000-8000-00000000000b"
    bad_inf.setdefault("result", {})["score"] = {"raw": float("inf")}
    huge = copy.deepcopy(statements[2])
    huge["id"] = "00000000-0000-4000-8000-00000000000c"
    huge.setdefault("context", {}).setdefault("extensions", {})["http://example.org/n"] = 10**400
    half = len(statements) // 2
    pages = {
        "1": {"statements": [bad_nan, *statements[:half], bad_inf], "more": "/xapi/statements?p=2"},
        "2": {"statements": [*statements[half:], huge], "more": ""},
    }

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        page = pages[request.args.get("p", "1")]
        return Response(json.dumps(page), content_type="application/json")(environ, start_response)

    server = serve_wsgi(app)
    try:
        yield server.url + "/xapi/"
    finally:
        server.stop()


def test_the_export_reads_on_past_pages_that_are_not_strict_json(
    other_lrs: str, tmp_path: Path
) -> None:
    with LrsClient(other_lrs, "key", "secret") as client:
        data = collect(client.iter_statements(), BASE)
    assert data.unreadable == 3
    assert data.statements_read == len(dataset()) + 3
    export_all(data, ScoringSpec.from_dict(SPEC), tmp_path / "out")
    clean = tmp_path / "clean"
    export_all(collect(dataset(), BASE), ScoringSpec.from_dict(SPEC), clean)
    assert read_csv(tmp_path / "out" / "wide.csv") == read_csv(clean / "wide.csv")
