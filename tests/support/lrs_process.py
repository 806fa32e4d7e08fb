"""The embedded LRS as a real process (``python -m steun_lti lrs serve``), for tests over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.environ import clean_environ
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]


def start_lrs(
    data_dir: Path,
    database_url: str | None = None,
    workers: int = 2,
    port: int | None = None,
    env_vars: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the LRS on ``port`` (a free one by default), with ``env_vars`` (settings) added to
    its environment; return the process and its endpoint."""
    port = port or free_port()
    env = clean_environ()
    env["STEUN_DATA_DIR"] = str(data_dir)
    env["STEUN_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = str(REPO)
    if database_url:
        env["STEUN_LRS_SERVER__DATABASE_URL"] = database_url
    env.update(env_vars or {})
    command = ["lrs", "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "steun_lti", *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}/xapi/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"LRS exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if requests.get(endpoint + "about", timeout=1).status_code == 200:
                return proc, endpoint
        except requests.ConnectionError:
            time.sleep(0.05)  # polling for the port to open, not synchronisation
    proc.kill()
    raise RuntimeError("LRS did not start within 60 s")


def stop_lrs(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()
