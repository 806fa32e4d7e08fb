"""AGS without a line item in the launch: find the link's line item (by resource link and tag) or
create it, within the scopes the platform granted; real signed launches and service tokens."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from steun_lti.lti import ags
from steun_lti.lti.adapter import AgsClient, _next_page
from steun_lti.lti.ags import COMPLETION_LABEL, COMPLETION_TAG, report_completion
from steun_lti.lti.launch import LaunchContext
from steun_lti.lti.models import LtiLaunch, LtiLineItem
from tests.steun_lti.lti.conftest import Tool
from tests.support.platform import AGS_SCOPES, LINEITEM_READ_SCOPE, LaunchSpec

LINEITEM, RESULT, SCORE = AGS_SCOPES


def _launch(tool: Tool, spec: LaunchSpec) -> LaunchContext:
    assert tool.launch(spec).status_code == 303
    with tool.database.session() as session:
        row = session.scalars(select(LtiLaunch).order_by(LtiLaunch.created_at.desc())).first()
        assert row is not None
        return LaunchContext.from_dict(row.context)


def _report(tool: Tool, launch: LaunchContext, **kwargs: float) -> bool:
    with tool.app.test_request_context():
        return report_completion(launch, **kwargs)


def _lineitems_of(tool: Tool, link: str) -> list[dict[str, object]]:
    return [i for i in tool.platform.lineitems.values() if i.get("resourceLinkId") == link]


def plain_link(**kwargs: object) -> LaunchSpec:
    return LaunchSpec(ags_lineitem=False, **kwargs)  # type: ignore[arg-type]


def test_line_item_is_created_once_for_a_plain_link(tool: Tool) -> None:
    first = _launch(tool, plain_link(sub="teacher-1", resource_link_id="link-plain"))
    assert first.ags_lineitem is None and first.ags_lineitems
    assert _report(tool, first) is True
    [item] = _lineitems_of(tool, "link-plain")
    assert item["label"] == COMPLETION_LABEL == "Steun in het onderwijs – voltooid"
    assert item["scoreMaximum"] == 1 and item["tag"] == COMPLETION_TAG
    score = tool.platform.scores[-1]
    assert score["lineitem"] == item["id"] and score["userId"] == "teacher-1"
    assert score["scoreGiven"] == 1 and score["activityProgress"] == "Completed"
    # A colleague on the same link: the line item is found, not made again.
    second = _launch(tool, plain_link(sub="teacher-2", resource_link_id="link-plain"))
    assert _report(tool, second) is True
    assert len(_lineitems_of(tool, "link-plain")) == 1
    assert tool.platform.scores[-1]["lineitem"] == item["id"]
    assert tool.platform.requests.count("POST /ags/course-1/lineitems") == 1


def test_existing_line_item_is_matched_by_link_and_tag(tool: Tool) -> None:
    base = f"{tool.platform.issuer}/ags/course-1/lineitems"
    tool.platform.lineitems[base + "/90"] = {
        "id": base + "/90",
        "label": "Teacher's own column",
        "scoreMaximum": 10,
        "resourceLinkId": "link-x",
    }
    tool.platform.lineitems[base + "/91"] = {
        "id": base + "/91",
        "label": "Steun",
        "scoreMaximum": 1,
        "resourceLinkId": "link-x",
        "tag": COMPLETION_TAG,
    }
    tool.platform.lineitems_filtered = False  # an LMS that ignores the query filters
    launch = _launch(tool, plain_link(resource_link_id="link-x"))
    assert _report(tool, launch) is True
    assert tool.platform.scores[-1]["lineitem"] == base + "/91"
    assert "POST /ags/course-1/lineitems" not in tool.platform.requests


def test_line_items_are_followed_over_pages(tool: Tool) -> None:
    base = f"{tool.platform.issuer}/ags/course-1/lineitems"
    for n in range(1, 6):
        tool.platform.lineitems[f"{base}/{n}"] = {
            "id": f"{base}/{n}",
            "label": f"Other {n}",
            "scoreMaximum": 1,
            "resourceLinkId": "Link-MixedCase",
            "tag": COMPLETION_TAG if n == 5 else "other",
        }
    tool.platform.lineitems_filtered = False
    tool.platform.lineitems_page_size = 2
    launch = _launch(tool, plain_link(resource_link_id="Link-MixedCase"))
    assert _report(tool, launch) is True
    assert tool.platform.scores[-1]["lineitem"] == f"{base}/5"
    assert tool.platform.requests.count("GET /ags/course-1/lineitems") == 3


def test_read_only_scope_finds_but_never_creates(tool: Tool) -> None:
    scopes = [LINEITEM_READ_SCOPE, RESULT, SCORE]
    launch = _launch(tool, plain_link(resource_link_id="link-ro", ags_scopes=scopes))
    assert _report(tool, launch) is False
    assert _lineitems_of(tool, "link-ro") == []
    assert "POST /ags/course-1/lineitems" not in tool.platform.requests
    base = f"{tool.platform.issuer}/ags/course-1/lineitems"
    tool.platform.lineitems[base + "/77"] = {
        "id": base + "/77",
        "label": "Steun",
        "scoreMaximum": 1,
        "resourceLinkId": "link-ro",
        "tag": COMPLETION_TAG,
    }
    assert _report(tool, launch) is True
    assert tool.platform.scores[-1]["lineitem"] == base + "/77"


def test_without_line_item_scopes_nothing_is_asked_or_kept(tool: Tool) -> None:
    launch = _launch(tool, plain_link(resource_link_id="link-s", ags_scopes=[SCORE]))
    before = list(tool.platform.requests)
    assert _report(tool, launch) is False
    assert tool.platform.requests == before
    with tool.database.session() as session:
        row = session.get(LtiLaunch, launch.launch_id)
        assert row is not None and row.ags_subject is None  # no reason to keep the user id


def test_progress_over_waves_is_a_partial_score(tool: Tool) -> None:
    launch = _launch(tool, plain_link(resource_link_id="link-p"))
    assert _report(tool, launch, given=1, maximum=3) is True
    score = tool.platform.scores[-1]
    assert (score["scoreGiven"], score["scoreMaximum"]) == (1, 3)
    assert score["activityProgress"] == "InProgress"
    assert score["gradingProgress"] == "FullyGraded"


def test_next_page_stays_on_the_platform() -> None:
    lineitems = "https://lms.example/api/lineitems?x=1"
    assert _next_page('<https://lms.example/api/lineitems?Page=2>; rel="next"', lineitems) == (
        "https://lms.example/api/lineitems?Page=2"
    )
    link = '<https://lms.example/p1>; rel="prev", <https://lms.example/p3>; rel=next'
    assert _next_page(link, lineitems) == "https://lms.example/p3"
    assert _next_page('<https://evil.example/steal>; rel="next"', lineitems) is None
    assert _next_page('<http://lms.example/p2>; rel="next"', lineitems) is None
    assert _next_page(None, lineitems) is None


def test_found_line_item_is_remembered(tool: Tool) -> None:
    first = _launch(tool, plain_link(sub="t-1", resource_link_id="link-m"))
    assert _report(tool, first) is True
    gets = tool.platform.requests.count("GET /ags/course-1/lineitems")
    second = _launch(tool, plain_link(sub="t-2", resource_link_id="link-m"))
    assert _report(tool, second) is True
    assert tool.platform.requests.count("GET /ags/course-1/lineitems") == gets  # no search again
    assert tool.platform.scores[-1]["userId"] == "t-2"
    with tool.database.session() as session:
        [row] = session.scalars(select(LtiLineItem)).all()
        assert row.url == tool.platform.scores[-1]["lineitem"]


def test_column_deleted_in_the_lms_is_made_again(tool: Tool) -> None:
    launch = _launch(tool, plain_link(resource_link_id="link-d"))
    assert _report(tool, launch) is True
    [old] = _lineitems_of(tool, "link-d")
    tool.platform.lineitems.pop(str(old["id"]))  # a teacher deleted the column
    assert _report(tool, launch) is True
    [new] = _lineitems_of(tool, "link-d")
    assert new["id"] != old["id"] and tool.platform.scores[-1]["lineitem"] == new["id"]


def _claim_row(tool: Tool, launch: LaunchContext, claimed_at: datetime) -> str:
    """Insert the claim another worker would hold for this link; return its key."""
    with tool.app.test_request_context():
        from steun_lti.lti import flow
        from steun_lti.plumbing.db import db_session

        session = db_session()
        row = flow.load_launch(session, launch.launch_id or "")
        assert row is not None
        client = AgsClient.__new__(AgsClient)
        client.lineitems = str(row.services["ags"]["lineitems"])  # type: ignore[index]
        key = ags.LineItems(session, row.registration_id, client, ags.wanted_lineitem(launch)).key
        session.add(
            LtiLineItem(
                key=key, registration_id=row.registration_id, url=None, claimed_at=claimed_at
            )
        )
        session.commit()
        return key


def test_a_worker_waits_for_the_column_another_is_creating(
    tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch = _launch(tool, plain_link(resource_link_id="link-w"))
    key = _claim_row(tool, launch, datetime.now(UTC))
    made_by_other = f"{tool.platform.issuer}/ags/course-1/lineitems/500"
    tool.platform.lineitems[made_by_other] = {"id": made_by_other, "scoreMaximum": 1}

    def other_worker_finishes(seconds: float) -> None:
        with tool.database.session() as session:
            row = session.get(LtiLineItem, key)
            assert row is not None
            row.url = made_by_other

    monkeypatch.setattr(ags, "wait", other_worker_finishes)
    assert _report(tool, launch) is True
    assert tool.platform.scores[-1]["lineitem"] == made_by_other
    assert "POST /ags/course-1/lineitems" not in tool.platform.requests


def test_a_stale_claim_is_taken_over(tool: Tool) -> None:
    launch = _launch(tool, plain_link(resource_link_id="link-st"))
    _claim_row(tool, launch, datetime.now(UTC) - timedelta(minutes=5))
    assert _report(tool, launch) is True
    assert len(_lineitems_of(tool, "link-st")) == 1


def test_two_teachers_finishing_at_once_make_one_column(
    tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers (threads with their own sessions) report for the same new link together."""
    launches = [
        _launch(tool, plain_link(sub=f"teacher-{n}", resource_link_id="link-c")) for n in (1, 2)
    ]
    other_waits = threading.Event()
    # The creator's POST is held until the other worker is waiting on the claim.
    tool.platform.on_lineitem_create = lambda: other_waits.wait(timeout=20) or None
    real_wait = ags.wait

    def waiting(seconds: float) -> None:
        other_waits.set()
        real_wait(0.02)

    monkeypatch.setattr(ags, "wait", waiting)
    results: list[bool] = []
    go = threading.Barrier(2)

    def worker(launch: LaunchContext) -> None:
        go.wait()
        results.append(_report(tool, launch))

    threads = [threading.Thread(target=worker, args=(launch,)) for launch in launches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [True, True] and other_waits.is_set()
    [item] = _lineitems_of(tool, "link-c")
    assert tool.platform.requests.count("POST /ags/course-1/lineitems") == 1
    assert {s["userId"] for s in tool.platform.scores if s["lineitem"] == item["id"]} == {
        "teacher-1",
        "teacher-2",
    }
