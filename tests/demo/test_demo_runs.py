"""What `steun demo` refuses, clearly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from steun_lti.demo.lms import DemoError, DemoLms
from steun_lti.settings import Settings


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(data_dir=tmp_path / "var")
        with pytest.raises(DemoError, match=f"127.0.0.1:{port}.*STEUN_DEMO_LMS_PORT"):
            DemoLms(settings, port=port).start()
