"""Autosave under load: N teachers answering at once against `steun serve` (gunicorn).

Every simulated teacher has consented, added a pupil and opened a questionnaire; then each one
saves answers one after the other as fast as the server lets it (``POST .../answer``, JSON, the
request the page's script sends on every click), for a fixed time. Prints saves per second and
latency percentiles, on SQLite and on PostgreSQL (a throwaway cluster, or STEUN_BENCH_POSTGRES_URL).

    python benchmarks/autosave.py                      # both databases, 50 teachers, 10 s
    python benchmarks/autosave.py --teachers 100 --seconds 20 --database postgresql

Target (issue 5): at least 500 saves/s with p95 under 50 ms at 50 teachers on PostgreSQL, 2 cores.
The real xAPI outbox handler runs: every save also queues its statement, as in production.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(data_dir: Path, database_url: str, teachers: int) -> list[dict[str, str]]:
    """Migrate, seed teachers with consent, a pupil and an open attempt; return their credentials."""
    from datetime import UTC, datetime

    from steun_lti.app import create_app
    from steun_lti.lti import flow
    from steun_lti.lti.launch import SESSION_KEY, LaunchContext
    from steun_lti.lti.registration import add_platform
    from steun_lti.plumbing.db import Database
    from steun_lti.plumbing.migrations import upgrade
    from steun_lti.plumbing.settings import Settings
    from steun_lti.study import service
    from steun_lti.web.teacher_support import csrf_token, load_runtime

    settings = Settings(data_dir=data_dir, database_url=database_url)
    database = Database(database_url)
    upgrade(database)
    runtime = load_runtime(settings)
    study, registry = runtime.study, runtime.registry
    wave = study.waves[0]
    app = create_app(settings, database=database)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    credentials = []
    # Every request re-checks its launch (issue 14): each teacher's session has a launch record
    # behind it, of a registered platform and deployment, as a verified launch leaves.
    with database.session() as session:
        registration = add_platform(
            session,
            issuer="https://lms.bench.example",
            client_id="bench",
            auth_login_url="https://lms.bench.example/auth",
            auth_token_url="https://lms.bench.example/token",
            key_set_url="https://lms.bench.example/jwks",
            deployment_ids=("dep-bench",),
        )
        registration_id = registration.id
        session.commit()
    for n in range(teachers):
        launch = LaunchContext(
            pseudonym=f"bench-{n:04d}-" + "x" * 30,
            context_pseudonym="bench",
            roles=("teacher",),
            launch_id=f"bench-{n}",
            registration_id=registration_id,
            deployment_id="dep-bench",
        )
        with database.session() as session:
            flow.store_launch(
                session, launch, {}, registration_id=registration_id, sealed_subject=None
            )
            session.commit()
        with database.session() as session:
            service.give_consent(session, study, launch.pseudonym, now)
            child = service.add_child(session, study, launch.pseudonym, ["other"], None, now)
            attempt = service.open_attempt(
                session, study, registry, child, wave, "demo-relationship", "teacher", now
            )
            attempt_id = attempt.id
        with app.test_request_context():
            token = csrf_token(launch)
        credentials.append(
            {
                "cookie": serializer.dumps({SESSION_KEY: launch.to_dict()}),
                "csrf": token,
                "path": f"/study/attempt/{attempt_id}/answer",
            }
        )
    database.dispose()
    return credentials


def client_process(
    base: str,
    teachers: list[dict[str, str]],
    start_at: float,
    measure_from: float,
    stop_at: float,
    out: Any,
    interval: float = 0.0,
) -> None:
    """One load process: a thread per teacher, each saving answers back to back.

    With ``interval`` > 0 each teacher saves on a fixed schedule instead (open loop: one save every
    ``interval`` seconds), and latency counts from the scheduled moment, so a slow server cannot
    hide its queueing by slowing the load down.

    Plain ``http.client`` (not requests) keeps the load generator's own CPU use small: it runs
    on the same cores as the server.
    """
    import http.client
    import json
    from urllib.parse import urlsplit

    host = urlsplit(base)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def teacher(cred: dict[str, str]) -> None:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRF-Token": cred["csrf"],
            "Cookie": "session=" + cred["cookie"],
        }
        rng = random.Random(cred["path"])
        mine: list[float] = []
        failed = 0
        item = 0
        connection: http.client.HTTPConnection | None = None
        while time.time() < start_at:
            time.sleep(0.005)
        scheduled = start_at + rng.random() * interval
        while True:
            if interval > 0:
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
            now = time.time()
            if now >= stop_at:
                break
            due = scheduled if interval > 0 else now
            scheduled += interval
            item = item % 28 + 1
            body = json.dumps({"item": f"rel{item:02d}", "value": rng.randint(1, 5)})
            began = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
                connection.request("POST", cred["path"], body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                ok = False
                if connection is not None:
                    connection.close()
                connection = None
            elapsed = time.perf_counter() - began + (now - due)
            if now < measure_from:
                continue  # warm-up: connections, caches, pools
            if ok:
                mine.append(elapsed)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=teacher, args=(c,)) for c in teachers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((latencies, errors[0]))


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited early")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def run(label: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="steun-bench-"))
    credentials = prepare(data_dir / "var", database_url, args.teachers)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
    env.update(
        STEUN_DATA_DIR=str(data_dir / "var"),
        STEUN_DATABASE_URL=database_url,
        STEUN_PORT=str(port),
        STEUN_BASE_URL=f"http://127.0.0.1:{port}",
        STEUN_LOG_LEVEL="WARNING",
        STEUN_LRS__ENDPOINT=f"http://127.0.0.1:{free_port()}/xapi/",  # nobody there: statements wait
        PYTHONPATH=str(ROOT),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "steun_lti", "serve", "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", server)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        start_at = time.time() + 2.0
        measure_from = start_at + args.warmup
        stop_at = measure_from + args.seconds
        groups = [credentials[i :: args.clients] for i in range(args.clients)]
        interval = args.teachers / args.rate if args.rate else 0.0
        procs = [
            context.Process(
                target=client_process,
                args=(base, g, start_at, measure_from, stop_at, queue, interval),
            )
            for g in groups
            if g
        ]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "database": label,
        "saves_per_s": len(latencies) / args.seconds,
        "p50_ms": quantiles[49] * 1000,
        "p95_ms": quantiles[94] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "saves": len(latencies),
        "errors": errors,
    }


def cpu_per_save(label: str, database_url: str, saves: int) -> dict[str, Any]:
    """The tool's own CPU time per save (in-process, one thread): robust on a busy machine.

    Wall-clock figures depend on what else runs; CPU seconds per request do not (much). On 2
    cores the tool alone could serve about ``2000 / cpu_ms`` saves per second.
    """
    from steun_lti.app import create_app
    from steun_lti.plumbing.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="steun-bench-cpu-")) / "var"
    cred = prepare(data_dir, database_url, 1)[0]
    app = create_app(Settings(data_dir=data_dir, database_url=database_url))
    client = app.test_client()
    client.set_cookie("session", cred["cookie"], domain="localhost")
    headers = {"X-CSRF-Token": cred["csrf"]}

    def burst(n: int) -> None:
        for i in range(n):
            body = {"item": f"rel{i % 28 + 1:02d}", "value": i % 5 + 1}
            assert client.post(cred["path"], json=body, headers=headers).status_code == 200

    burst(100)  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    burst(saves)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"database": label, "cpu_ms": cpu / saves * 1000, "wall_ms": wall / saves * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--teachers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--workers", type=int, default=None, help="default: STEUN_WORKERS's (.env.example)"
    )
    parser.add_argument("--clients", type=int, default=2, help="load-generating processes")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offered saves per second for all teachers together, on a fixed schedule "
        "(open loop); 0: every teacher saves again as soon as the last save returns",
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--cpu-saves",
        type=int,
        default=1000,
        help="saves for the in-process CPU-time figure (0: skip)",
    )
    args = parser.parse_args()
    if args.workers is None:
        from steun_lti.plumbing.settings import Settings

        args.workers = Settings.model_fields["workers"].default

    print(
        f"autosave: {args.teachers} teachers, {args.seconds:g} s (+{args.warmup:g} s warm-up), "
        f"{args.workers} gunicorn workers, {args.clients} client processes, {os.cpu_count()} CPUs, "
        + (f"offered {args.rate:g} saves/s (open loop)" if args.rate else "closed loop")
    )
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = []
    cpu_rows = []
    if args.database in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp(prefix="steun-bench-db-")) / "steun.sqlite3"
        rows.append(run("sqlite", f"sqlite:///{path}", args))
        if args.cpu_saves:
            cpu_path = Path(tempfile.mkdtemp(prefix="steun-bench-db-")) / "cpu.sqlite3"
            cpu_rows.append(cpu_per_save("sqlite", f"sqlite:///{cpu_path}", args.cpu_saves))
    if args.database in ("postgresql", "both"):
        url = os.environ.get("STEUN_BENCH_POSTGRES_URL")
        server = None
        if not url:
            from tests.support.postgres import start_postgres

            server = start_postgres()
            url = server.create_database("bench")
        try:
            rows.append(run("postgresql", url, args))
            if args.cpu_saves:
                cpu_url = server.create_database("bench_cpu") if server else url
                cpu_rows.append(cpu_per_save("postgresql", cpu_url, args.cpu_saves))
        finally:
            if server is not None:
                server.stop()
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"{'database':<11} {'saves/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for row in rows:
        print(
            f"{row['database']:<11} {row['saves_per_s']:>9.0f} {row['p50_ms']:>8.1f} "
            f"{row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['errors']:>7}"
        )
    if cpu_rows:
        print("in-process, one thread (the tool's CPU time per save, without the database server):")
        print(f"{'database':<11} {'cpu ms':>8} {'wall ms':>8} {'2-core ceiling/s':>17}")
        for row in cpu_rows:
            print(
                f"{row['database']:<11} {row['cpu_ms']:>8.2f} {row['wall_ms']:>8.2f} "
                f"{2000 / row['cpu_ms']:>17.0f}"
            )


if __name__ == "__main__":
    main()
