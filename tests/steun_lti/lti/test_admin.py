"""The operator's page: password, CSRF, activation and invites."""

from __future__ import annotations

import re

import requests
from sqlalchemy import select

from steun_lti.lti.models import LtiDeployment, LtiInvite
from steun_lti.plumbing.secrets import load_or_create_secret
from tests.steun_lti.lti.conftest import Tool
from tests.support.platform import LaunchSpec


def admin(tool: Tool) -> requests.Session:
    http = requests.Session()
    settings = tool.app.config["STEUN_SETTINGS"]
    http.auth = ("admin", load_or_create_secret(settings.data_dir, "admin_password", nbytes=18))
    return http


def test_admin_page_needs_the_password(tool: Tool) -> None:
    assert requests.get(tool.url + "/lti/admin/").status_code == 401
    assert requests.get(tool.url + "/lti/admin/", auth=("admin", "wrong")).status_code == 401


def test_operator_activates_a_pending_deployment_and_invites_a_school(tool: Tool) -> None:
    assert tool.launch(LaunchSpec(deployment_id="course-copy")).status_code == 403
    http = admin(tool)
    page = http.get(tool.url + "/lti/admin/")
    assert (
        page.status_code == 200
        and "course-copy" in page.text
        and "wacht op activering" in page.text
    )
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    with tool.database.session() as session:
        row = session.scalars(
            select(LtiDeployment).where(LtiDeployment.deployment_id == "course-copy")
        ).one()
    assert (
        http.post(tool.url + f"/lti/admin/deployments/{row.id}", data={"active": "1"}).status_code
        == 400
    )
    done = http.post(
        tool.url + f"/lti/admin/deployments/{row.id}", data={"active": "1", "csrf": csrf}
    )
    assert done.status_code == 200
    assert tool.launch(LaunchSpec(deployment_id="course-copy")).status_code == 303
    made = http.post(
        tool.url + "/lti/admin/invites",
        data={"csrf": csrf, "for_host": "lms.school.nl", "expires": "2d", "note": "De Regenboog"},
    )
    assert made.status_code == 200
    assert re.search(r"/lti/register/[\w-]{20,}", made.text)
    # the new link travels in the session, never in a URL (browser history, access logs)
    assert all("register" not in r.headers["Location"] for r in made.history)
    assert "/lti/register/" not in http.get(tool.url + "/lti/admin/").text  # shown once
    with tool.database.session() as session:
        assert session.scalars(select(LtiInvite.for_host)).all() == ["lms.school.nl"]
