"""Tools side by side: start Steun, the bare pylti1p3 peer or the ltijs peer, and drive one
complete LTI 1.3 launch in a new browser against any of them.

Used by ``benchmarks/lti_peers.py`` (the comparison) and ``tests/benchmarks`` (the bare peer is a
correct tool). Each tool gets its own :class:`FakePlatform`; the platform's authorization step
(checking the request and signing the RS256 id_token) runs in this process without an HTTP hop,
while its JWKS is served over HTTP as usual (the tools fetch it).
"""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.test import EnvironBuilder

from tests.support.platform import FakePlatform, LaunchSpec, ToolRegistration

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "benchmarks" / "peers"
BARE_TOOL = PEERS / "pylti1p3_tool"
LTIJS_TOOL = PEERS / "ltijs"

FORM = re.compile(r'<form[^>]*action="([^"]*)"')
FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
STEUN_LOGIN_DATA = re.compile(
    r'<script type="application/json" id="steun-login-data">(.*?)</script>', re.S
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlowError(Exception):
    """A step of the flow did not answer as a working launch must."""


@dataclass
class Tool:
    """A running tool: its URLs, the page text that proves the landing, its server process."""

    name: str
    base: str
    login_path: str
    launch_path: str
    landing_marker: str
    platform: FakePlatform
    process: subprocess.Popen[bytes]
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def login_url(self) -> str:
        return self.base + self.login_path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.platform.stop()
        for step in reversed(self.cleanup):
            step()


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        try:
            status, _headers, _text = Browser().request("GET", url)
            if status < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


# -- a browser ----------------------------------------------------------------------------


class Browser:
    """A new browser: its own cookie jar, one fresh connection per request (as every tool gets)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, url: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        headers = {"Accept": "text/html", "User-Agent": "steun-bench"}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(
                method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers
            )
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    self._keep(value)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()

    def _keep(self, header: str) -> None:
        pair, _sep, attributes = header.partition(";")
        name, _eq, value = pair.strip().partition("=")
        attrs = attributes.lower().replace(" ", "")
        if "max-age=0" in attrs or "expires=thu,01jan1970" in attrs:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


def authorize(platform: FakePlatform, auth_url: str) -> tuple[str, dict[str, str]]:
    """The platform's answer to the tool's authorization request: the form it auto-posts."""
    parts = urlsplit(auth_url)
    request = EnvironBuilder(path=parts.path, query_string=parts.query).get_request()
    response = platform.authorize(request)
    page = response.get_data(as_text=True)
    action = FORM.search(page)
    if response.status_code != 200 or action is None:
        raise FlowError(f"platform refused the authorization: {response.status_code} {page[:200]}")
    fields = {html.unescape(k): html.unescape(v) for k, v in FIELD.findall(page)}
    return html.unescape(action.group(1)), fields


@dataclass
class Flow:
    """One complete launch: how long it took, and the launch POST (to replay it)."""

    seconds: float
    launch_url: str
    launch_form: dict[str, str]
    landing: str
    browser: Browser


def complete_flow(
    tool: Tool, spec: LaunchSpec | None = None, browser: Browser | None = None
) -> Flow:
    """login → platform authorization → launch POST → the tool's redirects → landing page (200
    with the tool's marker), in a new browser. Raises :class:`FlowError` on any other answer."""
    browser = browser or Browser()
    platform = tool.platform
    hint = platform.prepare(spec or LaunchSpec(sub=f"user-{os.getpid()}-{time.perf_counter_ns()}"))
    start = time.perf_counter()
    status, headers, text = browser.request("POST", tool.login_url, platform.login_params(hint))
    if status in (302, 303):
        auth_url = headers["location"]
    elif status == 200 and (data := STEUN_LOGIN_DATA.search(text)):
        # Steun's first sight of a browser: a page that checks cookies, then goes to auth_url.
        auth_url = json.loads(html.unescape(data.group(1)))["auth_url"]
    else:
        raise FlowError(f"{tool.name} login answered {status}: {text[:200]}")
    launch_url, form = authorize(platform, urljoin(tool.login_url, auth_url))
    status, headers, text = browser.request("POST", launch_url, form)
    url = launch_url
    for _hop in range(5):
        if status not in (301, 302, 303, 307):
            break
        url = urljoin(url, headers["location"])
        status, headers, text = browser.request("GET", url)
    if status != 200 or tool.landing_marker not in text:
        raise FlowError(f"{tool.name} landing {url} answered {status}: {text[:300]}")
    return Flow(time.perf_counter() - start, launch_url, form, text, browser)


# -- the tools ------------------------------------------------------------------------------


def _platform_for(client_id: str, base: str, login: str, launch: str, jwks: str) -> FakePlatform:
    platform = FakePlatform().start()
    platform.register_tool(
        ToolRegistration(client_id, "1", base + login, [base + launch], base + jwks, base + launch)
    )
    return platform


def write_tool_conf(directory: Path, platform: FakePlatform, client_id: str) -> Path:
    """The bare tool's registrations: pylti1p3's JSON ToolConf file and the tool's key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "private.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "public.key").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    conf = {
        platform.issuer: [
            {
                "default": True,
                "client_id": client_id,
                "auth_login_url": platform.auth_url,
                "auth_token_url": platform.token_url,
                "key_set_url": platform.jwks_url,
                "key_set": None,
                "private_key_file": "private.key",
                "public_key_file": "public.key",
                "deployment_ids": ["1"],
            }
        ]
    }
    path = directory / "tool.json"
    path.write_text(json.dumps(conf, indent=2))
    return path


def bare_tool_available() -> str | None:
    """Why the bare pylti1p3 peer cannot run here (None: it can)."""
    for module in ("cachelib", "gunicorn", "pylti1p3", "flask"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (make venv)"
    return None


def start_bare_tool(workdir: Path, *, workers: int = 2, threads: int = 8) -> Tool:
    """The bare pylti1p3 2.0.0 tool under gunicorn's gthread worker."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    platform = _platform_for("bare", base, "/login", "/launch", "/jwks")
    conf = write_tool_conf(workdir / "conf", platform, "bare")
    cache = workdir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PEER_TOOL_CONF": str(conf), "PEER_CACHE_DIR": str(cache)}
    with (workdir / "gunicorn.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers",
             str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
             "--chdir", str(BARE_TOOL), "--log-level", "warning", "app:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    tool = Tool(
        "bare pylti1p3", base, "/login", "/launch", '<p id="context">Groep 5</p>', platform, process
    )
    try:
        wait_until_up(base + "/jwks", process)
    except BaseException:
        tool.stop()
        raise
    return tool


def ltijs_available() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (LTIJS_TOOL / "node_modules" / "ltijs").is_dir():
        return f"npm ci has not run in {LTIJS_TOOL}"
    return None


def start_ltijs(pg_port: int, database: str, *, workers: int = 1) -> Tool:
    """ltijs 5.9 with ltijs-sequelize on the PostgreSQL at 127.0.0.1:``pg_port``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    platform = _platform_for("ltijs", base, "/login", "/", "/keys")
    env = {
        **os.environ,
        "LTIJS_PORT": str(port),
        "LTIJS_WORKERS": str(workers),
        "LTIJS_DB_HOST": "127.0.0.1",
        "LTIJS_DB_PORT": str(pg_port),
        "LTIJS_DB_NAME": database,
        "LTIJS_DB_USER": "steun",
        "PLATFORM_URL": platform.issuer,
        "PLATFORM_CLIENT_ID": "ltijs",
        "PLATFORM_AUTH_URL": platform.auth_url,
        "PLATFORM_TOKEN_URL": platform.token_url,
        "PLATFORM_JWKS_URL": platform.jwks_url,
        "NODE_ENV": "production",
    }
    process = subprocess.Popen(
        ["node", "server.js"], cwd=LTIJS_TOOL, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    tool = Tool("ltijs", base, "/login", "/", '<p id="context">Groep 5</p>', platform, process)
    try:
        wait_until_up(base + "/keys", process)
        # The registration is written after the server listens: wait for a working launch.
        deadline = time.monotonic() + 30
        while True:
            try:
                complete_flow(tool)
                break
            except FlowError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    except BaseException:
        tool.stop()
        raise
    return tool


def start_steun(
    workdir: Path, *, workers: int = 2, threads: int = 8, database_url: str | None = None
) -> Tool:
    """``steun serve`` (gunicorn, Steun's own gthread worker) with the platform registered."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    platform = _platform_for("bench", base, "/lti/login", "/lti/launch", "/lti/jwks.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
    env.update(
        STEUN_ENV_FILE="",
        STEUN_DATA_DIR=str(workdir / "var"),
        STEUN_BASE_URL=base,
        STEUN_LOG_LEVEL="WARNING",
        STEUN_LRS__ENDPOINT="http://127.0.0.1:9/xapi/",
        # The fake platform is on 127.0.0.1: let the key-set fetch reach it.
        STEUN_REGISTRATION_ALLOW_PRIVATE_ADDRESSES="true",
        STEUN_WORKERS=str(workers),
        STEUN_THREADS=str(threads),
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["STEUN_DATABASE_URL"] = database_url
    steun = [sys.executable, "-m", "steun_lti"]
    subprocess.run([*steun, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [*steun, "platform", "add", "--issuer", platform.issuer, "--client-id", "bench",
         "--auth-login-url", platform.auth_url, "--auth-token-url", platform.token_url,
         "--key-set-url", platform.jwks_url, "--deployment-id", "1"],
        env=env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    process = subprocess.Popen(
        [*steun, "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    engine = "PostgreSQL" if database_url else "SQLite"
    tool = Tool(
        f"Steun ({engine})", base, "/lti/login", "/lti/launch", 'id="agree"', platform, process
    )
    try:
        wait_until_up(base + "/healthz", process)
    except BaseException:
        tool.stop()
        raise
    return tool
