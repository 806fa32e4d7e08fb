"""Benchmark: Steun's complete LTI 1.3 launch side by side with two peers, in interleaved rounds.

The tools, each with its own fake LMS platform (tests/support/platform.py, RS256 id_tokens):
- Steun: ``steun serve`` (gunicorn, Steun's gthread worker; STEUN_WORKERS x STEUN_THREADS) on
  PostgreSQL, and on SQLite (``--no-sqlite`` leaves it out);
- bare pylti1p3 2.0.0: benchmarks/peers/pylti1p3_tool (Flask, gunicorn gthread, launch data in
  cachelib's FileSystemCache, single-use nonce);
- ltijs 5.9.9 with ltijs-sequelize on the same PostgreSQL cluster: benchmarks/peers/ltijs
  (``npm ci`` there first; node cluster with ``--ltijs-workers`` processes).

Every simulated browser runs the same complete flow (tests/support/lti_peers.py): POST the
login, the platform's authorization (it signs the id_token), POST the launch, follow the tool's
redirects to its landing page; a launch counts only when that page answers 200 with the tool's
own content (Steun: the consent page a new teacher lands on).

Per tool and concurrency the script prints launches/s (median over rounds), p50/p95 of the whole
flow, and the servers' CPU per launch: utime+stime from /proc of the tool's process tree (master
and workers, reaped children included) and, for the tools on PostgreSQL, of the postmaster's tree
(its backends) during the tool's rounds. The 1-minute load average stands beside every figure.
Then the ratios Steun/peer for throughput and for launches per CPU-second, next to the goals
(>= 0.8x bare pylti1p3, >= 3x ltijs).

``--sweep 2x4,3x8,...`` instead measures Steun (PostgreSQL) at several STEUN_WORKERS x
STEUN_THREADS, interleaved with the bare peer as the yardstick.

    .venv/bin/python benchmarks/lti_peers.py [--flows 200] [--rounds 3] [--concurrency 20,5]
    .venv/bin/python benchmarks/lti_peers.py --sweep 2x4,2x8,3x4,3x8,4x4,4x8 --concurrency 20
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from steun_lti.plumbing.settings import Settings  # noqa: E402
from tests.support.lti_peers import (  # noqa: E402
    Browser,
    FlowError,
    Tool,
    bare_tool_available,
    complete_flow,
    ltijs_available,
    start_bare_tool,
    start_ltijs,
    start_steun,
)
from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

# Steun's production defaults (.env.example, docs/admin.md): what measured best on 2 cores
# (docs/benchmarks.md, the sweep).
STEUN_WORKERS = int(Settings.model_fields["workers"].default)
STEUN_THREADS = int(Settings.model_fields["threads"].default)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- CPU of process trees, from /proc ---------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime+stime+cutime+cstime in seconds) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / CLK_TCK


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, each with its reaped children."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                stats[int(entry)] = found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(children.get(pid, []))
    return total


def postmaster_pid(pg: PostgresServer) -> int:
    return int((pg.root / "data" / "postmaster.pid").read_text().split()[0])


# -- rounds ---------------------------------------------------------------------------------


@dataclass
class Round:
    launches: int
    errors: int
    seconds: float
    flow_ms: list[float]
    server_ms: float  # per launch
    pg_ms: float  # per launch, the postmaster's tree (counted only for tools on PostgreSQL)
    driver_ms: float  # this process (driver and platforms) per launch, for information
    load: float

    @property
    def rate(self) -> float:
        return self.launches / self.seconds


@dataclass
class Entry:
    tool: Tool
    uses_pg: bool
    rounds: dict[int, list[Round]] = field(default_factory=dict)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def run_round(
    tool: Tool, flows: int, concurrency: int, pg_root: int | None, first_error: list[str]
) -> Round:
    def one(_i: int) -> float | None:
        try:
            return complete_flow(tool).seconds
        except (FlowError, OSError) as exc:
            if not first_error:
                first_error.append(f"{tool.name}: {exc}")
            return None

    server = tool.process.pid
    cpu0 = tree_cpu(server)
    pg0 = tree_cpu(pg_root) if pg_root else 0.0
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(flows)))
    seconds = time.perf_counter() - start
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu1 = tree_cpu(server)
    pg1 = tree_cpu(pg_root) if pg_root else 0.0
    ok = [r * 1000 for r in results if r is not None]
    n = max(len(ok), 1)
    driver = (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)
    return Round(
        launches=len(ok),
        errors=flows - len(ok),
        seconds=seconds,
        flow_ms=ok,
        server_ms=(cpu1 - cpu0) * 1000 / n,
        pg_ms=(pg1 - pg0) * 1000 / n,
        driver_ms=driver * 1000 / n,
        load=os.getloadavg()[0],
    )


class MeasuringBrowser(Browser):
    """A browser that notes the server CPU (and PostgreSQL's) each of its requests took; only
    meaningful with one browser at a time."""

    def __init__(self, server: int, pg_root: int | None, steps: dict[str, list[float]]) -> None:
        super().__init__()
        self.server, self.pg_root, self.steps = server, pg_root, steps
        self.count = 0

    def request(
        self, method: str, url: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        before = tree_cpu(self.server) + (tree_cpu(self.pg_root) if self.pg_root else 0.0)
        answer = super().request(method, url, form)
        after = tree_cpu(self.server) + (tree_cpu(self.pg_root) if self.pg_root else 0.0)
        path = "/".join(p if len(p) < 24 else "<id>" for p in urlsplit(url).path.split("/"))
        self.count += 1
        step = f"{self.count}. {method} {path} {answer[0]}"
        self.steps.setdefault(step, []).append((after - before) * 1000)
        return answer


def measure_steps(entries: list[Entry], flows: int, pg_root: int | None) -> None:
    """One browser at a time: the server CPU of each request of the flow (1/CLK_TCK resolution,
    so the mean over many flows)."""
    print(
        f"Server CPU per request, {flows} flows one at a time (mean ms; PostgreSQL included where used)"
    )
    for entry in entries:
        steps: dict[str, list[float]] = {}
        for _ in range(flows):
            browser = MeasuringBrowser(
                entry.tool.process.pid, pg_root if entry.uses_pg else None, steps
            )
            complete_flow(entry.tool, browser=browser)
        parts = "  ".join(
            f"{step.split('?')[0][:40]} {statistics.fmean(values):.1f}"
            for step, values in steps.items()
        )
        total = sum(statistics.fmean(v) for v in steps.values())
        print(
            f"  {entry.tool.name:<20} total {total:5.1f}: {parts}  (load {os.getloadavg()[0]:.2f})"
        )
    print()


def cpu_of(entry: Entry, r: Round) -> float:
    return r.server_ms + (r.pg_ms if entry.uses_pg else 0.0)


def run_rounds(
    entries: list[Entry],
    *,
    flows: int,
    rounds: int,
    concurrencies: list[int],
    warmup: int,
    pg_root: int | None,
) -> list[str]:
    errors: list[str] = []
    for concurrency in concurrencies:
        for entry in entries:  # warm-up: workers started, keys and registrations cached
            run_round(entry.tool, warmup, concurrency, pg_root, errors)
        for number in range(1, rounds + 1):
            # Each round starts with the next tool, so none always runs first (the load drifts).
            shift = (number - 1) % len(entries)
            for entry in entries[shift:] + entries[:shift]:
                r = run_round(
                    entry.tool, flows, concurrency, pg_root if entry.uses_pg else None, errors
                )
                entry.rounds.setdefault(concurrency, []).append(r)
                pg = f" + PostgreSQL {r.pg_ms:5.1f}" if entry.uses_pg else ""
                print(
                    f"  c={concurrency:<3} round {number}  {entry.tool.name:<24} {r.rate:7.1f} launches/s"
                    f"  p50 {percentile(r.flow_ms, .5):6.1f} ms  p95 {percentile(r.flow_ms, .95):6.1f} ms"
                    f"  CPU/launch {r.server_ms:5.1f}{pg} ms  (driver {r.driver_ms:4.1f})"
                    f"  errors {r.errors}  load {r.load:.2f}",
                    flush=True,
                )  # fmt: skip
    return errors


def summary(entry: Entry, concurrency: int) -> tuple[float, float, float, float, str]:
    rs = entry.rounds[concurrency]
    rate = statistics.median(r.rate for r in rs)
    all_ms = [ms for r in rs for ms in r.flow_ms]
    cpu = statistics.median(cpu_of(entry, r) for r in rs)
    loads = [r.load for r in rs]
    return (
        rate,
        percentile(all_ms, 0.5),
        percentile(all_ms, 0.95),
        cpu,
        f"{min(loads):.2f}-{max(loads):.2f}",
    )


def paired_ratio(a: Entry, b: Entry, concurrency: int, key: str) -> float:
    """Median over rounds of a/b measured in the same round (neighbours in time)."""
    values = []
    for ra, rb in zip(a.rounds[concurrency], b.rounds[concurrency], strict=True):
        if key == "rate":
            values.append(ra.rate / rb.rate if rb.rate else 0.0)
        else:  # launches per CPU-second: the peer's CPU per launch over Steun's
            values.append(cpu_of(b, rb) / cpu_of(a, ra) if cpu_of(a, ra) else 0.0)
    return statistics.median(values)


def report(entries: list[Entry], concurrencies: list[int], goals: bool) -> None:
    print()
    for concurrency in concurrencies:
        print(
            f"{concurrency} concurrent browsers (median over {len(entries[0].rounds[concurrency])} rounds)"
        )
        print(
            f"  {'tool':<24} {'launches/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms/launch':>14}  load"
        )
        for entry in entries:
            rate, p50, p95, cpu, load = summary(entry, concurrency)
            print(f"  {entry.tool.name:<24} {rate:10.1f} {p50:8.1f} {p95:8.1f} {cpu:14.1f}  {load}")
        if not goals:
            continue
        steuns = [e for e in entries if e.tool.name.startswith("Steun")]
        peers = {"bare pylti1p3": 0.8, "ltijs": 3.0}
        for steun in steuns:
            for peer in entries:
                if peer.tool.name not in peers:
                    continue
                goal = peers[peer.tool.name]
                rate = paired_ratio(steun, peer, concurrency, "rate")
                cpu = paired_ratio(steun, peer, concurrency, "cpu")
                loads = [r.load for r in steun.rounds[concurrency] + peer.rounds[concurrency]]
                print(
                    f"  {steun.tool.name} / {peer.tool.name:<14} throughput {rate:5.2f}x"
                    f"  launches per CPU-second {cpu:5.2f}x   goal >= {goal}x"
                    f"  [{'met' if min(rate, cpu) >= goal else 'not met'}]"
                    f"  load {min(loads):.2f}-{max(loads):.2f}"
                )  # fmt: skip
        print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=200, help="launches per tool per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="20,5", help="comma-separated browsers at once")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--workers", type=int, default=STEUN_WORKERS, help="Steun's STEUN_WORKERS")
    parser.add_argument("--threads", type=int, default=STEUN_THREADS, help="Steun's STEUN_THREADS")
    parser.add_argument("--bare-workers", type=int, default=None, help="default: --workers")
    parser.add_argument("--bare-threads", type=int, default=None, help="default: --threads")
    parser.add_argument("--ltijs-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-sqlite", action="store_true", help="Steun on PostgreSQL only")
    parser.add_argument("--no-ltijs", action="store_true")
    parser.add_argument("--sweep", default=None, help="WxT,... : Steun at these settings")
    parser.add_argument(
        "--steps", type=int, default=0, help="first, N flows one at a time: server CPU per request"
    )
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    missing = bare_tool_available()
    if missing:
        raise SystemExit(f"the bare pylti1p3 peer cannot run: {missing}")
    with_ltijs = not args.no_ltijs and not args.sweep
    if with_ltijs and (why := ltijs_available()):
        raise SystemExit(f"the ltijs peer cannot run: {why} (make bench installs it)")

    print(
        f"LTI launch, Steun beside its peers: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start; "
        f"{args.flows} launches per tool per round, {args.rounds} rounds, concurrency {args.concurrency}",
        flush=True,
    )  # fmt: skip
    pg = start_postgres()
    tools: list[Entry] = []
    try:
        with tempfile.TemporaryDirectory(prefix="steun-peers-") as tmp:
            work = Path(tmp)
            bare = (args.bare_workers or args.workers, args.bare_threads or args.threads)
            if args.sweep:
                for spec in args.sweep.split(","):
                    w, t = (int(x) for x in spec.lower().split("x"))
                    url = pg.create_database(f"steun_{w}x{t}")
                    tool = start_steun(work / spec, workers=w, threads=t, database_url=url)
                    tool.name = f"Steun {w}x{t}"
                    tools.append(Entry(tool, uses_pg=True))
            else:
                url = pg.create_database("steun_pg")
                tool = start_steun(
                    work / "pg", workers=args.workers, threads=args.threads, database_url=url
                )
                tools.append(Entry(tool, uses_pg=True))
                if not args.no_sqlite:
                    tool = start_steun(work / "sqlite", workers=args.workers, threads=args.threads)
                    tools.append(Entry(tool, uses_pg=False))
            tools.append(
                Entry(
                    start_bare_tool(work / "bare", workers=bare[0], threads=bare[1]), uses_pg=False
                )
            )
            if with_ltijs:
                pg.create_database("ltijs")
                tools.append(
                    Entry(start_ltijs(pg.port, "ltijs", workers=args.ltijs_workers), uses_pg=True)
                )
            print(
                f"  Steun {args.workers} workers x {args.threads} threads; bare pylti1p3 gunicorn gthread "
                f"{bare[0]} x {bare[1]}; ltijs {args.ltijs_workers} node process(es). CPU per launch counts "
                "each server's process tree, plus the PostgreSQL backends for Steun (PostgreSQL) and ltijs.",
                flush=True,
            )  # fmt: skip
            idle = {e.tool.name: tree_cpu(e.tool.process.pid) for e in tools}
            pg_idle = tree_cpu(postmaster_pid(pg))
            time.sleep(5)
            rates = "  ".join(
                f"{e.tool.name} {(tree_cpu(e.tool.process.pid) - idle[e.tool.name]) * 200:.1f}"
                for e in tools
            )
            pg_rate = (tree_cpu(postmaster_pid(pg)) - pg_idle) * 200
            print(f"  idle CPU, ms per second: {rates}  PostgreSQL {pg_rate:.1f}", flush=True)
            if args.steps:
                measure_steps(tools, args.steps, postmaster_pid(pg))
            errors = run_rounds(
                tools,
                flows=args.flows,
                rounds=args.rounds,
                concurrencies=concurrencies,
                warmup=args.warmup,
                pg_root=postmaster_pid(pg),
            )
            if args.rounds:
                report(tools, concurrencies, goals=not args.sweep)
            if args.sweep and args.rounds:
                bare_entry = tools[-1]
                for concurrency in concurrencies:
                    print(
                        f"Sweep at {concurrency} concurrent: Steun (PostgreSQL) / bare pylti1p3 in the same rounds"
                    )
                    for entry in tools[:-1]:
                        rate = paired_ratio(entry, bare_entry, concurrency, "rate")
                        cpu = paired_ratio(entry, bare_entry, concurrency, "cpu")
                        print(
                            f"  {entry.tool.name:<12} throughput {rate:5.2f}x  launches per CPU-second {cpu:5.2f}x"
                        )
            if errors:
                print(f"failed launches (first): {errors[0]}")
    finally:
        for entry in tools:
            entry.tool.stop()
        pg.stop()


if __name__ == "__main__":
    main()
