"""Key rotation on both sides, the JWKS cache, and state shared by several tool processes."""

from __future__ import annotations

import requests
from sqlalchemy import select

from steun_lti.lti import keys
from steun_lti.lti.models import LtiToolKey
from steun_lti.lti.service import services
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from tests.steun_lti.lti.conftest import Tool, make_tool
from tests.support.platform import FakePlatform, LaunchSpec


def test_platform_key_rotation_is_picked_up_with_one_refetch(tool: Tool) -> None:
    assert tool.launch().status_code == 303
    with tool.app.app_context():
        cache = services().jwks_cache
    fetches = cache.fetches
    assert tool.launch().status_code == 303
    assert cache.fetches == fetches  # cached
    tool.platform.rotate_key()
    assert tool.launch().status_code == 303
    assert cache.fetches == fetches + 1  # one refetch for the unknown kid


def test_unknown_kids_do_not_hammer_the_platform(tool: Tool) -> None:
    from urllib.parse import parse_qs, urlsplit

    assert tool.launch().status_code == 303
    before = len([r for r in tool.platform.requests if r.endswith("/jwks.json")])
    for _ in range(3):
        http = tool.browser()
        spec = LaunchSpec()
        query = parse_qs(urlsplit(tool.login(http, tool.platform.prepare(spec))).query)
        claims = tool.platform.claims_for(spec, query["nonce"][0])
        token = tool.platform.sign(claims, kid="bogus")
        response = tool.post_launch(http, {"id_token": token, "state": query["state"][0]})
        assert response.status_code == 400
    after = len([r for r in tool.platform.requests if r.endswith("/jwks.json")])
    assert after - before == 1


def test_tool_key_rotation_keeps_the_previous_key_published(tool: Tool) -> None:
    first = requests.get(tool.url + "/lti/jwks.json").json()["keys"]
    assert len(first) == 1
    with tool.database.session() as session:
        newest = keys.rotate(session)
    second = requests.get(tool.url + "/lti/jwks.json").json()["keys"]
    assert [k["kid"] for k in second] == [newest.kid, first[0]["kid"]]
    with tool.database.session() as session:
        keys.rotate(session)
        published = keys.active_keys(session)
        assert len(published) == 2
        retired = session.scalars(
            select(LtiToolKey).where(LtiToolKey.retired_at.is_not(None))
        ).all()
        assert [k.kid for k in retired] == [first[0]["kid"]]


def test_login_on_one_worker_launch_on_another(
    tool: Tool, settings: Settings, database: Database, platform: FakePlatform
) -> None:
    """Two app processes sharing one database behave like gunicorn workers."""
    other, server = make_tool(settings, database, platform)
    try:
        http = tool.browser()
        fields = tool.authorize(tool.login(http, platform.prepare(LaunchSpec())))
        response = other.post_launch(http, fields)
        assert response.status_code == 303
        assert tool.post_launch(http, fields).status_code == 400  # replay on the first worker
    finally:
        server.stop()


def test_session_cookie_stays_small_over_many_launches(tool: Tool) -> None:
    http = tool.browser()
    for _ in range(8):
        response = tool.launch(LaunchSpec(), http=http)
        assert response.status_code == 303
    size = sum(len(c.value) for c in http.cookies)
    assert size < 1500


def test_registration_changes_reach_the_next_launch_at_once(tool: Tool) -> None:
    """Nothing of a registration is kept per process for a launch (benchmarks/launch_profile.py
    made it cheaper, not cached): switched off between login and launch, it is refused; given
    another key set (a re-registered platform key), the next launch verifies against that one."""
    from sqlalchemy import update

    from steun_lti.lti.models import LtiRegistration

    assert tool.launch().status_code == 303
    http = tool.browser()
    fields = tool.authorize(tool.login(http, tool.platform.prepare(LaunchSpec())))
    with tool.database.engine.begin() as conn:  # as `steun platform` in another process would
        conn.execute(update(LtiRegistration).values(active=False))
    refused = tool.post_launch(http, fields)
    assert 400 <= refused.status_code < 500 and "Traceback" not in refused.text
    with tool.database.engine.begin() as conn:
        conn.execute(update(LtiRegistration).values(active=True))
    assert tool.launch().status_code == 303

    other = FakePlatform().start()  # the platform's keys now published at another URL
    try:
        old_keys = tool.platform.keys
        tool.platform.keys = other.keys
        with tool.database.engine.begin() as conn:
            conn.execute(update(LtiRegistration).values(key_set_url=other.jwks_url))
        assert tool.launch().status_code == 303
        tool.platform.keys = old_keys  # a key only the old key set had: no longer accepted
        assert tool.launch().status_code == 400
    finally:
        other.stop()
