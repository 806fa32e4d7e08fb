"""Benchmark: what one complete LTI 1.3 flow costs the tool, in-process, next to a bare pylti1p3 tool.

No server and no sockets on the measured path: Flask test clients call the real Steun app (its
migrations, its database, its templates and after-request hooks) and a tiny pylti1p3 2.0.0 tool
(``ToolConfDict``, launch data and the platform's key set in an in-memory cache, launch id in the
landing URL). The fake platform of the tests (``tests/support/platform.py``) signs real RS256
id_tokens; its signing is not counted, and its key set is fetched once per tool over HTTP.

One flow is what a teacher's browser does: POST the platform's login initiation to the tool,
(the platform signs an id_token for the tool's state and nonce), POST the launch, GET the page
the launch sends it to. Each flow is a new browser (no cookies) unless ``--returning``. The flows
of the two tools run interleaved in rounds, so a busy machine slows both alike; the ratio is
printed from one run. Per step: CPU ms (``time.process_time``, this process only: the tool and
the test client), and for Steun the SQL statements and commits per launch (SQLAlchemy events).

    .venv/bin/python benchmarks/launch_profile.py [--flows 300] [--rounds 5] [--postgres]
        [--participants] [--returning] [--follow] [--profile [--profile-top 40]]

``--follow``: Steun's landing step also GETs the page ``/study/`` redirects to (the consent
letter for a new teacher), as ``benchmarks/lti_peers.py`` counts it;
``--participants``: the users have consented (the launch then also records ``launched``);
``--postgres``: Steun on a throwaway PostgreSQL cluster (tests/support/postgres.py);
``--profile``: cProfile of Steun's flows, the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STEUN_ENV_FILE", "")  # a developer's .env must not reach the benchmark

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

from tests.support.platform import FakePlatform, LaunchSpec, ToolRegistration  # noqa: E402

CLIENT_ID = "bench-client"
DEPLOYMENT_ID = "1"
LOGIN_DATA = re.compile(r'<script type="application/json" id="steun-login-data">(.*?)</script>')
STEPS = ("login", "launch", "landing")
CHUNK = 10  # flows of one tool before the other takes its turn


@dataclass
class Tally:
    """CPU seconds per step, and SQL statements / commits per step (Steun only)."""

    cpu: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    sql: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    commits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    flows: int = 0

    def flow_ms(self) -> float:
        return sum(statistics.fmean(v) for v in self.cpu.values()) * 1000


class Counter:
    """SQL statements and commits on an engine, read around each step."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.commits = 0
        self.log: list[str] | None = None
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements += 1
        if self.log is not None:
            self.log.append(" ".join(statement.split())[:160])

    def _commit(self, _conn: Any) -> None:
        self.commits += 1


def cluster_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by a PostgreSQL cluster: the postmaster and its children."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, ppid = int(entry), int(fields[1])
        if pid == postmaster or ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def auth_params(auth_url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}


def sign_for(platform: FakePlatform, spec: LaunchSpec, auth_url: str) -> dict[str, str]:
    """What the platform posts back to the tool (its work: not counted)."""
    query = auth_params(auth_url)
    token = platform.sign(platform.claims_for(spec, query["nonce"]))
    return {"id_token": token, "state": query["state"]}


# -- Steun --------------------------------------------------------------------------------------


