"""Issue 14: security headers on every page; only registered platforms may frame the tool."""

from __future__ import annotations

import requests
from flask.testing import FlaskClient

from tests.steun_lti.lti.conftest import Tool, platform, tool  # noqa: F401  (fixtures)
from tests.support.platform import LaunchSpec


def frame_ancestors(response: requests.Response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    [directive] = [d.strip() for d in policy.split(";") if d.strip().startswith("frame-ancestors")]
    return directive.split()[1:]


def test_study_pages_may_be_framed_by_the_registered_platform_only(tool: Tool) -> None:  # noqa: F811
    launched = tool.launch(LaunchSpec(custom={"target": "wave:t1"}))
    page = launched.http.get(tool.url + launched.headers["Location"])
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert frame_ancestors(page) == ["'self'", tool.platform.issuer]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert "evil" not in page.headers["Content-Security-Policy"]


def test_operator_page_is_never_framed_and_data_keeps_its_caching(tool: Tool) -> None:  # noqa: F811
    admin = requests.get(tool.url + "/lti/admin/", timeout=10)
    assert admin.status_code == 401 and frame_ancestors(admin) == ["'none'"]
    jwks = requests.get(tool.url + "/lti/jwks.json", timeout=10)
    assert jwks.headers["Cache-Control"] == "public, max-age=300"
    assert jwks.headers["X-Content-Type-Options"] == "nosniff"
    assert frame_ancestors(jwks) == ["'none'"]
    register = requests.get(tool.url + "/lti/register/unknown", timeout=10)
    assert frame_ancestors(register) == ["*"]  # the LMS that registers is not known yet


def test_headers_on_errors_and_without_registrations(client: FlaskClient) -> None:
    missing = client.get("/study/no-such-page")
    assert missing.status_code == 404
    assert "frame-ancestors 'self'" in missing.headers["Content-Security-Policy"]
    assert missing.headers["Referrer-Policy"] == "no-referrer"
    assert missing.headers["Cache-Control"] == "no-store"
    health = client.get("/healthz")
    assert health.headers["X-Content-Type-Options"] == "nosniff"


def test_operator_may_add_framing_origins(tool: Tool) -> None:  # noqa: F811
    settings = tool.app.config["STEUN_SETTINGS"]
    tool.app.config["STEUN_SETTINGS"] = settings.model_copy(
        update={
            "frame_ancestors": "https://school.instructure.com javascript:x https://a.example:8443/p"
        }
    )
    page = requests.get(tool.url + "/lti/", timeout=10)
    assert frame_ancestors(page) == [
        "'self'",
        *sorted([tool.platform.issuer, "https://a.example:8443", "https://school.instructure.com"]),
    ]


def test_framing_follows_a_registration_change_at_once(tool: Tool) -> None:  # noqa: F811
    """The origins are cached per process; a registration written here invalidates them, and one
    written elsewhere (another worker, the CLI) is seen within lti.recent.TTL."""
    from sqlalchemy import update

    from steun_lti.lti.models import LtiRegistration
    from steun_lti.lti.recent import TTL, recent
    from steun_lti.web import headers

    assert frame_ancestors(requests.get(tool.url + "/lti/", timeout=10)) == [
        "'self'",
        tool.platform.issuer,
    ]
    with tool.database.session() as session:  # through the ORM, as the tool's own pages do
        registration = session.query(LtiRegistration).one()
        registration.active = False
    assert frame_ancestors(requests.get(tool.url + "/lti/", timeout=10)) == ["'self'"]
    with tool.database.engine.begin() as conn:  # as another process would: no event here
        conn.execute(update(LtiRegistration).values(active=True))
    recent(tool.app, headers.CACHE_NAME).age(TTL)
    assert frame_ancestors(requests.get(tool.url + "/lti/", timeout=10)) == [
        "'self'",
        tool.platform.issuer,
    ]
