"""Sessions that can end (issue 14), each attack of the issue replayed and now refused.

- a launch id in a URL is not a bearer credential: it never overrides the browser's own
  session, and without the launching frame's key it opens nothing;
- every request re-checks the launch (record, expiry, deployment, registration);
- sessions last hours, not weeks; a sign-out ends them.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select, update

from steun_lti.lti.models import LtiDeployment, LtiLaunch, LtiRegistration
from tests.steun_lti.lti.conftest import Tool
from tests.support.platform import LaunchSpec

LAUNCH_PARAM = "lti_launch"


def token_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def newest_launch_id(tool: Tool) -> str:
    with tool.database.session() as session:
        row = session.scalars(select(LtiLaunch).order_by(LtiLaunch.created_at.desc())).first()
        assert row is not None
        return str(row.id)


def cookie_launch(tool: Tool, sub: str, consent: bool = True) -> requests.Session:
    """A teacher launched in a browser that keeps cookies, and (by default) consented."""
    response = tool.launch(LaunchSpec(sub=sub, custom={"target": "dashboard"}))
    http: requests.Session = response.http
    if consent:
        page = http.get(tool.url + "/study/consent")
        done = http.post(
            tool.url + "/study/consent", data={"agree": "yes", "csrf_token": token_of(page.text)}
        )
        assert done.ok
    return http


def url_launch(tool: Tool, sub: str) -> dict[str, Any]:
    """A launch in a frame that keeps no cookie: through the platform's storage, as in an LMS
    iframe with third-party cookies blocked. Returns what the landing page hands its script."""
    http = requests.Session()
    hint = tool.platform.prepare(LaunchSpec(sub=sub, custom={"target": "dashboard"}))
    login = http.post(
        tool.url + "/lti/login",
        data=tool.platform.login_params(hint, storage_target="_parent"),
        allow_redirects=False,
    )
    data = json.loads(
        re.search(r'id="steun-login-data">(.*?)</script>', login.text).group(1)  # type: ignore[union-attr]
    )
    fields = tool.authorize(data["auth_url"])
    http.cookies.clear()  # the frame keeps no cookie: the binding comes from platform storage
    landing = http.post(
        tool.url + "/lti/launch",
        data={**fields, "lti_storage_binding": data["secret"]},
        allow_redirects=False,
    )
    assert landing.status_code == 200, landing.text[:500]
    assert "set-cookie" not in {k.lower() for k in landing.headers}
    found = json.loads(
        re.search(r'id="steun-resume-data">(.*?)</script>', landing.text).group(1)  # type: ignore[union-attr]
    )
    assert found["key"] and found["key"] not in found["next"]
    # The frame's key goes to the platform's storage the login named, not only sessionStorage.
    assert found["storage_target"] == "_parent"
    return dict(found)


def resume(tool: Tool, launch: dict[str, Any], next_url: str) -> requests.Response:
    """What the landing/resume page's script posts: the key, for a one-time ticket."""
    return requests.post(
        tool.url + "/session/resume",
        data={LAUNCH_PARAM: launch["launch_id"], "lti_launch_key": launch["key"], "next": next_url},
        allow_redirects=False,
    )


# -- the launch id in a URL ---------------------------------------------------------------


def test_a_cookie_launch_id_pasted_into_another_browser_opens_nothing(tool: Tool) -> None:
    cookie_launch(tool, "owner-1")
    launch_id = newest_launch_id(tool)
    colleague = requests.Session()  # the pasted link, in another browser
    page = colleague.get(f"{tool.url}/study/children?{LAUNCH_PARAM}={launch_id}")
    assert page.status_code == 401
    assert "Open Steun opnieuw vanuit je leeromgeving" in page.text
    assert "Traceback" not in page.text and "Leerling" not in page.text
    # nor as a header, nor on a form post
    assert (
        colleague.get(tool.url + "/study/", headers={"X-Steun-Launch": launch_id}).status_code
        == 401
    )
    posted = colleague.post(
        f"{tool.url}/study/children?{LAUNCH_PARAM}={launch_id}", data={"reasons": ["poverty"]}
    )
    assert posted.status_code == 401


def test_a_launch_id_in_the_url_never_overrides_the_browsers_own_session(tool: Tool) -> None:
    other = cookie_launch(tool, "owner-2", consent=False)  # noqa: F841  (a launch of someone else)
    foreign = newest_launch_id(tool)
    mine = cookie_launch(tool, "me-2")
    page = mine.get(f"{tool.url}/study/children?{LAUNCH_PARAM}={foreign}")
    # my own session (consented) is used: the other launch (not consented) would go to consent
    assert page.status_code == 200 and page.url.endswith(
        "/study/children?" + LAUNCH_PARAM + "=" + foreign
    )
    assert foreign not in page.text.replace(page.url, "")  # its id is not passed on in links
    assert 'action="/study/children"' in page.text