class SteunTool:
    name = "steun"

    def __init__(self, tmp: Path, platform: FakePlatform, database_url: str | None) -> None:
        from steun_lti.app import create_app
        from steun_lti.lti.registration import add_platform
        from steun_lti.plumbing.db import Database
        from steun_lti.plumbing.migrations import upgrade
        from steun_lti.plumbing.settings import Settings

        for key in [k for k in os.environ if k.startswith("STEUN_") and k != "STEUN_ENV_FILE"]:
            os.environ.pop(key)
        self.database = Database(database_url or f"sqlite:///{tmp / 'steun.sqlite3'}")
        upgrade(self.database)
        settings = Settings(
            data_dir=tmp / "var",
            base_url="http://localhost",
            lrs={"endpoint": "http://127.0.0.1:9/xapi/", "timeout": 0.5},  # type: ignore[arg-type]
            registration_allow_private_addresses=True,  # the fake platform is on 127.0.0.1
            log_level="WARNING",
        )
        self.app: Flask = create_app(settings, database=self.database)
        with self.database.session() as session:
            add_platform(
                session,
                issuer=platform.issuer,
                client_id=CLIENT_ID,
                auth_login_url=platform.auth_url,
                auth_token_url=platform.token_url,
                key_set_url=platform.jwks_url,
                deployment_ids=(DEPLOYMENT_ID,),
            )
        self.counter = Counter(self.database.engine)
        self.platform = platform

    def login(self, client: FlaskClient, params: dict[str, str]) -> str:
        response = client.post("/lti/login", data=params)
        if response.status_code == 302:
            return str(response.headers["Location"])
        match = LOGIN_DATA.search(response.get_data(as_text=True))
        if response.status_code != 200 or not match:
            raise RuntimeError(f"steun login: {response.status_code}")
        return str(json.loads(match.group(1))["auth_url"])

    def launch(self, client: FlaskClient, fields: dict[str, str]) -> str:
        response = client.post("/lti/launch", data=fields, headers={"Accept": "text/html"})
        if response.status_code != 303:
            raise RuntimeError(
                f"steun launch: {response.status_code} {response.get_data()[:300]!r}"
            )
        return str(response.headers["Location"])

    follow = False  # --follow: the landing step goes on to the page the redirects end at

    def landing(self, client: FlaskClient, url: str) -> None:
        for _hop in range(3):
            response = client.get(url, headers={"Accept": "text/html"})
            if response.status_code not in (200, 302, 303):
                raise RuntimeError(f"steun landing: {response.status_code}")
            if response.status_code == 200 or not self.follow:
                return
            url = str(response.headers["Location"])

    def consent(self, subs: list[str]) -> None:
        """Let these users have consented (the same as the consent page's POST)."""
        from datetime import UTC, datetime

        from steun_lti.lti.identity import person_id
        from steun_lti.lti.service import services
        from steun_lti.study import service
        from steun_lti.web.teacher_support import runtime
        from xapi.pseudonym import pseudonymise

        with self.app.app_context(), self.database.session() as session:
            key = services().hmac_key
            for sub in subs:
                pseudonym = pseudonymise(key, self.platform.issuer, person_id(sub, {}))
                service.give_consent(session, runtime().study, pseudonym, datetime.now(UTC))


# -- a bare pylti1p3 tool ---------------------------------------------------------------------


