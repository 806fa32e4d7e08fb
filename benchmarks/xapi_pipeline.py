"""Learning-records pipeline benchmark: outbox delivery rate, and export time and peak memory.

    python benchmarks/xapi_pipeline.py            # delivery of 10,000 + export of 100k statements
    python benchmarks/xapi_pipeline.py --million  # also export 1M statements (~10,000 teacher-waves)

Delivery goes to the embedded LRS (``steun lrs serve``, started here on a free port) when it is
part of this checkout, otherwise to the in-process recording LRS of the tests (said in the output).
Each export size runs in its own process so its peak RSS is its own.
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
    from xapi.statements import StatementFactory

    f = StatementFactory(BASE)
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
                                          response=str(1 + (i + teacher) % 5), **keys)  # fmt: skip
                    made += 1
                if made >= n:
                    return
                yield f.questionnaire_completed(
                    f"p-{teacher:06d}", start + timedelta(days=30 * wave, hours=1), **keys
                )
                made += 1
        teacher_wave += 1


def export_child(n: int) -> None:
    from xapi.export import ScoringSpec, collect, export_all

    g0 = time.perf_counter()
    for _ in statements(n):
        pass
    generate_s = time.perf_counter() - g0
    t0 = time.perf_counter()
    data = collect(statements(n), BASE)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        written = export_all(
            data, ScoringSpec.from_dict(spec_dict()), Path(out), ["wide", "sav", "long"]
        )
        sizes = {k: os.path.getsize(p) for k, p in written.items()}
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "generate_s": generate_s, "read_s": t1 - t0, "write_s": t2 - t1, "total_s": t2 - t0,
                      "peak_rss_mb": peak_mb, "rows": len(data.answers), "sizes": sizes}))  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def delivery(n: int) -> None:
    from steun_lti.db import Database
    from steun_lti.migrations import upgrade
    from steun_lti.outbox import Sender, enqueue
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
        from steun_lti.secrets import load_or_create_secret

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
    sender = Sender(db, lambda: LrsClient(endpoint, key, secret, timeout=30), batch_size=100)
    t0 = time.perf_counter()
    result = sender.run(threading.Event(), until_empty=True, idle_wait=0.01)
    elapsed = time.perf_counter() - t0
    print(f"delivery to {target}: {result.delivered:,} statements in batches of 100 in "
          f"{elapsed:.2f} s = {result.delivered / elapsed:,.0f} statements/s")  # fmt: skip
    if proc is not None:
        proc.terminate()
        proc.wait(10)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--million", action="store_true", help="also export 1,000,000 statements")
    parser.add_argument("--delivery", type=int, default=10_000)
    parser.add_argument("--no-export", action="store_true", help="delivery only")
    parser.add_argument("--export-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child)
        return
    if args.delivery:
        delivery(args.delivery)
    for n in ([] if args.no_export else [100_000]) + ([1_000_000] if args.million else []):
        out = subprocess.run([sys.executable, __file__, "--export-child", str(n)], cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"export of {n:,} statements ({r['rows']:,} teacher×child×wave rows) to wide CSV + "
              f".sav + long CSV: {r['total_s']:.1f} s (read {r['read_s']:.1f} s, write "
              f"{r['write_s']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB; of which generating the "
              f"statements in-process {r['generate_s']:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
