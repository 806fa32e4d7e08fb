"""How the store's cost per statement grows with the number stored, in this process (no server,
no HTTP): SQLite or PostgreSQL, filled straight into the store, and at each size batches of 100
of benchmarks/lrs.py's statements timed through ``Store.store_statements`` alone.

    python benchmarks/lrs_growth.py                          # SQLite: 10k, 100k, 1M
    python benchmarks/lrs_growth.py --sizes 10000 300000     # other sizes
    python benchmarks/lrs_growth.py --engine postgresql
    python benchmarks/lrs_growth.py --keep /tmp/lrs-1m.sqlite3   # keep the SQLite file
    python benchmarks/lrs_growth.py --dbstat --frames            # sizes, WAL frames per table

Per size it prints the CPU per statement of the store step (this process's CPU, the WAL
checkpointer thread included, and for PostgreSQL its backends), the wall time per statement,
and on SQLite the size of each table and index (``dbstat``) and the WAL frames a statement
writes, by table (``--frames``: 30 batches with no checkpoint, then the WAL read): what grows
with the store, where the Python work per statement does not.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from lrs import make_statement, tree_cpu  # noqa: E402

from xapi.lrs.store import Credential, Store  # noqa: E402
from xapi.lrs.validation import validate_statement  # noqa: E402

BATCHES = 40


def sizes_of(path: Path) -> str:
    import sqlite3

    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT name, count(*), sum(pgsize) FROM dbstat GROUP BY name ORDER BY 3 DESC"
        ).fetchall()
    return ", ".join(
        f"{name} {size / 2**20:,.0f} MB ({pages:,} pages)" for name, pages, size in rows
    )


def wal_frames(path: Path, rng: random.Random, credential: Credential) -> str:
    """Store 30 batches of 100 with no checkpoint and count the WAL frames they wrote per
    statement, by table or index (from ``dbstat``): the pages a batch dirties, written to the
    WAL at each commit and copied back by the checkpoint (distinct pages, once per window)."""
    import sqlite3
    import struct
    from collections import Counter, defaultdict

    from xapi.lrs.store import engine

    with closing(sqlite3.connect(path)) as db:
        owner = dict(db.execute("SELECT pageno, name FROM dbstat").fetchall())
    batches = [
        [validate_statement(make_statement(rng), copy=False) for _ in range(100)] for _ in range(30)
    ]
    running = engine.Checkpointer.ensure_running
    engine.Checkpointer.ensure_running = lambda self: None  # type: ignore[method-assign]
    store = Store(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:  # the pool's connection, kept for the batches
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # an empty WAL to count in
            conn.commit()
        for batch in batches:
            store.store_statements(batch, credential)
        wal = Path(f"{path}-wal").read_bytes()
    finally:
        engine.Checkpointer.ensure_running = running  # type: ignore[method-assign]
        store.dispose()
    frames: Counter[str] = Counter()
    pages: defaultdict[str, set[int]] = defaultdict(set)
    salts = wal[16:24]
    for start in range(32, len(wal) - 4119, 4096 + 24):
        if wal[start + 8 : start + 16] != salts:  # a frame of an earlier round of the WAL
            continue
        (page,) = struct.unpack(">I", wal[start : start + 4])
        name = owner.get(page, "new pages")
        frames[name] += 1
        pages[name].add(page)
    n = 100 * len(batches)
    return f"WAL frames per statement {sum(frames.values()) / n:.2f}: " + ", ".join(
        f"{name} {count / n:.2f} ({len(pages[name]) / n:.2f} distinct pages)"
        for name, count in frames.most_common()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--keep", help="copy the SQLite file here at the end")
    parser.add_argument("--dbstat", action="store_true", help="table and index sizes (SQLite)")
    parser.add_argument(
        "--frames", action="store_true", help="WAL frames per statement by table (SQLite)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="steun-lrs-growth-"))
    pg = None
    roots: list[int] = []
    if args.engine == "postgresql":
        from tests.support.postgres import start_postgres

        pg = start_postgres()
        url = pg.create_database("lrs_growth")
        roots = [int((pg.root / "data" / "postmaster.pid").read_text().split()[0])]
    else:
        url = f"sqlite:///{root / 'lrs.sqlite3'}"
    store = Store(url)
    store.create_schema()
    credential = Credential(0, "bench", frozenset({"all"}), "bench")
    rng = random.Random(7)
    stored = 0
    try:
        for size in args.sizes:
            t0 = time.perf_counter()
            while stored < size:
                n = min(5000, size - stored)
                store.store_statements(
                    [validate_statement(make_statement(rng), copy=False) for _ in range(n)],
                    credential,
                )
                stored += n
            fill_s = time.perf_counter() - t0
            batches = [
                [validate_statement(make_statement(rng), copy=False) for _ in range(100)]
                for _ in range(BATCHES)
            ]
            wall_us = []
            db0, own0 = tree_cpu(roots), time.process_time()
            for batch in batches:
                w0 = time.perf_counter()
                store.store_statements(batch, credential)
                wall_us.append((time.perf_counter() - w0) / 100 * 1e6)
            own = (time.process_time() - own0) / (100 * BATCHES) * 1e6
            db = (tree_cpu(roots) - db0) / (100 * BATCHES) * 1e6
            stored += 100 * BATCHES
            print(
                f"{size:>9,} stored: store step {own + db:.0f} µs CPU per statement"
                f"{f' ({db:.0f} in PostgreSQL)' if roots else ''}, wall median "
                f"{statistics.median(wall_us):.0f} µs; fill {fill_s:.0f} s; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if args.engine == "sqlite" and args.dbstat:
                print("    " + sizes_of(root / "lrs.sqlite3"), flush=True)
            if args.engine == "sqlite" and args.frames:
                store.dispose()  # checkpointed: the WAL starts empty
                print("    " + wal_frames(root / "lrs.sqlite3", rng, credential), flush=True)
                stored += 3000
        if args.keep and args.engine == "sqlite":
            store.dispose()
            shutil.copy(root / "lrs.sqlite3", args.keep)
    finally:
        store.dispose()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
