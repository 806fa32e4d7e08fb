"""Learning-records pipeline benchmark: outbox delivery rate, and export time and peak memory.

    python benchmarks/xapi_pipeline.py            # delivery of 10,000; export of 100k statements
    python benchmarks/xapi_pipeline.py --million  # also export 1M statements (~10,000 teacher-waves)
    python benchmarks/xapi_pipeline.py --lrs 1000000 --keep /tmp/bench   # only the HTTP export,
                                                  # reusing the filled LRS store on later runs

Delivery goes to the embedded LRS (``steun lrs serve``, started here on a free port) when it is
part of this checkout, otherwise to the in-process recording LRS of the tests (said in the output).
Each export size runs twice, each in a process of its own so its peak RSS is its own:
- end to end, as researchers run it: the embedded LRS is filled straight into its store (untimed,
  like benchmarks/lrs.py), then ``steun export`` reads every statement over HTTP, paging through
  ``more``, into wide CSV + .sav (the issue's target: 1M in under 2 minutes and 2 GB on 2 cores);
- from a JSON-lines file (``--from-file``): the export's own cost without the LRS and HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE = "https://steun.example.nl"
ITEMS = 48  # two instruments of 24 items
PER_WAVE = 100  # statements per teacher-wave: 2 children × (48 answers + 2 completions)
LABELS = ("Helemaal niet", "Nauwelijks", "Enigszins", "Grotendeels", "Helemaal")


def spec_dict() -> dict[str, Any]:
    instruments = []
    for name in ("relatie", "gedrag"):
        instruments.append(
            {
                "id": name,
                "version": "1",
                "items": [
                    {"id": f"q{i:02d}", "label": f"Item {i}", "choices": [[v, str(v)] for v in range(1, 6)]}
                    for i in range(1, 25)
                ],
                "scales": [
                    {"id": "a", "items": [f"q{i:02d}" for i in range(1, 13)], "method": "mean", "max_missing": 2},
                    {"id": "b", "items": [f"q{i:02d}" for i in range(13, 25)], "method": "sum",
                     "reverse": ["q13", "q14"], "max_missing": 2},
                ],
            }
        )  # fmt: skip
    return {"instruments": instruments}


def statements(n: int) -> Iterator[dict[str, Any]]:
    """n statements, generated lazily (not kept in memory)."""
    from xapi.statements import Choice, ItemDefinition, StatementFactory

    f = StatementFactory(BASE)
    # As the tool sends them: the item's text and its labelled scale in every answer.
    scale = tuple(Choice(str(v), label) for v, label in enumerate(LABELS, 1))
    definitions = [
        ItemDefinition("likert", f"Stelling {i}: ik ervaar het contact met dit kind als prettig", scale)
        for i in range(1, 25)
    ]  # fmt: skip
    start = datetime(2027, 2, 15, 8, tzinfo=UTC)
    made = 0
    teacher_wave = 0
    while made < n:
        teacher, wave = divmod(teacher_wave, 3)
        for child in ("A", "B"):
            for inst in ("relatie", "gedrag"):
                keys = dict(study="steun", wave=f"t{wave + 1}", instrument=inst, instrument_version="1",
                            child_code=child, attempt=1)  # fmt: skip
                for i in range(1, 25):
                    if made >= n:
                        return
                    at = start + timedelta(days=30 * wave, seconds=made % 86400)
                    yield f.item_answered(f"p-{teacher:06d}", at, item=f"q{i:02d}",
                                          response=str(1 + (i + teacher) % 5),
                                          definition=definitions[i - 1], **keys)  # fmt: skip
                    made += 1
                if made >= n:
                    return
                yield f.questionnaire_completed(
                    f"p-{teacher:06d}", start + timedelta(days=30 * wave, hours=1), **keys
                )
                made += 1
        teacher_wave += 1


def export_child(n: int) -> None:
    """Statements are first written to a JSON-lines file (untimed; what an LRS page holds), then
    read, parsed and exported as ``steun export --from-file`` does."""
    from xapi.export import ScoringSpec, collect, export_all

    with tempfile.TemporaryDirectory() as out:
        source = Path(out) / "statements.jsonl"
        g0 = time.perf_counter()
        with source.open("w", encoding="utf-8") as fh:
            for st in statements(n):
                fh.write(json.dumps(st, separators=(",", ":")) + "\n")
        generate_s = time.perf_counter() - g0
        t0 = time.perf_counter()
        with source.open(encoding="utf-8") as fh:
            data = collect((json.loads(line) for line in fh), BASE)
        t1 = time.perf_counter()
        written = export_all(
            data, ScoringSpec.from_dict(spec_dict()), Path(out), ["wide", "sav", "long"]
        )
        sizes = {k: os.path.getsize(p) for k, p in written.items()}
        t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "generate_s": generate_s, "read_s": t1 - t0, "write_s": t2 - t1,
                      "total_s": t2 - t0, "peak_rss_mb": peak_mb, "rows": len(data.answers),
                      "sizes": sizes}))  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def delivery(n: int, senders: int = 1) -> None:
    from steun_lti.plumbing.db import Database
    from steun_lti.plumbing.migrations import upgrade
    from steun_lti.records.outbox import Sender, enqueue
    from xapi.client import LrsClient

    tmp = Path(tempfile.mkdtemp())
    proc = None
    try:
        if not (ROOT / "xapi" / "lrs" / "admin.py").exists():
            raise ImportError("the embedded LRS is not in this checkout")
        port = free_port()
        env = dict(os.environ, STEUN_DATA_DIR=str(tmp / "var"), STEUN_LOG_LEVEL="WARNING")
        proc = subprocess.Popen([sys.executable, "-m", "steun_lti", "lrs", "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        from steun_lti.plumbing.secrets import load_or_create_secret

        endpoint = f"http://127.0.0.1:{port}/xapi/"
        key = load_or_create_secret(tmp / "var", "lrs_tool_key", 12)
        secret = load_or_create_secret(tmp / "var", "lrs_tool_secret")
        import requests

        for _ in range(200):
            try:
                if requests.get(endpoint + "about", timeout=0.5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        target = "embedded LRS (steun lrs serve)"
    except ImportError:
        from tests.support.fake_lrs import start_fake_lrs

        fake = start_fake_lrs()
        endpoint, key, secret = fake.endpoint, "k", "s"
        target = "recording test LRS (embedded LRS not in this checkout)"
    db = Database(f"sqlite:///{tmp / 'steun.sqlite3'}")
    upgrade(db)
    with db.session() as session:
        for st in statements(n):
            enqueue(session, st, actor=st["actor"]["account"]["name"])
    results: list[Any] = []

    def one() -> None:
        sender = Sender(db, lambda: LrsClient(endpoint, key, secret, timeout=30), batch_size=100)
        results.append(sender.run(threading.Event(), until_empty=True, idle_wait=0.01))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    delivered = sum(r.delivered for r in results)
    print(f"delivery to {target}: {delivered:,} statements in batches of 100 by {senders} "
          f"sender(s) in {elapsed:.2f} s = {delivered / elapsed:,.0f} statements/s")  # fmt: skip
    if proc is not None:
        proc.terminate()
        proc.wait(10)
    db.dispose()


def fill_lrs(database_url: str, n: int) -> float:
    """Put n statements straight into the embedded LRS's store (as benchmarks/lrs.py does):
    validated and indexed exactly as a POST would, without HTTP."""
    from xapi.lrs.store import Credential, Store
    from xapi.lrs.validation import validate_statement

    store = Store(database_url)
    store.create_schema()
    credential = Credential(0, "bench-fill", frozenset({"all"}), "bench fill")
    t0 = time.perf_counter()
    batch: list[dict[str, Any]] = []
    done = 0
    for st in statements(n):
        batch.append(validate_statement(st, copy=False))
        if len(batch) == 5000:
            store.store_statements(batch, credential)
            done += len(batch)
            batch = []
            if done % 100_000 == 0:
                print(f"  filled {done:,} of {n:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if batch:
        store.store_statements(batch, credential)
    store.dispose()
    return time.perf_counter() - t0


def export_from_lrs(n: int, keep: Path | None, workers: int) -> None:
    """``steun export`` (a process of its own) reading n statements from the embedded LRS over
    HTTP, paging through ``more``, into wide CSV + .sav; its wall time, CPU time and peak RSS,
    and the CPU time the LRS spent serving the pages."""
    import requests

    from benchmarks.lrs import tree_cpu

    root = keep or Path(tempfile.mkdtemp(prefix="steun-bench-"))
    data_dir = root / f"lrs-{n}"
    db_url = f"sqlite:///{data_dir / 'lrs.sqlite3'}"
    marker = data_dir / "filled"
    if not marker.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "lrs.sqlite3").unlink(missing_ok=True)
        print(f"filling the LRS store with {n:,} statements (untimed) ...", flush=True)
        fill_s = fill_lrs(db_url, n)
        marker.write_text(str(n))
        print(f"  filled in {fill_s:.0f} s ({n / fill_s:,.0f} statements/s, no HTTP)")
    size_mb = (data_dir / "lrs.sqlite3").stat().st_size / 1e6
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
    env.update(STEUN_DATA_DIR=str(data_dir), STEUN_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
               STEUN_BASE_URL=BASE, STEUN_LRS__ENDPOINT=f"http://127.0.0.1:{port}/xapi/")  # fmt: skip
    lrs = subprocess.Popen([sys.executable, "-m", "steun_lti", "lrs", "serve", "--port", str(port),
                            "--workers", str(workers)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(600):
            try:
                if requests.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        out = root / f"export-{n}"
        spec = root / "spec.json"
        spec.write_text(json.dumps(spec_dict()))
        cpu0 = tree_cpu([lrs.pid])
        t0 = time.perf_counter()
        export = subprocess.Popen([sys.executable, "-m", "steun_lti", "export", str(out), "--spec",
                                   str(spec), "--format", "wide", "--format", "sav"], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        assert export.stdout is not None and export.stderr is not None
        stdout, stderr = export.stdout.read(), export.stderr.read()
        _pid, status, usage = os.wait4(export.pid, 0)
        elapsed = time.perf_counter() - t0
        lrs_cpu = tree_cpu([lrs.pid]) - cpu0
        export.returncode = os.waitstatus_to_exitcode(status)
        if export.returncode != 0:
            raise SystemExit(f"export failed ({export.returncode}): {stderr.decode()[-2000:]}")
        read = stdout.decode().splitlines()[0]
        cpu = usage.ru_utime + usage.ru_stime
        print(f"export over HTTP of {n:,} statements from the embedded LRS (SQLite, {size_mb:,.0f} MB, "
              f"{workers} worker(s)) to wide CSV + .sav: {elapsed:.1f} s wall; export process "
              f"{cpu:.1f} CPU-s, peak RSS {usage.ru_maxrss / 1024:.0f} MB; LRS {lrs_cpu:.1f} CPU-s "
              f"serving {n // 500:,}+ pages ({read})")  # fmt: skip
        print(f"  per CPU-second: {n / (cpu + lrs_cpu):,.0f} statements exported "
              f"(export + LRS CPU); the export alone {n / cpu:,.0f}/CPU-s")  # fmt: skip
        for line in stderr.decode().splitlines()[-3:]:
            print(f"  export progress: {line}")
    finally:
        lrs.terminate()
        lrs.wait(20)
        if keep is None:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--million", action="store_true", help="also export 1,000,000 statements")
    parser.add_argument("--delivery", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=1, help="parallel senders (threads)")
    parser.add_argument("--no-export", action="store_true", help="delivery only")
    parser.add_argument("--no-lrs-export", action="store_true", help="export from files only")
    parser.add_argument("--export-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lrs", type=int, metavar="N",
                        help="export N statements from the embedded LRS over HTTP (with --million: 1M)")  # fmt: skip
    parser.add_argument("--lrs-workers", type=int, default=2)
    parser.add_argument("--keep", type=Path,
                        help="keep (and reuse) the filled LRS store in this folder")  # fmt: skip
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child)
        return
    if args.lrs:
        export_from_lrs(args.lrs, args.keep, args.lrs_workers)
        return
    if args.delivery:
        delivery(args.delivery, args.senders)
    for n in ([] if args.no_export else [100_000]) + ([1_000_000] if args.million else []):
        if not args.no_lrs_export:
            export_from_lrs(n, args.keep, args.lrs_workers)
        out = subprocess.run([sys.executable, __file__, "--export-child", str(n)], cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"export of {n:,} statements ({r['rows']:,} teacher×child×wave rows) to wide CSV + "
              f".sav + long CSV: {r['total_s']:.1f} s (read {r['read_s']:.1f} s, write "
              f"{r['write_s']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB (statements read from a "
              f"JSON-lines file written beforehand in {r['generate_s']:.1f} s, untimed)")  # fmt: skip


if __name__ == "__main__":
    main()
