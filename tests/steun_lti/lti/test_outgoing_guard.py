"""Issue 14: every request made for a launch (key set, token endpoint, AGS) is checked and pinned.

A launch names AGS URLs; the tool sends the platform's bearer token there. A line item on
127.0.0.1 (or any host but the platform's) received it. Now such a score is refused with a clear
reason and nothing is sent; addresses the policy forbids are never contacted, also for the key
set at launch, and a name that resolves elsewhere the second time is not followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from steun_lti.lti import score_queue
from steun_lti.lti.ags import ScoreSender, report_completion
from steun_lti.lti.http import AddressPolicy, GuardedSession, UnsafeTarget, checked_address
from steun_lti.lti.launch import LaunchContext
from steun_lti.lti.models import LtiLaunch
from steun_lti.lti.score_queue import LtiScore
from steun_lti.lti.service import LtiServices
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from tests.steun_lti.lti.conftest import Tool, registered_tool
from tests.support.platform import AGS_SCOPES, FakePlatform, LaunchSpec

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


@pytest.fixture
def trap() -> Iterator[FakePlatform]:
    """Another server on 127.0.0.1 that records whatever reaches it."""
    fake = FakePlatform().start()
    yield fake
    fake.stop()


def _launch(tool: Tool, spec: LaunchSpec) -> LaunchContext:
    assert tool.launch(spec).status_code == 303
    with tool.database.session() as session:
        row = session.scalars(select(LtiLaunch).order_by(LtiLaunch.created_at.desc())).first()
        assert row is not None
        return LaunchContext.from_dict(row.context)


def _only_score(tool: Tool) -> LtiScore:
    with tool.database.session() as session:
        [row] = session.scalars(select(LtiScore)).all()
        session.expunge(row)
        return row


@pytest.mark.parametrize("name", ["lineitem", "lineitems"])
def test_a_line_item_off_the_platforms_origin_gets_nothing(
    tool: Tool, trap: FakePlatform, name: str
) -> None:
    endpoint: dict[str, Any] = {
        "scope": AGS_SCOPES,
        "lineitems": f"{tool.platform.issuer}/ags/course-1/lineitems",
    }
    endpoint[name] = f"{trap.issuer}/ags/course-1/lineitems" + ("/1" if name == "lineitem" else "")
    launch = _launch(tool, LaunchSpec(sub="teacher-7", claims={AGS_CLAIM: endpoint}))
    tool.platform.requests.clear()
    with tool.app.test_request_context():
        assert report_completion(launch) is False
    assert trap.requests == []  # the bearer token never left for 127.0.0.1:<other port>
    assert "POST /token" not in tool.platform.requests and tool.platform.scores == []
    row = _only_score(tool)
    assert row.status == score_queue.REFUSED
    assert row.last_error and f"AGS {name} URL is not on the platform's origin" in row.last_error


def test_a_forbidden_address_is_never_contacted(
    tool: Tool, settings: Settings, database: Database
) -> None:
    """The fake platform is on 127.0.0.1, allowed here by the test setting; without it, the
    score is refused before the token endpoint or the line item is asked anything."""
    launch = _launch(tool, LaunchSpec(sub="teacher-8"))
    strict = tool.app.config["STEUN_SETTINGS"].model_copy(
        update={"registration_allow_private_addresses": False}
    )
    with tool.database.session() as session:
        queued = score_queue.enqueue_score(
            session,
            key="k-strict",
            registration_id=launch.registration_id or 0,
            endpoint={"scope": AGS_SCOPES, "lineitem": launch.ags_lineitem},
            resource_link_id=launch.resource_link_id,
            target=None,
            sealed_subject=LtiServices(strict).seal("teacher-8"),
            given=1,
            maximum=1,
        )
        session.commit()
    tool.platform.requests.clear()
    result = ScoreSender(tool.database, LtiServices(strict)).send_now(ignore_backoff=True)
    assert result.refused == 1 and result.delivered == 0
    assert tool.platform.requests == []
    with tool.database.session() as session:
        row = session.get(LtiScore, queued)
        assert row is not None and "non-public address" in (row.last_error or "")


def test_the_key_set_at_a_forbidden_address_is_not_fetched(
    settings: Settings, database: Database, platform: FakePlatform
) -> None:
    tool, server = registered_tool(
        settings, database, platform, registration_allow_private_addresses=False
    )
    try:
        response = tool.launch(LaunchSpec())
        assert response.status_code == 502 and "platform_unreachable" in response.text
        assert "GET /jwks.json" not in platform.requests
        with database.session() as session:
            assert session.scalars(select(LtiLaunch)).all() == []  # nothing stored
    finally:
        server.stop()


def test_the_guarded_session_connects_to_the_address_it_checked(
    platform: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: checked as 127.0.0.1, then the name answers 192.0.2.1; the request still
    goes to the checked address (and the policy decides about the name once)."""
    import socket
    import types

    from steun_lti.lti import http as lti_http

    real = socket.getaddrinfo
    name = "lms.rebind.test"

    def at_check(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == name else host, port, *args, **kwargs)

    def at_use(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("192.0.2.1" if host == name else host, port, *args, **kwargs)

    checking = types.SimpleNamespace(
        getaddrinfo=at_check, gaierror=socket.gaierror, IPPROTO_TCP=socket.IPPROTO_TCP
    )
    monkeypatch.setattr(lti_http, "socket", checking)
    monkeypatch.setattr(socket, "getaddrinfo", at_use)
    port = platform.issuer.rsplit(":", 1)[1]
    session = GuardedSession(AddressPolicy(allow_private=True), timeout=(2, 5))
    answer = session.get(f"http://{name}:{port}/jwks.json")
    assert answer.status_code == 200 and "keys" in answer.json()
    with pytest.raises(UnsafeTarget):
        GuardedSession(AddressPolicy()).get(f"http://{name}:{port}/jwks.json")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "file:///etc/passwd",
        "http://user:pw@example.com/x",
    ],
)
def test_the_default_policy_allows_public_addresses_only(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        checked_address(url, AddressPolicy())
