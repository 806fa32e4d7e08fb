"""Issue 14: a ``next`` parameter only ever names a path on this site."""

from __future__ import annotations

import pytest

from steun_lti.web.safe_redirect import internal_path


@pytest.mark.parametrize(
    "target",
    [
        "/study/child/A/t1/demo-child",
        "/study/wave/t1?lang=en",
        "/study/children#child-A",
        "/study/child/A/t1/demo-child?lang=en&lti_launch=abc-DEF_123",
    ],
)
def test_own_paths_pass(target: str) -> None:
    assert internal_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example/x",
        "/\t/evil.example/",  # the reported one: browsers drop the tab and read //evil.example/
        "/%09/evil.example/",
        "/%2509/evil.example/",
        "/\n/evil.example/",
        "/ /evil.example/",
        "/study/a%20b",  # whitespace after decoding: none of our paths has any
        "/\\evil.example/",
        "/%5Cevil.example/",
        "\\\\evil.example",
        "/%2F/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example/x",
        "/\u200b/evil.example",  # zero-width space
        "/\x7f/evil.example",
        "/x\u2028y",
    ],
)
def test_anything_else_is_refused(target: str | None) -> None:
    assert internal_path(target) is None