def test_a_launch_in_the_url_needs_the_launching_frames_key(tool: Tool) -> None:
    launch = url_launch(tool, "frame-1")
    launch_id = launch["launch_id"]
    assert launch["next"].startswith("/study/")
    # the frame's script shows the key and gets a one-time ticket for its page
    sent = resume(tool, launch, launch["next"])
    assert sent.status_code == 303
    location = sent.headers["Location"]
    assert f"{LAUNCH_PARAM}={launch_id}" in location and "lti_ticket=" in location
    assert launch["key"] not in location
    frame = requests.Session()
    page = frame.get(tool.url + location, allow_redirects=False)
    assert page.status_code in (200, 302, 303)
    consent = frame.get(
        tool.url
        + resume(tool, launch, f"/study/consent?{LAUNCH_PARAM}={launch_id}").headers["Location"]
    )
    assert consent.status_code == 200 and "Informatie en toestemming" in consent.text
    assert f'action="/study/consent?{LAUNCH_PARAM}={launch_id}"' in consent.text  # links keep it
    assert 'data-launch="' + launch_id + '"' in consent.text  # the script that adds the key
    assert consent.headers["Referrer-Policy"] == "no-referrer"
    # the same URL again (history, proxy log, pasted): the ticket is used, so only the resume
    # page, which opens nothing by itself
    again = requests.get(consent.url)
    assert again.status_code == 200 and "Informatie en toestemming" not in again.text
    assert 'id="steun-resume-data"' in again.text and launch["key"] not in again.text
    # without the key the resume is refused; a wrong key too
    stranger = {**launch, "key": "not-the-key"}
    assert resume(tool, stranger, "/study/").status_code == 401
    assert resume(tool, {**launch, "key": ""}, "/study/").status_code == 401
    # forms and fetch carry the key: they work; without it they are refused
    token = token_of(consent.text)
    url = f"{tool.url}/study/consent?{LAUNCH_PARAM}={launch_id}"
    refused = requests.post(url, data={"agree": "yes", "csrf_token": token}, allow_redirects=False)
    assert refused.status_code == 401
    agreed = requests.post(
        url,
        data={"agree": "yes", "csrf_token": token, "lti_launch_key": launch["key"]},
        allow_redirects=False,
    )
    assert agreed.status_code in (302, 303)
    assert f"{LAUNCH_PARAM}={launch_id}" in agreed.headers["Location"]
    # the redirect after a proven form post brings the next page's ticket along
    assert "lti_ticket=" in agreed.headers["Location"]
    followed = requests.get(tool.url + agreed.headers["Location"], allow_redirects=False)
    assert followed.status_code in (200, 302, 303) and 'id="steun-resume-data"' not in followed.text
    children = f"{tool.url}/study/children?{LAUNCH_PARAM}={launch_id}"
    header = {"X-Steun-Launch-Key": launch["key"], "Accept": "text/html"}
    assert requests.get(children, headers=header).status_code == 200
    # resume never leaves the site
    assert resume(tool, launch, "//evil.example/x").status_code == 401
    assert resume(tool, launch, "https://evil.example/x").status_code == 401


# -- every request re-checks the launch ---------------------------------------------------


def _set(tool: Tool, statement: Any) -> None:
    with tool.database.session() as session:
        session.execute(statement)
        session.commit()


def test_a_deactivated_deployment_or_registration_ends_the_session(tool: Tool) -> None:
    http = cookie_launch(tool, "teacher-d")
    assert http.get(tool.url + "/study/children").status_code == 200
    _set(tool, update(LtiDeployment).values(active=False))
    page = http.get(tool.url + "/study/children")
    assert page.status_code == 401
    assert "Je sessie is afgelopen" in page.text and "Your session has ended" in page.text
    assert "Traceback" not in page.text
    saved = http.post(
        tool.url + "/study/children",
        data={"reasons": ["poverty"]},
        headers={"Accept": "application/json"},
    )
    assert saved.status_code == 401 and "leeromgeving" in saved.json()["message"]
    _set(tool, update(LtiDeployment).values(active=True))
    http = cookie_launch(tool, "teacher-d", consent=False)
    assert http.get(tool.url + "/study/children").status_code == 200  # consent was kept
    _set(tool, update(LtiRegistration).values(active=False))
    assert http.get(tool.url + "/study/children").status_code == 401


def test_an_old_cookie_without_its_launch_record_saves_nothing(tool: Tool) -> None:
    http = cookie_launch(tool, "teacher-e")
    page = http.get(tool.url + "/study/children")
    token = token_of(page.text)
    from sqlalchemy import delete

    _set(tool, delete(LtiLaunch))  # purged (expired) or ended
    added = http.post(
        tool.url + "/study/children",
        data={"reasons": ["poverty"], "csrf_token": token},
        allow_redirects=False,
    )
    assert added.status_code == 401
    with tool.database.session() as session:
        from steun_lti.study.models import Child

        assert session.scalars(select(Child)).first() is None


