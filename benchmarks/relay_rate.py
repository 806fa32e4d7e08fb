"""Cost of the shared rate limit: one token-bucket upsert (steun_lti.plumbing.ratelimit.take) per request.

Each of W threads (standing in for gunicorn workers, each with its own connection) takes tokens
from its own client key and commits after every take, as the relay's refusal path does; the
accepted path adds the upsert to the transaction the relay commits anyway. Prints takes per second
and per CPU second, and latency percentiles, on SQLite and PostgreSQL (a throwaway cluster, or
STEUN_BENCH_POSTGRES_URL).

    python benchmarks/relay_rate.py                    # both databases, 4 workers, 3 s
    python benchmarks/relay_rate.py --workers 8 --seconds 5 --database sqlite
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from steun_lti.plumbing.db import Database  # noqa: E402
from steun_lti.plumbing.migrations import upgrade  # noqa: E402
from steun_lti.plumbing.ratelimit import bucket_key, take  # noqa: E402


def run(
    name: str, url: str, workers: int, seconds: float
) -> tuple[str, float, float, float, float]:
    db = Database(url)
    upgrade(db)
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    start = threading.Barrier(workers + 1)

    def worker(n: int) -> None:
        key = bucket_key("bench", "relay", f"192.0.2.{n}")
        own: list[float] = []
        start.wait()
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            with db.session() as session:
                take(session, key, rate=1000.0, burst=1000)
            own.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    db.dispose()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return name, len(latencies) / wall, len(latencies) / max(cpu, 1e-9), q[49] * 1000, q[94] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    rows = []
    if args.database in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp(prefix="steun-bench-rate-")) / "steun.sqlite3"
        rows.append(run("sqlite", f"sqlite:///{path}", args.workers, args.seconds))
    if args.database in ("postgresql", "both"):
        url = os.environ.get("STEUN_BENCH_POSTGRES_URL")
        server = None
        if not url:
            from tests.support.postgres import start_postgres

            server = start_postgres()
            url = server.create_database("bench_rate")
        try:
            rows.append(run("postgresql", url, args.workers, args.seconds))
        finally:
            if server is not None:
                server.stop()
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'database':<11} {'takes/s':>9} {'per CPU s':>10} {'p50 ms':>8} {'p95 ms':>8}")
    for name, rate, per_cpu, p50, p95 in rows:
        print(f"{name:<11} {rate:>9.0f} {per_cpu:>10.0f} {p50:>8.2f} {p95:>8.2f}")


if __name__ == "__main__":
    main()
