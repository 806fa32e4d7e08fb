"""What `steun demo` refuses, clearly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from steun_lti.demo.lms import DemoError, DemoLms
from steun_lti.plumbing.settings import Settings


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(data_dir=tmp_path / "var")
        with pytest.raises(DemoError, match=f"127.0.0.1:{port}.*STEUN_DEMO_LMS_PORT"):
            DemoLms(settings, port=port).start()


def test_outside_a_checkout_the_demo_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steun_lti.demo import lms

    monkeypatch.setattr(lms, "ROOT", tmp_path)
    with pytest.raises(DemoError, match=r"checkout of the repository.*make demo"):
        lms.platform_module()


def test_packages_are_unpacked_per_standard(tmp_path: Path) -> None:
    import zipfile

    from steun_lti.demo.lms import unpack_packages

    for standard in ("scorm12", "scorm2004"):
        with zipfile.ZipFile(tmp_path / f"steun-1.0.0-{standard}.zip", "w") as zf:
            zf.writestr("imsmanifest.xml", "<manifest/>")
            zf.writestr("index.html", standard)
    (tmp_path / "scorm12").mkdir()
    (tmp_path / "scorm12" / "stale.html").write_text("old build")
    unpacked = unpack_packages(tmp_path)
    assert [p.name for p in unpacked] == ["scorm12", "scorm2004"]
    assert (tmp_path / "scorm2004" / "index.html").read_text() == "scorm2004"
    assert not (tmp_path / "scorm12" / "stale.html").exists()
