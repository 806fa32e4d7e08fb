"""The demo LMS's own pages, rendered without starting the demo."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from steun_lti.demo.lms_pages import build_pages


def fake_lms(tmp_path: Path, packages: list[str] | None = None) -> SimpleNamespace:
    tool = SimpleNamespace(client_id="c", deployment_id="d", login_url="l", target_link_uri="t")
    return SimpleNamespace(
        placed=[],
        packages=lambda: packages or [],
        settings=SimpleNamespace(lrs=SimpleNamespace(endpoint="http://127.0.0.1:9/xapi/")),
        tool_base="http://127.0.0.1:8000",
        registered=True,
        platform=SimpleNamespace(issuer="http://127.0.0.1:8400", tool=tool),
        dist=tmp_path,
    )


@pytest.mark.parametrize(
    ("placed", "said"), [(1, "1 onderdeel geplaatst"), (4, "4 onderdelen geplaatst")]
)
def test_the_placed_notice_says_singular_or_plural(tmp_path: Path, placed: int, said: str) -> None:
    """It said "4 onderdeel/onderdelen geplaatst" (issue 17)."""
    lms = fake_lms(tmp_path)
    page = build_pages(lms).test_client().get(f"/?geplaatst={placed}")
    assert page.status_code == 200, page.text
    assert f"<strong>{said}</strong>" in page.text
    assert "onderdeel/onderdelen" not in page.text


def test_the_course_page_shows_no_markdown_backticks(tmp_path: Path) -> None:
    page = build_pages(fake_lms(tmp_path, ["scorm12"])).test_client().get("/cursus")
    assert page.status_code == 200, page.text
    assert "<code>steun demo</code> built" in page.text and "`" not in page.text
