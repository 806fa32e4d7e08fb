"""`steun demo` as a user runs it: a real process on free ports, read until it says Ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.environ import clean_environ
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DemoProcess:
    """A running ``steun demo``; its output is collected line by line in a thread."""

    proc: subprocess.Popen[str]
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def tool(self) -> str:
        return self.env["STEUN_BASE_URL"]

    @property
    def lms(self) -> str:
        return f"http://127.0.0.1:{self.env['STEUN_DEMO_LMS_PORT']}"

    @property
    def data_dir(self) -> Path:
        return Path(self.env["STEUN_DATA_DIR"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("Ready."):
                self.ready.set()
        self.ended.set()

    def wait_ready(self, seconds: float = 60) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        deadline_hit = not self.ready.wait(seconds)
        if deadline_hit or self.proc.poll() is not None:
            self.stop()
            raise AssertionError(f"steun demo did not get ready:\n{self.output}")

    def stop(self) -> str:
        """Ctrl-C, as in a terminal: SIGINT to the demo's process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"steun demo did not stop on Ctrl-C:\n{self.output}") from None
        self.ended.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.output


def demo_env(data_dir: Path) -> dict[str, str]:
    env = clean_environ()
    tool, lrs, lms = free_port(), free_port(), free_port()
    env.update(
        STEUN_DATA_DIR=str(data_dir),
        STEUN_PORT=str(tool),
        STEUN_BASE_URL=f"http://127.0.0.1:{tool}",
        STEUN_LRS_SERVER__PORT=str(lrs),
        STEUN_LRS__ENDPOINT=f"http://127.0.0.1:{lrs}/xapi/",
        STEUN_DEMO_LMS_PORT=str(lms),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_demo(env: dict[str, str], *args: str) -> DemoProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "steun_lti", "demo", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return DemoProcess(proc, env)


@pytest.fixture(scope="module")
def demo_env_vars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return demo_env(tmp_path_factory.mktemp("demo") / "var")


@pytest.fixture(scope="module")
def demo(demo_env_vars: dict[str, str]) -> Iterator[DemoProcess]:
    """One `steun demo` for the module (the journey builds on what earlier steps did)."""
    running = start_demo(demo_env_vars)
    running.wait_ready()
    yield running
    out = running.stop()
    assert "Steun demo stopped." in out, out
    assert "Traceback" not in out, out
    assert running.proc.returncode == 0, out