def test_an_expired_launch_ends_the_session(tool: Tool) -> None:
    http = cookie_launch(tool, "teacher-f")
    past = datetime.now(UTC) - timedelta(minutes=1)
    _set(tool, update(LtiLaunch).values(expires_at=past))
    assert http.get(tool.url + "/study/children").status_code == 401


def test_sessions_last_hours_not_weeks(tool: Tool) -> None:
    assert tool.app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    cookie_launch(tool, "teacher-g", consent=False)
    with tool.database.session() as session:
        row = session.scalars(select(LtiLaunch)).one()
        created = row.created_at.replace(tzinfo=UTC)
        lasts = row.expires_at.replace(tzinfo=UTC) - created
    assert timedelta(hours=7, minutes=59) < lasts <= timedelta(hours=8, seconds=5)


def test_the_session_length_is_a_setting(settings: Any, database: Any, platform: Any) -> None:
    from tests.steun_lti.lti.conftest import registered_tool

    tool, server = registered_tool(settings, database, platform, session_hours=2)
    try:
        assert tool.app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=2)
        cookie_launch(tool, "teacher-h", consent=False)
        with tool.database.session() as session:
            row = session.scalars(select(LtiLaunch)).one()
            lasts = row.expires_at.replace(tzinfo=UTC) - row.created_at.replace(tzinfo=UTC)
        assert timedelta(hours=1, minutes=59) < lasts <= timedelta(hours=2, seconds=5)
    finally:
        server.stop()


# -- sign-out -----------------------------------------------------------------------------


def test_signing_out_ends_the_session_everywhere(tool: Tool) -> None:
    http = cookie_launch(tool, "teacher-i")
    page = http.get(tool.url + "/study/children")
    assert 'id="steun-signout"' in page.text
    stolen = dict(http.cookies)  # a copy of the cookie, taken before the sign-out
    out = http.post(tool.url + "/session/logout", data={"csrf_token": token_of(page.text)})
    assert out.status_code == 200 and "Je bent afgemeld" in out.text
    assert http.get(tool.url + "/study/children").status_code == 401
    replay = requests.get(tool.url + "/study/children", cookies=stolen)
    assert replay.status_code == 401
    with tool.database.session() as session:
        assert session.scalars(select(LtiLaunch)).first() is None


def test_sign_out_needs_the_csrf_token(tool: Tool) -> None:
    http = cookie_launch(tool, "teacher-j")
    assert http.post(tool.url + "/session/logout", data={}).status_code == 400
    assert http.get(tool.url + "/study/children").status_code == 200


# -- logs ---------------------------------------------------------------------------------


def test_launch_ids_and_tickets_are_masked_in_access_logs() -> None:
    from steun_lti.web.sessions import MaskLaunchIds

    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [x] "%s" %s -',
        ("127.0.0.1", "GET /study/?lti_launch=SECRETID&lti_ticket=TICKET&lang=en HTTP/1.1", "200"),
        None,
    )
    MaskLaunchIds().filter(record)
    line = record.getMessage()
    assert "SECRETID" not in line and "TICKET" not in line and "lang=en" in line


# -- what the cookie holds ------------------------------------------------------------------


def test_the_session_cookie_names_the_launch_not_the_person(tool: Tool) -> None:
    """Issue 16: the cookie keeps the launch id, its deployment and the way back to the LMS;
    the context (pseudonym, roles) is read back from the launch record every request checks.
    A cookie of the older kind (the context itself) still works while its record lasts."""
    back = "https://lms.example/course/7"
    response = tool.launch(LaunchSpec(sub="teacher-k", return_url=back))
    http: requests.Session = response.http
    serializer = tool.app.session_interface.get_signing_serializer(tool.app)  # type: ignore[attr-defined]
    cookie = http.cookies.get(tool.app.config["SESSION_COOKIE_NAME"])
    kept = serializer.loads(cookie)["steun_launch"]
    launch_id = newest_launch_id(tool)
    with tool.database.session() as session:
        context = session.get(LtiLaunch, launch_id).context
    assert json.loads(kept) == [launch_id, context["deployment_id"], back]
    assert context["pseudonym"] not in kept and "teacher" not in kept
    assert http.get(tool.url + "/study/consent").status_code == 200

    # The older cookie: the context as one JSON object.
    older = requests.Session()
    older.cookies.set(
        tool.app.config["SESSION_COOKIE_NAME"],
        serializer.dumps({"steun_launch": json.dumps(context)}),
    )
    assert older.get(tool.url + "/study/consent").status_code == 200

    # The record gone (signed out elsewhere, purged): the page still leads back to the LMS.
    from sqlalchemy import delete

    _set(tool, delete(LtiLaunch))
    ended = http.get(tool.url + "/study/consent")
    assert ended.status_code == 401
    assert "https://lms.example/course/7?lti_errormsg=" in ended.text.replace("&amp;", "&")
