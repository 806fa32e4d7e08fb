"""Several gunicorn workers share one store: concurrent writers neither fail nor lose updates."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.lrs.conftest import Lrs, statement, unique_iri


def test_concurrent_merges_of_one_document_lose_nothing(lrs: Lrs) -> None:
    """Communication 2.2 JSON merge under concurrency: every POSTed key survives."""
    params = {
        "activityId": unique_iri(),
        "agent": {"mbox": "mailto:c@example.org"},
        "stateId": "answers",
    }

    def post(i: int) -> int:
        return lrs.request(
            "POST", "activities/state", params=params, json_body={f"q{i}": i}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(24)))
    assert statuses == [204] * 24
    assert lrs.get("activities/state", params=params).json() == {f"q{i}": i for i in range(24)}


def test_the_same_statements_sent_at_once_are_stored_once(lrs: Lrs) -> None:
    """Communication 2.1.2 under concurrency (a client retrying while the first attempt is still
    running): one request stores, the others find identical statements; none fails."""
    registration = str(uuid.uuid4())
    batch = [
        statement(id=str(uuid.uuid4()), context={"registration": registration}) for _ in range(20)
    ]

    def post(_: int) -> int:
        return lrs.post(batch).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(post, range(6)))
    assert set(statuses) <= {200, 204} and 200 in statuses
    stored = lrs.get(params={"registration": registration, "limit": 100}).json()["statements"]
    assert sorted(s["id"] for s in stored) == sorted(s["id"] for s in batch)
