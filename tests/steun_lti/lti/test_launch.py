"""The login → launch flow against the fake platform over real HTTP."""

from __future__ import annotations

from sqlalchemy import select, text

from steun_lti.lti.models import LtiDeployment, LtiLaunch
from tests.steun_lti.lti.conftest import Tool
from tests.support.platform import ADMINISTRATOR, LEARNER, LaunchSpec


def test_teacher_launch_lands_on_the_study(tool: Tool) -> None:
    response = tool.launch(LaunchSpec())
    assert response.status_code == 303, response.text[:800]
    assert response.headers["Location"].endswith("/study/consent")  # first launch
    page = response.http.get(tool.url + response.headers["Location"])
    assert page.status_code == 200
    assert "Informatie en toestemming" in page.text  # first launch: the information letter


def test_a_learner_takes_part_like_anyone(tool: Tool) -> None:
    """A staff course enrols its participating teachers as students: they launch as Learners."""
    response = tool.launch(LaunchSpec(sub="teacher-as-student", roles=[LEARNER]))
    assert response.headers["Location"].endswith("/study/consent")  # first launch
    page = response.http.get(tool.url + response.headers["Location"])
    assert page.status_code == 200
    assert "Informatie en toestemming" in page.text
    assert "voor leerkrachten" not in page.text
    # ... but only the course's staff see its participation counts
    overview = response.http.get(tool.url + "/study/course", headers={"Accept": "text/html"})
    assert overview.status_code == 403


def test_administrator_counts_as_teacher(tool: Tool) -> None:
    response = tool.launch(LaunchSpec(roles=[ADMINISTRATOR]))
    assert response.headers["Location"].endswith("/study/consent")  # first launch


def test_login_by_get_works_too(tool: Tool) -> None:
    http = tool.browser()
    hint = tool.platform.prepare(LaunchSpec())
    fields = tool.authorize(tool.login(http, hint, method="GET"))
    assert tool.post_launch(http, fields).status_code == 303


