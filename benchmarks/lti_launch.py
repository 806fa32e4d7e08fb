"""Benchmark: complete LTI 1.3 login → launch flows against the tool under gunicorn.

Starts ``steun serve`` (gunicorn, several workers) on a fresh data directory and SQLite database
(or ``--database-url``), a fake LMS platform (tests/support/platform.py, in this process), registers
the platform, then runs ``--flows`` complete flows with ``--concurrency`` at once. Each flow is a new
browser: POST /lti/login, GET the platform's authorization (it signs an RS256 id_token), POST
/lti/launch (verification, single-use state, pseudonymisation, launch record). Prints launches per
second, p50/p95/p99 of the whole flow and of the tool's two requests, and /healthz throughput of the
same server at the same concurrency, with the ratio.

    .venv/bin/python benchmarks/lti_launch.py [--flows 2000] [--concurrency 20] [--workers STEUN_WORKERS]
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from steun_lti.plumbing.settings import Settings  # noqa: E402
from tests.support.platform import FakePlatform, LaunchSpec, ToolRegistration  # noqa: E402

FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
LOGIN_DATA = re.compile(r'<script type="application/json" id="steun-login-data">(.*?)</script>')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _request(
    url: str, method: str = "GET", body: str | None = None, cookie: str | None = None
) -> tuple[int, dict[str, str], str]:
    """One request on a fresh connection (gunicorn's sync workers close them anyway)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Accept": "text/html"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = cookie
    path = parts.path + ("?" + parts.query if parts.query else "")
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        conn.close()


def one_flow(base: str, platform: FakePlatform) -> tuple[float, float]:
    """A complete login → launch in a new browser; returns (flow seconds, tool seconds)."""
    hint = platform.prepare(
        LaunchSpec(sub=f"user-{threading.get_ident()}-{time.perf_counter_ns()}")
    )
    start = time.perf_counter()
    status, headers, text = _request(
        base + "/lti/login", "POST", urlencode(platform.login_params(hint))
    )
    tool_time = time.perf_counter() - start
    cookie = headers.get("set-cookie", "").split(";", 1)[0]
    if status == 302:
        auth_url = headers["location"]
    else:
        match = LOGIN_DATA.search(text)
        if status != 200 or not match:
            raise RuntimeError(f"login failed: {status}")
        auth_url = json.loads(match.group(1))["auth_url"]
    _status, _headers, page = _request(auth_url)
    fields = {html.unescape(k): html.unescape(v) for k, v in FIELD.findall(page)}
    t = time.perf_counter()
    status, _headers, text = _request(base + "/lti/launch", "POST", urlencode(fields), cookie)
    tool_time += time.perf_counter() - t
    if status != 303:
        raise RuntimeError(f"launch failed: {status} {text[:200]}")
    return time.perf_counter() - start, tool_time


def run(flows: int, concurrency: int, job: object) -> tuple[float, list[tuple[float, float]]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _i: job(), range(flows)))  # type: ignore[operator]
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=None, help="default: STEUN_WORKERS's (.env.example)"
    )
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    platform = FakePlatform().start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
        env.update(
            STEUN_DATA_DIR=str(Path(tmp) / "var"),
            STEUN_BASE_URL=base,
            STEUN_LOG_LEVEL="WARNING",
            STEUN_LRS__ENDPOINT="http://127.0.0.1:9/xapi/",
            # The fake platform is on 127.0.0.1: let the key-set fetch reach it.
            STEUN_REGISTRATION_ALLOW_PRIVATE_ADDRESSES="true",
            PYTHONPATH=str(ROOT),
        )
        if args.database_url:
            env["STEUN_DATABASE_URL"] = args.database_url
        steun = [sys.executable, "-m", "steun_lti"]
        subprocess.run(
            [*steun, "platform", "add", "--issuer", platform.issuer, "--client-id", "bench",
             "--auth-login-url", platform.auth_url, "--auth-token-url", platform.token_url,
             "--key-set-url", platform.jwks_url, "--deployment-id", "1"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        platform.register_tool(
            ToolRegistration("bench", "1", base + "/lti/login", [base + "/lti/launch"],
                             base + "/lti/jwks.json", base + "/lti/launch")
        )  # fmt: skip
        server = subprocess.Popen(
            [*steun, "serve", "--port", str(port),
             *(["--workers", str(args.workers)] if args.workers else [])],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the tool did not start")
                time.sleep(0.2)
            run(min(100, args.flows), args.concurrency, lambda: one_flow(base, platform))  # warm-up
            elapsed, results = run(args.flows, args.concurrency, lambda: one_flow(base, platform))
            flow_ms = [r[0] * 1000 for r in results]
            tool_ms = [r[1] * 1000 for r in results]

            def health() -> tuple[float, float]:
                t = time.perf_counter()
                status, _headers, _text = _request(base + "/healthz")
                if status != 200:
                    raise RuntimeError(f"/healthz answered {status}")
                return time.perf_counter() - t, 0.0

            health_n = max(args.flows, 1000)
            h_elapsed, h_results = run(health_n, args.concurrency, health)
        finally:
            server.terminate()
            server.wait(timeout=20)
            platform.stop()
    rate = args.flows / elapsed
    health_rate = health_n / h_elapsed
    print(f"LTI launch benchmark: {args.flows} complete flows, {args.concurrency} concurrent, "
          f"gunicorn {args.workers or Settings.model_fields['workers'].default} workers x "
          f"{Settings.model_fields['threads'].default} threads, {os.cpu_count()} CPUs, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}")  # fmt: skip
    print(f"  launches/s            {rate:8.1f}")
    print(f"  flow latency ms       p50 {percentile(flow_ms, .5):6.1f}  p95 {percentile(flow_ms, .95):6.1f}"
          f"  p99 {percentile(flow_ms, .99):6.1f}  mean {statistics.fmean(flow_ms):6.1f}")  # fmt: skip
    print(f"  tool's 2 requests ms  p50 {percentile(tool_ms, .5):6.1f}  p95 {percentile(tool_ms, .95):6.1f}"
          f"  p99 {percentile(tool_ms, .99):6.1f}")  # fmt: skip
    h_ms = [r[0] * 1000 for r in h_results]
    print(f"  /healthz req/s        {health_rate:8.1f}  (p95 {percentile(h_ms, 0.95):.1f} ms)")
    print(f"  launches / healthz    {rate / health_rate:8.3f}")


if __name__ == "__main__":
    main()
