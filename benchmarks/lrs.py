"""Benchmark of the embedded LRS over HTTP (the real `steun lrs serve` process, gunicorn).

For each database engine it fills the store to growing sizes and, at each size, measures:
  - POST throughput and latency with batches of 1 and of 100 statements;
  - the latency of a single GET by statement id;
and at the end the time to page through all statements with `more` (with Steun's own client,
xapi.client.LrsClient, as `steun export` reads them).

    python benchmarks/lrs.py                      # 0, 10k and 100k stored; SQLite and PostgreSQL
    python benchmarks/lrs.py --full               # 0, 10k, 100k and 1M stored
    python benchmarks/lrs.py --engines sqlite --sizes 0 50000
    python benchmarks/lrs.py --engines postgresql --pg-set shared_buffers=4GB  # a setting

Filling between sizes goes straight into the store (batches of 5,000), not over HTTP.
"per CPU-s" counts statements stored per CPU-second used by the LRS workers (and the
PostgreSQL backends): a figure that holds on a busy machine, where wall-clock rates do not.
On 2 free cores the wall-clock rate approaches twice the per-CPU-second rate. Every figure
has the load average (1 minute) beside it, read before and after it was measured.

At the end a summary compares each engine with the goals of issues 7 and 16 (batch POST of 100
at least 5,000 statements/s; the largest size within 10% of 10k; paging through 1M in under
60 s; single POST p95 under 20 ms) and with the figures issue 16 reported before this work
(batch about 2,600 statements/s, paging 1M 65-85 s, single POST 160-330/s at 1M).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xapi.client import LrsClient  # noqa: E402
from xapi.lrs.admin import add_credential  # noqa: E402
from xapi.lrs.store import Credential, Store  # noqa: E402
from xapi.lrs.validation import validate_statement  # noqa: E402

VERBS = [
    "http://adlnet.gov/expapi/verbs/answered",
    "http://adlnet.gov/expapi/verbs/completed",
    "http://adlnet.gov/expapi/verbs/attempted",
    "https://w3id.org/xapi/scorm/verbs/initialized",
    "http://adlnet.gov/expapi/verbs/terminated",
]


def make_statement(rng: random.Random) -> dict[str, Any]:
    item = rng.randrange(40)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "actor": {
            "objectType": "Agent",
            "account": {
                "homePage": "https://steun.example.nl",
                "name": f"p-{rng.randrange(5000):05d}",
            },
        },
        "verb": {"id": rng.choice(VERBS), "display": {"nl-NL": "beantwoordde"}},
        "object": {
            "objectType": "Activity",
            "id": f"https://steun.example.nl/xapi/instrument/demo-relatie/v1/item/q{item:02d}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "likert",
                "name": {"nl-NL": f"Vraag {item}"},
                "scale": [{"id": str(i), "description": {"nl-NL": f"{i}"}} for i in range(1, 6)],
            },
        },
        "result": {"response": str(rng.randrange(1, 6))},
        "context": {
            "registration": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "language": "nl-NL",
            "contextActivities": {
                "parent": [{"id": "https://steun.example.nl/xapi/instrument/demo-relatie/v1"}],
                "grouping": [
                    {
                        "id": f"https://steun.example.nl/xapi/study/steun/wave/t{rng.randrange(1, 4)}"
                    },
                    {"id": "https://steun.example.nl/xapi/study/steun"},
                ],
            },
            "extensions": {"https://steun.example.nl/xapi/ext/child-code": rng.choice("ABCDE")},
        },
        "timestamp": "2027-03-16T10:12:00+01:00",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
    env.update(
        STEUN_DATA_DIR=str(data_dir),
        STEUN_LRS_SERVER__DATABASE_URL=url,
        STEUN_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    cmd = [
        sys.executable,
        "-m",
        "steun_lti",
        "lrs",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}/xapi/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(endpoint + "about", timeout=1).ok:
                return proc, endpoint
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the LRS did not start")


def fill(store: Store, count: int, rng: random.Random) -> float:
    credential = Credential(0, "bench-fill", frozenset({"all"}), "bench fill")
    started = time.perf_counter()
    done = 0
    while done < count:
        n = min(5000, count - done)
        store.store_statements(
            [validate_statement(make_statement(rng), copy=False) for _ in range(n)], credential
        )
        done += n
    return time.perf_counter() - started


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their descendants:
    the LRS workers, and for PostgreSQL its backends. Unlike wall time, it does not depend on
    what else the machine is running."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    wanted = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _ticks) in table.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    return sum(table[p][1] for p in wanted if p in table) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def measure(
    endpoint: str, auth: tuple[str, str], rng: random.Random, clients: int, roots: list[int]
) -> dict[str, float]:
    headers = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
    sessions = [requests.Session() for _ in range(clients)]
    for s in sessions:
        s.auth = auth
        s.headers.update(headers)

    def post_many(session: requests.Session, batches: list[str]) -> list[float]:
        times = []
        for body in batches:
            t0 = time.perf_counter()
            r = session.post(endpoint + "statements", data=body)
            times.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"POST failed: {r.status_code} {r.text[:200]}")
        return times

    results: dict[str, float] = {"load_before": os.getloadavg()[0]}
    for size, rounds in ((1, 150), (100, 20)):
        payloads = [
            [json.dumps([make_statement(rng) for _ in range(size)]) for _ in range(rounds)]
            for _ in range(clients)
        ]
        t0, cpu0 = time.perf_counter(), tree_cpu(roots)
        with ThreadPoolExecutor(clients) as pool:
            latencies = [x for part in pool.map(post_many, sessions, payloads) for x in part]
        elapsed, cpu = time.perf_counter() - t0, tree_cpu(roots) - cpu0
        results[f"post{size}_per_s"] = size * rounds * clients / elapsed
        results[f"post{size}_per_cpu_s"] = size * rounds * clients / max(cpu, 0.01)
        results[f"post{size}_p50_ms"] = statistics.median(latencies) * 1000
        results[f"post{size}_p95_ms"] = pct(latencies, 95) * 1000
    # GET by id: ids of statements just posted are random; read some back.
    page = sessions[0].get(endpoint + "statements", params={"limit": 200, "format": "ids"}).json()
    ids = [s["id"] for s in page["statements"]]
    latencies = []
    for sid in ids:
        t0 = time.perf_counter()
        r = sessions[0].get(endpoint + "statements", params={"statementId": sid})
        latencies.append(time.perf_counter() - t0)
        r.raise_for_status()
    results["get_p50_ms"] = statistics.median(latencies) * 1000
    results["get_p95_ms"] = pct(latencies, 95) * 1000
    # A researcher's filtered query: one participant's statements (about 1 in 5,000 actors).
    latencies = []
    for _ in range(50):
        agent = {
            "objectType": "Agent",
            "account": {
                "homePage": "https://steun.example.nl",
                "name": f"p-{rng.randrange(5000):05d}",
            },
        }
        t0 = time.perf_counter()
        r = sessions[0].get(endpoint + "statements", params={"agent": json.dumps(agent)})
        latencies.append(time.perf_counter() - t0)
        r.raise_for_status()
    results["agent_p50_ms"] = statistics.median(latencies) * 1000
    results["load_after"] = os.getloadavg()[0]
    return results


def page_through(endpoint: str, auth: tuple[str, str]) -> tuple[int, float]:
    """Read every statement with `more`, as Steun's own client does for `steun export`
    (xapi.client.LrsClient.iter_statements without a limit: the LRS's page size, 500; the next
    page requested before the current one is parsed)."""
    t0 = time.perf_counter()
    with LrsClient(endpoint, auth[0], auth[1], timeout=120) as client:
        count = sum(1 for _ in client.iter_statements())
    return count, time.perf_counter() - t0


def run_engine(
    engine: str, sizes: list[int], workers: int, clients: int, pg_settings: dict[str, str]
) -> dict[str, Any]:
    """Measure one engine at growing sizes; returns its rows and its paging figures."""
    root = Path(tempfile.mkdtemp(prefix="steun-lrs-bench-"))
    pg = None
    rows: list[dict[str, float]] = []
    paging: dict[str, float] = {}
    try:
        if engine == "postgresql":
            from tests.support.postgres import start_postgres

            pg = start_postgres()
            url = pg.create_database("lrs_bench")
            if pg_settings:
                import psycopg

                dsn = url.replace("postgresql+psycopg", "postgresql")
                with psycopg.connect(dsn, autocommit=True) as db:
                    for name, value in pg_settings.items():
                        db.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # benchmark input
                # A restart, for those that need one (shared_buffers); pg_ctl keeps the options.
                pg._run(
                    "pg_ctl",
                    "-D",
                    str(pg.root / "data"),
                    "-l",
                    str(pg.root / "log"),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "60",
                    "restart",
                )
                with psycopg.connect(dsn) as db:
                    for name in pg_settings:
                        row = db.execute(f"SHOW {name}").fetchone()  # benchmark input
                        assert row is not None and row[0] == pg_settings[name], (name, row)
        else:
            url = f"sqlite:///{root / 'lrs.sqlite3'}"
        store = Store(url)
        store.create_schema()
        auth = add_credential(url, ["all"], "benchmark")
        proc, endpoint = start_server(root / "var", url, workers)
        roots = [proc.pid]
        if pg is not None:
            roots.append(int((pg.root / "data" / "postmaster.pid").read_text().split()[0]))
        rng = random.Random(7)
        try:
            stored = 0
            print(
                f"\n== {engine}{f' {pg_settings}' if pg else ''}: {workers} gunicorn workers"
                f" (4 threads each), {clients} client "
                f"threads with keep-alive connections; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            )
            print(
                f"{'stored':>9} | {'POST x100 st/s':>14} {'per CPU-s':>9} {'p95 ms':>7} | "
                f"{'POST x1 /s':>10} {'per CPU-s':>9} {'p50 ms':>7} {'p95 ms':>7} | "
                f"{'GET p50':>7} {'p95 ms':>7} | {'agent= p50':>10} | {'load':>9} | fill"
            )
            for size in sizes:
                fill_s = 0.0
                if size > stored:
                    fill_s = fill(store, size - stored, rng)
                    stored = size
                r = measure(endpoint, auth, rng, clients, roots)
                r["size"] = size
                rows.append(r)
                stored += 150 * clients + 2000 * clients
                print(
                    f"{size:>9,} | {r['post100_per_s']:>14,.0f} {r['post100_per_cpu_s']:>9,.0f} "
                    f"{r['post100_p95_ms']:>7.1f} | {r['post1_per_s']:>10,.0f} "
                    f"{r['post1_per_cpu_s']:>9,.0f} {r['post1_p50_ms']:>7.1f} "
                    f"{r['post1_p95_ms']:>7.1f} | {r['get_p50_ms']:>7.1f} {r['get_p95_ms']:>7.1f} | "
                    f"{r['agent_p50_ms']:>7.1f} ms | {r['load_before']:>4.1f}-{r['load_after']:<4.1f} | "
                    f"{fill_s:.0f}s",
                    flush=True,
                )
            load0 = os.getloadavg()[0]
            cpu0, client0 = tree_cpu(roots), time.process_time()
            count, seconds = page_through(endpoint, auth)
            cpu, client = tree_cpu(roots) - cpu0, time.process_time() - client0
            paging = {
                "count": count,
                "seconds": seconds,
                "server_cpu": cpu,
                "client_cpu": client,
                "load_before": load0,
                "load_after": os.getloadavg()[0],
            }
            print(
                f"page through {count:,} statements (500 per page): {seconds:.1f} s wall "
                f"({count / seconds:,.0f} st/s), {cpu:.1f} CPU-s in the LRS"
                f"{' and PostgreSQL' if pg else ''} ({count / max(cpu, 0.01):,.0f} st per CPU-s), "
                f"{client:.1f} CPU-s in the client (xapi.client: reading and parsing the JSON); "
                f"load {load0:.1f}-{paging['load_after']:.1f}",
                flush=True,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            store.dispose()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    return {"engine": engine, "rows": rows, "paging": paging}


# Issue 16's figures from before this work (load about 1), for the summary.
BEFORE = {"batch": 2_600, "paging_s": (65, 85), "single_at_1m": (160, 330)}
GOAL_BATCH, GOAL_PAGING_S, GOAL_SINGLE_P95_MS = 5_000, 60.0, 20.0


def summary(results: list[dict[str, Any]]) -> None:
    """Each engine against the goals and against the figures before."""
    print("\n== summary against the goals (issues 7 and 16) and the figures before (issue 16)")
    for result in results:
        rows, paging = result["rows"], result["paging"]
        if not rows:
            continue
        top = rows[-1]
        size = f"{int(top['size']):,}"
        load = f"load {top['load_before']:.1f}-{top['load_after']:.1f}"
        print(f"-- {result['engine']} (largest size {size} stored)")
        batch, per_cpu = top["post100_per_s"], top["post100_per_cpu_s"]
        print(
            f"  batch POST x100 at {size}: {batch:,.0f} st/s wall = {batch / GOAL_BATCH:.2f} x the "
            f"goal of 5,000 ({'met' if batch >= GOAL_BATCH else 'not met'}), "
            f"{batch / BEFORE['batch']:.2f} x issue 16's 2,600; {per_cpu:,.0f} st per server "
            f"CPU-s = {per_cpu / GOAL_BATCH:.2f} x 5,000; {load}"
        )
        base = next((r for r in rows if r["size"] == 10_000), None)
        if base is not None and base is not top:
            wall, cpu = batch / base["post100_per_s"], per_cpu / base["post100_per_cpu_s"]

            def within(ratio: float) -> str:
                return "within 10%" if 0.9 <= ratio <= 1.1 else "not within 10%"

            print(
                f"  flat: at {size} vs 10k, wall {wall:.2f} ({within(wall)}; compare at a "
                f"similar load only), per CPU-s {cpu:.2f} ({within(cpu)}); 10k at load "
                f"{base['load_before']:.1f}-{base['load_after']:.1f}, {load}"
            )
        p95 = top["post1_p95_ms"]
        print(
            f"  single POST at {size}: p95 {p95:.1f} ms vs the goal of 20 ms "
            f"({'met' if p95 < GOAL_SINGLE_P95_MS else 'not met'}); {top['post1_per_s']:,.0f}/s "
            f"wall ({top['post1_per_cpu_s']:,.0f} per server CPU-s) vs issue 16's 160-330/s at "
            f"1M; {load}"
        )
        if paging:
            seconds, count = paging["seconds"], paging["count"]
            per_million = seconds * 1_000_000 / max(count, 1)
            note = "" if count >= 1_000_000 else f" (scaled from {count:,})"
            print(
                f"  paging: {per_million:.1f} s per 1M{note} vs the goal of 60 s "
                f"({'met' if per_million < GOAL_PAGING_S else 'not met'}) and issue 16's 65-85 s; "
                f"server {paging['server_cpu']:.1f} CPU-s, client {paging['client_cpu']:.1f} "
                f"CPU-s; load {paging['load_before']:.1f}-{paging['load_after']:.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--full", action="store_true", help="sizes 0, 10k, 100k and 1M")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument(
        "--pg-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the throwaway cluster (ALTER SYSTEM, restarted), e.g. "
        "max_wal_size=8GB; repeatable",
    )
    args = parser.parse_args()
    sizes = args.sizes or ([0, 10_000, 100_000, 1_000_000] if args.full else [0, 10_000, 100_000])
    settings = dict(item.split("=", 1) for item in args.pg_set)
    results = [
        run_engine(engine, sorted(sizes), args.workers, args.clients, settings)
        for engine in args.engines
    ]
    summary(results)


if __name__ == "__main__":
    main()
