"""The course package each LMS gets from the tool: the built zip with that LMS's package key
(decision 0012), from /lti/admin or `steun platform course-package`; revoking the key."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

from scorm_package.build import build
from steun_lti.cli.main import main
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from steun_lti.records.course_channel import key_secret
from steun_lti.records.statements import hmac_key
from tests.scorm_package.conftest import MINI
from tests.steun_lti.lti.conftest import Tool
from tests.steun_lti.lti.test_admin import admin
from tests.support.course_channel import consent, signed

RELAY_JS = "steun-relay.js"


def relay_config(zipped: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        script = zf.read(RELAY_JS).decode()
    return dict(json.loads(script.removeprefix("window.STEUN_RELAY = ").rstrip(";\n")))


def built(tool: Tool) -> Path:
    out = tool.app.config["STEUN_SETTINGS"].resolved_packages_dir
    _, results = build(MINI, out, ("scorm12",))
    return results[0].path


def test_without_a_built_package_the_page_says_how_to_build_one(tool: Tool) -> None:
    http = admin(tool)
    page = http.get(tool.url + "/lti/admin/")
    assert "Nog geen gebouwd pakket" in page.text and "build_scorm.py --out" in page.text
    missing = http.get(tool.url + "/lti/admin/platforms/1/course-scorm12.zip")
    assert missing.status_code == 404 and "build_scorm.py" in missing.text


def test_admin_downloads_the_keyed_package_and_revokes_its_key(tool: Tool) -> None:
    source = built(tool)
    http = admin(tool)
    page = http.get(tool.url + "/lti/admin/")
    link = re.search(r'href="(/lti/admin/platforms/\d+/course-scorm12\.zip)"', page.text)
    assert link, page.text
    first = http.get(tool.url + link.group(1))
    assert first.status_code == 200 and first.headers["Content-Type"] == "application/zip"
    assert "attachment" in first.headers["Content-Disposition"]
    config = relay_config(first.content)
    settings = tool.app.config["STEUN_SETTINGS"]
    assert config["url"] == settings.base_url + "/relay/course"
    assert config["key"] == key_secret(hmac_key(settings), config["kid"])
    # everything but the relay file is the build, byte for byte
    with zipfile.ZipFile(source) as plain, zipfile.ZipFile(io.BytesIO(first.content)) as keyed:
        assert plain.namelist() == keyed.namelist()
        for name in plain.namelist():
            if name != RELAY_JS:
                assert plain.read(name) == keyed.read(name), name
    assert relay_config(http.get(tool.url + link.group(1)).content)["kid"] == config["kid"]

    # the package works for a consenting teacher of this platform ...
    consent(tool.app, tool.platform.issuer, "lms-user-7")
    key = (config["kid"], config["key"])
    body = {**signed(key, "lms-user-7"), "course": "c", "event": "course_started"}
    assert requests.post(tool.url + "/relay/course", json=body).status_code == 202
    # ... until the admin revokes the key
    page = http.get(tool.url + "/lti/admin/")
    assert config["kid"] in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    action = re.search(r'action="(/lti/admin/platforms/\d+/course-key)"', page.text).group(1)  # type: ignore[union-attr]
    assert http.post(tool.url + action, data={}).status_code == 400  # no CSRF token
    assert http.post(tool.url + action, data={"csrf": csrf}).status_code == 200
    assert requests.post(tool.url + "/relay/course", json=body).status_code == 403
    fresh = relay_config(http.get(tool.url + link.group(1)).content)
    assert fresh["kid"] != config["kid"]


def test_old_packages_without_the_relay_file_are_refused_clearly(tool: Tool) -> None:
    out = tool.app.config["STEUN_SETTINGS"].resolved_packages_dir
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out / "steun-0.9.0-scorm12.zip", "w") as zf:
        zf.writestr("index.html", "<p>old</p>")
    response = admin(tool).get(tool.url + "/lti/admin/platforms/1/course-scorm12.zip")
    assert response.status_code == 404 and "older Steun" in response.text


def cli(settings: Settings, database: Database, *args: str) -> Any:
    settings = settings.model_copy(update={"database_url": database.url})
    return CliRunner().invoke(main, list(args), obj={"settings": settings})


def test_the_command_line_gives_the_same_key_and_package(
    tool: Tool, settings: Settings, database: Database, tmp_path: Path
) -> None:
    built(tool)
    issuer = tool.platform.issuer
    printed = cli(settings, database, "platform", "course-key", issuer)
    assert printed.exit_code == 0, printed.output
    kid, key = printed.output.strip().split(":")
    assert key == key_secret(hmac_key(settings), kid)
    out = tmp_path / "for-moodle.zip"
    written = cli(settings, database, "platform", "course-package", issuer, "--out", str(out))
    assert written.exit_code == 0, written.output
    assert relay_config(out.read_bytes())["kid"] == kid
    unknown = cli(settings, database, "platform", "course-key", "https://nowhere.example")
    assert unknown.exit_code == 2 and "no platform with issuer" in unknown.output
    revoked = cli(settings, database, "platform", "course-key", issuer, "--revoke")
    assert revoked.exit_code == 0 and "Revoked 1 key" in revoked.output
