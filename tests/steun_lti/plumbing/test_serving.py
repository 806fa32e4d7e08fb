"""`steun serve` under gunicorn and `steun demo` as a user runs them: start, answer, stop on Ctrl-C."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.environ import clean_environ
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[3]


def wait_for(url: str, proc: subprocess.Popen[str], seconds: float = 30) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"process exited early ({proc.returncode}):\n{out}")
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def read_until(proc: subprocess.Popen[str], marker: str, seconds: float) -> str:
    """The process's output up to ``marker`` (or all there is at the deadline), read from the
    pipe's file descriptor itself: a buffered readline would keep lines that ``communicate``
    (which reads the descriptor) then never sees."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    chunks: list[bytes] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and marker.encode() not in b"".join(chunks):
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = clean_environ()
    environment.update(
        STEUN_DATA_DIR=str(tmp_path / "var"),
        STEUN_PORT=str(free_port()),
        STEUN_LRS_SERVER__PORT=str(free_port()),
        STEUN_DEMO_LMS_PORT=str(free_port()),
        PYTHONPATH=str(ROOT),
    )
    environment["STEUN_BASE_URL"] = f"http://127.0.0.1:{environment['STEUN_PORT']}"
    environment["STEUN_LRS__ENDPOINT"] = (
        f"http://127.0.0.1:{environment['STEUN_LRS_SERVER__PORT']}/xapi/"
    )
    yield environment


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "steun_lti", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> str:
    os.killpg(proc.pid, sig)  # like Ctrl-C in a terminal: the whole process group
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"did not stop on signal {sig}:\n{out}") from None
    return out


@pytest.mark.slow
def test_serve_runs_gunicorn_workers_and_answers_healthz(env: dict[str, str]) -> None:
    proc = start(["serve", "--workers", "2"], env)
    try:
        response = wait_for(f"{env['STEUN_BASE_URL']}/healthz", proc)
        assert response.status_code == 200
        assert response.json()["database"] is True
    finally:
        out = stop(proc, signal.SIGTERM)
    assert "Booting worker" in out  # gunicorn, not the development server
    assert proc.returncode == 0


@pytest.mark.slow
def test_served_logs_mask_invite_tokens_and_launch_ids(env: dict[str, str]) -> None:
    """Issue 14: gunicorn's access log printed ``/lti/register/<token>`` and the refusal's error
    line the same path; query values of launch ids and states must not appear either."""
    proc = start(["serve", "--workers", "1"], env)
    secret = "Inv1teT0kenThatMustNotLeak"
    try:
        base = env["STEUN_BASE_URL"]
        wait_for(f"{base}/healthz", proc)
        refused = requests.get(
            f"{base}/lti/register/{secret}",
            params={"openid_configuration": "https://lms.example/x", "registration_token": secret},
            timeout=10,
        )
        assert refused.status_code == 403
        requests.get(
            f"{base}/lti/login", params={"state": secret, "lti_launch": secret}, timeout=10
        )
    finally:
        out = stop(proc, signal.SIGTERM)
    assert "/lti/register/[masked]" in out, out[-2000:]
    assert secret not in out


@pytest.mark.slow
def test_idle_connections_never_block_a_request(env: dict[str, str]) -> None:
    """Browsers open keep-alive connections and may never use them (seen in Moodle's iframe).

    With synchronous workers each idle connection held a worker until the 60 s worker timeout;
    gunicorn 27's threads each wait 5 s for a new connection's first bytes, so 24 idle ones kept a
    worker's 8 threads busy for 15 s. Here a page answers while they stay open."""
    proc = start(["serve", "--workers", "1"], env)
    idle: list[socket.socket] = []
    try:
        wait_for(f"{env['STEUN_BASE_URL']}/healthz", proc)
        port = int(env["STEUN_PORT"])
        for _ in range(24):  # three times the worker's 8 threads
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        # half-sent requests too: a client that stalls mid-request
        for conn in idle[:4]:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        response = requests.get(f"{env['STEUN_BASE_URL']}/lti/", timeout=12)
        assert response.status_code == 200
    finally:
        for conn in idle:
            conn.close()
        stop(proc, signal.SIGTERM)