class DictCache:
    """The smallest cache pylti1p3's cache storage accepts (get/set with expiry)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, float | None]] = {}

    def get(self, key: str) -> Any:
        found = self.data.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires < time.monotonic():
            self.data.pop(key, None)
            return None
        return value

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        self.data[key] = (value, time.monotonic() + exp if exp else None)


class BareTool:
    """A minimal correct pylti1p3 2.0.0 tool: login redirect, launch, landing from the cache."""

    name = "bare pylti1p3"

    def __init__(self, platform: FakePlatform, base: str = "http://bare.localhost") -> None:
        from flask import request
        from markupsafe import escape
        from pylti1p3.contrib.flask import (
            FlaskCacheDataStorage,
            FlaskMessageLaunch,
            FlaskOIDCLogin,
            FlaskRequest,
        )
        from pylti1p3.tool_config import ToolConfDict

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        conf = ToolConfDict(
            {
                platform.issuer: [
                    {
                        "default": True,
                        "client_id": CLIENT_ID,
                        "auth_login_url": platform.auth_url,
                        "auth_token_url": platform.token_url,
                        "key_set_url": platform.jwks_url,
                        "key_set": None,
                        "deployment_ids": [DEPLOYMENT_ID],
                    }
                ]
            }
        )
        conf.set_private_key(platform.issuer, pem, client_id=CLIENT_ID)
        cache = DictCache()
        app = Flask("bare_pylti1p3")
        app.config.update(SECRET_KEY="bare-benchmark-secret", SERVER_NAME="bare.localhost")

        def storage() -> FlaskCacheDataStorage:
            return FlaskCacheDataStorage(cache)

        @app.route("/login", methods=["GET", "POST"])
        def login() -> Any:
            target = request.values.get("target_link_uri", "")
            oidc = FlaskOIDCLogin(FlaskRequest(), conf, launch_data_storage=storage())
            return oidc.redirect(target)

        @app.post("/launch")
        def launch() -> Any:
            from flask import redirect

            message = FlaskMessageLaunch(FlaskRequest(), conf, launch_data_storage=storage())
            message.set_public_key_caching(storage(), cache_lifetime=7200)
            message.get_launch_data()
            return redirect(f"/landing?launch_id={message.get_launch_id()}", code=303)

        @app.get("/landing")
        def landing() -> Any:
            launch_id = request.args.get("launch_id", "")
            message = FlaskMessageLaunch.from_cache(
                launch_id, FlaskRequest(), conf, launch_data_storage=storage()
            )
            data = message.get_launch_data()
            roles = data.get("https://purl.imsglobal.org/spec/lti/claim/roles", [])
            return (
                "<!doctype html><title>Bare tool</title>"
                f"<p>{escape(data.get('sub'))} ({escape(', '.join(roles))})</p>"
            )

        self.app = app
        self.base = base

    def login(self, client: FlaskClient, params: dict[str, str]) -> str:
        params = {**params, "target_link_uri": self.base + "/launch"}
        response = client.post("/login", data=params)
        if response.status_code != 302:
            raise RuntimeError(f"bare login: {response.status_code}")
        return str(response.headers["Location"])

    def launch(self, client: FlaskClient, fields: dict[str, str]) -> str:
        response = client.post("/launch", data=fields)
        if response.status_code != 303:
            raise RuntimeError(f"bare launch: {response.status_code} {response.get_data()[:300]!r}")
        return str(response.headers["Location"])

    def landing(self, client: FlaskClient, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"bare landing: {response.status_code}")


# -- running flows ------------------------------------------------------------------------------


@contextmanager
def step(tally: Tally, name: str, counter: Counter | None) -> Iterator[None]:
    sql, commits = (counter.statements, counter.commits) if counter else (0, 0)
    start = time.process_time()
    yield
    tally.cpu[name].append(time.process_time() - start)
    if counter is not None:
        tally.sql[name] += counter.statements - sql
        tally.commits[name] += counter.commits - commits


def run_flows(
    tool: Any,
    platform: FakePlatform,
    n: int,
    tally: Tally,
    *,
    subs: Callable[[int], str],
    returning: bool,
    profiler: cProfile.Profile | None = None,
) -> None:
    counter: Counter | None = getattr(tool, "counter", None)
    client = tool.app.test_client()
    redirect = platform.tool
    assert redirect is not None
    for i in range(n):
        if not returning:
            client = tool.app.test_client()
        spec = LaunchSpec(sub=subs(i))
        hint = platform.prepare(spec)
        params = platform.login_params(hint)
        if profiler:
            profiler.enable()
        with step(tally, "login", counter):
            auth_url = tool.login(client, params)
        if profiler:
            profiler.disable()
        fields = sign_for(platform, spec, auth_url)
        platform.launches.pop(hint, None)
        if profiler:
            profiler.enable()
        with step(tally, "launch", counter):
            location = tool.launch(client, fields)
        with step(tally, "landing", counter):
            tool.landing(client, location)
        if profiler:
            profiler.disable()
        tally.flows += 1


def show(name: str, tally: Tally, with_sql: bool) -> None:
    parts = []
    for s in STEPS:
        values = tally.cpu[s]
        parts.append(f"{s} {statistics.fmean(values) * 1000:5.2f}")
    line = f"  {name:<14} CPU ms/flow {tally.flow_ms():6.2f}  (" + ", ".join(parts) + ")"
    print(line)
    if with_sql and tally.flows:
        per = {s: tally.sql[s] / tally.flows for s in STEPS}
        com = {s: tally.commits[s] / tally.flows for s in STEPS}
        print(
            f"  {'':<14} SQL statements per flow {sum(per.values()):4.1f} ("
            + ", ".join(f"{s} {per[s]:.1f}" for s in STEPS)
            + f"); commits {sum(com.values()):3.1f} ("
            + ", ".join(f"{s} {com[s]:.1f}" for s in STEPS)
            + ")"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=300, help="flows per tool per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="Steun on PostgreSQL")
    parser.add_argument("--participants", action="store_true", help="users have consented")
    parser.add_argument("--returning", action="store_true", help="one browser (cookies kept)")
    parser.add_argument(
        "--follow",
        action="store_true",
        help="landing = /study/ and the page it redirects to (consent, pupils or wave)",
    )
    parser.add_argument("--users", type=int, default=50, help="distinct users (sub values)")
    parser.add_argument("--profile", action="store_true", help="cProfile Steun's flows")
    parser.add_argument("--profile-top", type=int, default=35)
    parser.add_argument("--sql-log", action="store_true", help="print one launch's statements")
    args = parser.parse_args()

    import logging

    logging.getLogger("steun").setLevel(logging.WARNING)
    platform = FakePlatform().start()
    postgres = None
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            database_url = None
            if args.postgres:
                from tests.support.postgres import start_postgres

                postgres = start_postgres()
                database_url = postgres.create_database("launch_profile")
            steun = SteunTool(tmp, platform, database_url)
            steun.follow = args.follow
            platform.register_tool(
                ToolRegistration(CLIENT_ID, DEPLOYMENT_ID, "http://localhost/lti/login",
                                 ["http://localhost/lti/launch"], "http://localhost/lti/jwks.json",
                                 "http://localhost/lti/launch")
            )  # fmt: skip
            bare = BareTool(platform)
            users = [f"user-{i}" for i in range(args.users)]
            if args.participants:
                steun.consent(users)

            def subs(i: int) -> str:
                return users[i % len(users)]

            # Warm-up: key sets fetched, templates compiled, connections pooled.
            for tool in (steun, bare):
                run_flows(tool, platform, 20, Tally(), subs=subs, returning=args.returning)
            if args.sql_log:
                steun.counter.log = []
                run_flows(steun, platform, 1, Tally(), subs=subs, returning=args.returning)
                print("SQL of one Steun flow (login, launch, landing):")
                for line in steun.counter.log:
                    print("   ", line)
                steun.counter.log = None
            totals = {"steun": Tally(), "bare": Tally()}
            ratios = []
            server_ms: list[float] = []  # PostgreSQL's own CPU per Steun flow, per round
            server_before = cluster_cpu(postgres.root / "data") if postgres is not None else 0.0
            load = os.getloadavg()
            gc.collect()
            for r in range(args.rounds):
                per_round = {"steun": Tally(), "bare": Tally()}
                order = [("steun", steun), ("bare", bare)]
                # Interleaved in chunks of CHUNK flows, so both tools see the same machine load.
                for chunk in range(0, args.flows, CHUNK):
                    size = min(CHUNK, args.flows - chunk)
                    for key, tool in order if (chunk // CHUNK) % 2 == 0 else order[::-1]:
                        run_flows(tool, platform, size, per_round[key], subs=subs,
                                  returning=args.returning)  # fmt: skip
                for key in totals:
                    for s in STEPS:
                        totals[key].cpu[s].extend(per_round[key].cpu[s])
                        totals[key].sql[s] += per_round[key].sql[s]
                        totals[key].commits[s] += per_round[key].commits[s]
                    totals[key].flows += per_round[key].flows
                if postgres is not None:
                    server = cluster_cpu(postgres.root / "data") - server_before
                    server_before += server
                    server_ms.append(server * 1000 / per_round["steun"].flows)
                ratios.append(per_round["steun"].flow_ms() / per_round["bare"].flow_ms())
                print(
                    f"round {r + 1}: steun {per_round['steun'].flow_ms():6.2f} ms, bare "
                    f"{per_round['bare'].flow_ms():6.2f} ms, ratio {ratios[-1]:.2f}  "
                    f"(load {os.getloadavg()[0]:.2f})"
                )
            load_after = os.getloadavg()
            print(
                f"\nLaunch cost, in-process: {args.rounds} rounds x {args.flows} flows per tool, "
                f"{'PostgreSQL' if args.postgres else 'SQLite'}, "
                f"{'participants' if args.participants else 'not yet consented'}, "
                f"{'returning browser' if args.returning else 'new browser per flow'}"
                f"{', landing followed to its page' if args.follow else ''}; "
                f"load {load[0]:.2f} -> {load_after[0]:.2f}, {os.cpu_count()} CPUs"
            )
            show("Steun", totals["steun"], True)
            show("bare pylti1p3", totals["bare"], False)
            if server_ms:
                print(
                    f"  {'':<14} PostgreSQL server CPU per Steun flow {statistics.fmean(server_ms):5.2f}"
                    " ms (all its processes; the bare tool has no database)"
                )
            median = statistics.median(ratios)
            print(
                f"  CPU ratio Steun / bare: median {median:.2f} (rounds {min(ratios):.2f}-"
                f"{max(ratios):.2f}); throughput Steun / bare ~{1 / median:.2f}"
            )
            if args.profile:
                profiler = cProfile.Profile(time.process_time)  # CPU, not the busy wall clock
                run_flows(steun, platform, args.flows, Tally(), subs=subs,
                          returning=args.returning, profiler=profiler)  # fmt: skip
                for order in ("cumulative", "tottime"):
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(
                        args.profile_top
                    )
                    print(f"\ncProfile of {args.flows} Steun flows, by {order}:")
                    print(re.sub(r"^.*?(?=\s+ncalls)", "", out.getvalue(), count=1, flags=re.S))
            steun.database.dispose()
    finally:
        platform.stop()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