def test_nothing_personal_is_stored(tool: Tool) -> None:
    tool.launch(LaunchSpec(sub="moodle-user-42"))
    dump = []
    with tool.database.engine.connect() as conn:
        for table in ("lti_launch", "lti_login_state", "audit_event", "lti_deployment"):
            dump += [str(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    blob = "\n".join(dump)
    for secret in ("moodle-user-42", "Jansen", "jansen@school.example", "sis-123", "eyJ"):
        assert secret not in blob
    with tool.database.session() as session:
        launch = session.scalars(select(LtiLaunch)).one()
        assert str(launch.context["pseudonym"]).startswith("p-")


def test_pseudonym_is_stable_per_user_and_differs_between_users(tool: Tool) -> None:
    tool.launch(LaunchSpec(sub="a"))
    tool.launch(LaunchSpec(sub="a"))
    tool.launch(LaunchSpec(sub="b"))
    with tool.database.session() as session:
        pseudonyms = [
            r.context["pseudonym"]
            for r in session.scalars(select(LtiLaunch).order_by(LtiLaunch.created_at))
        ]
    assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2]


def test_second_launch_of_the_same_browser_skips_the_cookie_check(tool: Tool) -> None:
    http = tool.browser()
    first = tool.launch(LaunchSpec(), http=http)
    assert first.status_code == 303
    hint = tool.platform.prepare(LaunchSpec())
    response = http.post(
        tool.url + "/lti/login", data=tool.platform.login_params(hint), allow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(tool.platform.auth_url)


def test_unknown_deployment_is_created_inactive_and_refused(tool: Tool) -> None:
    response = tool.launch(
        LaunchSpec(deployment_id="new-course-copy", return_url="https://lms.example/back")
    )
    assert response.status_code == 403
    assert "nog niet geactiveerd" in response.text
    assert "new-course-copy" in response.text
    assert "lti_errormsg=" in response.text and "lti_errorlog=deployment_inactive" in response.text
    with tool.database.session() as session:
        deployment = session.scalars(
            select(LtiDeployment).where(LtiDeployment.deployment_id == "new-course-copy")
        ).one()
        assert deployment.active is False
        deployment.active = True
    assert tool.launch(LaunchSpec(deployment_id="new-course-copy")).status_code == 303


def test_english_error_page_by_accept_language(tool: Tool) -> None:
    http = tool.browser()
    hint = tool.platform.prepare(LaunchSpec(deployment_id="other"))
    fields = tool.authorize(tool.login(http, hint))
    response = tool.post_launch(http, fields, **{"Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 403
    first_h1 = response.text.split("<h1>")[1].split("</h1>")[0]
    assert "not activated" in first_h1


def test_lti_pages_for_the_admin(tool: Tool) -> None:
    import requests

    page = requests.get(tool.url + "/lti/")
    assert page.status_code == 200
    assert tool.url + "/lti/login" in page.text and tool.url + "/lti/jwks.json" in page.text
    config = requests.get(tool.url + "/lti/config.json").json()
    assert config["oidc_initiation_url"] == tool.url + "/lti/login"
    assert config["target_link_uri"] == tool.url + "/lti/launch"
    keys = requests.get(tool.url + "/lti/jwks.json").json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["kid"] and "d" not in k for k in keys)


def test_expired_states_and_launches_are_purged(tool: Tool) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from steun_lti.lti import flow
    from steun_lti.lti.models import LtiLoginState

    assert tool.launch(LaunchSpec()).status_code == 303
    past = datetime.now(UTC) - timedelta(seconds=1)
    with tool.database.session() as session:
        session.execute(update(LtiLaunch).values(expires_at=past))
        session.execute(update(LtiLoginState).values(expires_at=past))
    with tool.database.session() as session:
        flow.purge_expired(session)
        assert session.scalars(select(LtiLaunch)).all() == []
        assert session.scalars(select(LtiLoginState)).all() == []


def test_login_continues_without_scripts_through_a_form(tool: Tool) -> None:
    """Some LMS proxies and script-less clients: the login page is a form with a visible button."""
    import html
    import re
    from urllib.parse import urlencode

    http = tool.browser()
    hint = tool.platform.prepare(LaunchSpec())
    page = http.post(
        tool.url + "/lti/login", data=tool.platform.login_params(hint), allow_redirects=False
    )
    assert page.status_code == 200
    form = re.search(
        r'<form id="steun-continue-form" method="get" action="([^"]+)">(.*?)</form>',
        page.text,
        re.S,
    )
    assert form, page.text[:800]
    assert 'id="steun-continue"' in form.group(2)  # the button a person can press
    fields = [
        (html.unescape(name), html.unescape(value))
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2))
    ]
    action = html.unescape(form.group(1))
    launch = tool.post_launch(http, tool.authorize(action + "?" + urlencode(fields)))
    assert launch.status_code == 303, launch.text[:500]


def test_the_login_page_escapes_every_value_it_is_given(tool: Tool) -> None:
    """The cookie-check page is rendered once per process with markers (issue 16); each login's
    values go in escaped, exactly as a rendering of the page would put them."""
    import html
    import json
    import re

    from tests.support.platform import LaunchSpec as Spec

    pages = []
    for hint_text in ('a"><script>alert(1)</script>', "b&c'd<e>"):
        http = tool.browser()
        hint = tool.platform.prepare(Spec(sub=hint_text))
        params = {**tool.platform.login_params(hint), "lti_message_hint": hint_text}
        page = http.post(tool.url + "/lti/login", data=params, allow_redirects=False)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "steun-login-slot-" not in page.text
        fields = dict(
            (html.unescape(name), html.unescape(value))
            for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page.text)
        )
        assert fields["lti_message_hint"] == hint_text
        data = json.loads(
            html.unescape(re.search(r'id="steun-login-data">(.*?)</script>', page.text).group(1))  # type: ignore[union-attr]
        )
        assert data["state"] == fields["state"] and data["secret"]
        assert "<" not in re.search(r'id="steun-login-data">(.*?)</script>', page.text).group(1)  # type: ignore[union-attr]
        pages.append(page.text)
    assert pages[0] != pages[1]