@pytest.mark.slow
def test_trickling_clients_never_block_a_request(env: dict[str, str]) -> None:
    """Issue 14: clients that send a request slowly (headers, or a body byte by byte) held one
    thread each for as long as they liked; more of them than threads and nothing else was
    answered. The worker now reads a request in its poller and gives a thread only a whole one."""
    proc = start(["serve", "--workers", "1"], env)
    slow: list[socket.socket] = []
    try:
        base = env["STEUN_BASE_URL"]
        wait_for(f"{base}/healthz", proc)
        port = int(env["STEUN_PORT"])
        for n in range(24):  # three times the worker's 8 threads
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n % 3 == 2:  # a whole request, then the start of a pipelined next one
                conn.sendall(
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /lti/ HTTP/1.1\r\nX-Slow: 1"
                )
            elif n % 3 == 1:  # a body announced, a few bytes of it sent
                conn.sendall(
                    b"POST /lti/launch HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nid_token=ey"
                )
            else:  # headers that never end
                conn.sendall(b"GET /lti/ HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
            slow.append(conn)
        for _ in range(3):  # and they keep trickling
            for conn in slow:
                conn.sendall(b"a")
            started = time.monotonic()
            response = requests.get(f"{base}/lti/", timeout=10)
            assert response.status_code == 200
            assert time.monotonic() - started < 3
            time.sleep(0.5)
        # a whole request, with a body, is still served on a connection of its own
        posted = requests.post(
            f"{base}/lti/launch", data={"id_token": "x", "state": "y"}, timeout=10
        )
        assert posted.status_code == 400
    finally:
        for conn in slow:
            conn.close()
        stop(proc, signal.SIGTERM)


def test_request_complete() -> None:
    from steun_lti.plumbing.server import request_complete

    assert not request_complete(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert request_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
    assert not request_complete(head + b"abc") and request_complete(head + b"abcde")
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert not request_complete(chunked + b"3\r\nabc\r\n")
    assert request_complete(chunked + b"3\r\nabc\r\n0\r\n\r\n")
    assert request_complete(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n")  # refused later
    assert request_complete(head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
    # announced bigger than the worker buffers: a thread takes it at the headers, so the app can
    # refuse it (the LRS: 401 before the body, 413 by its size) without waiting for the body
    assert request_complete(b"POST / HTTP/1.1\r\nContent-Length: 400000000\r\n\r\n")


@pytest.mark.slow
def test_demo_starts_prints_what_to_open_and_stops_on_ctrl_c_twice(env: dict[str, str]) -> None:
    for _ in range(2):  # running it twice works
        proc = start(["demo"], env)
        try:
            response = wait_for(f"{env['STEUN_BASE_URL']}/healthz", proc, seconds=60)
            assert response.status_code == 200
            # the plan comes once everything answers, just before "Ready."
            early = read_until(proc, "Ready. Start at", seconds=180)
        finally:
            out = early + stop(proc, signal.SIGINT)
        assert "Open, in this order" in out
        assert f"{env['STEUN_BASE_URL']}/healthz" in out
        assert "Steun demo stopped." in out
        assert proc.returncode == 0
        assert "Traceback" not in out


@pytest.mark.slow
def test_serve_says_in_one_line_what_is_wrong(env: dict[str, str]) -> None:
    """Issue 17: a bad port, a bad setting, a port in use: one clear line and exit code 2."""
    cases = [
        (["serve", "--port", "80000"], {}, "80000 is not in the range 1<=x<=65535"),
        (["serve"], {"STEUN_PORT": "abc"}, "STEUN_PORT: Input should be a valid integer"),
        (["serve"], {"STEUN_PORT": "80000"}, "STEUN_PORT: Input should be less than or equal"),
    ]
    for args, extra, expected in cases:
        result = subprocess.run(
            [sys.executable, "-m", "steun_lti", *args],
            cwd=ROOT, env={**env, **extra}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(env["STEUN_PORT"])))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "steun_lti", "serve"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert "Cannot listen on 127.0.0.1:" in result.stderr and "Traceback" not in result.stderr
