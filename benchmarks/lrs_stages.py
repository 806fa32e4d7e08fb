"""Where the CPU of a batch POST goes, per statement, in this process (no server, no network).

    python benchmarks/lrs_stages.py                 # this tree
    python benchmarks/lrs_stages.py /path/to/tree   # another checkout (e.g. main), to compare

Batches of 100 of benchmarks/lrs.py's statements go to a fresh SQLite store, stage by stage
(thread CPU time, median of the batches): the strict JSON parse, validation, canonical JSON with
its fingerprint and the stored body, the index keys, the store's own work (lookup, inserts,
activity definitions, commit), and a whole POST through the WSGI app (werkzeug's test client);
"the rest" is the whole POST minus the stages (routing, authentication, the response). Run trees
in turns and give the load average beside the figures (docs/lrs.md, "Performance").
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TREE))
sys.path.insert(0, str(TREE / "benchmarks"))

from lrs import make_statement  # noqa: E402
from werkzeug.test import EnvironBuilder, run_wsgi_app  # noqa: E402

from xapi.lrs.admin import add_credential  # noqa: E402
from xapi.lrs.app import create_app  # noqa: E402
from xapi.lrs.limits import loads  # noqa: E402
from xapi.lrs.store import Credential  # noqa: E402
from xapi.lrs.store.keys import core_json, hashed_keys  # noqa: E402
from xapi.lrs.store.statement_writes import _body_json  # noqa: E402
from xapi.lrs.validation import validate_statement  # noqa: E402

BATCHES = 40


def main() -> None:
    rng = random.Random(1)
    url = f"sqlite:///{tempfile.mkdtemp(prefix='steun-lrs-stages-')}/lrs.sqlite3"
    app = create_app(url)
    key, secret = add_credential(url, ["all"], "stages")
    headers = {
        "Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
    }
    credential = Credential(1, "k", frozenset({"all"}), "k")
    clock = time.thread_time
    times: dict[str, list[float]] = {
        k: [] for k in ("parse", "validate", "canonical", "keys", "store", "whole")
    }
    for _ in range(BATCHES):
        body = json.dumps([make_statement(rng) for _ in range(100)]).encode()
        t0 = clock()
        parsed = loads(body)
        times["parse"].append(clock() - t0)
        t0 = clock()
        valid = [validate_statement(s, copy=False) for s in parsed]
        times["validate"].append(clock() - t0)
        full = [
            {**s, "stored": "2027-01-01T00:00:00Z", "authority": credential.authority}
            for s in valid
        ]
        for s in full:
            s.setdefault("version", "1.0.0")
        t0 = clock()
        for s in full:
            core = core_json(s)
            hashlib.sha256(core.encode()).hexdigest()
            _body_json(s, s, core)
        times["canonical"].append(clock() - t0)
        t0 = clock()
        for s in full:
            hashed_keys(s)
        times["keys"].append(clock() - t0)
        t0 = clock()
        app.store.store_statements(valid, credential)
        times["store"].append(clock() - t0)
        other = json.dumps([make_statement(rng) for _ in range(100)]).encode()
        environ = EnvironBuilder(
            path="/xapi/statements", method="POST", data=other, headers=headers
        ).get_environ()
        t0 = clock()
        result, status, _ = run_wsgi_app(app, environ)
        b"".join(result)
        times["whole"].append(clock() - t0)
        assert status.startswith("200"), status
    us = {k: sorted(v)[len(v) // 2] / 100 * 1e6 for k, v in times.items()}
    us["store"] -= us["canonical"] + us["keys"]  # store_statements does those too
    rest = us["whole"] - sum(us[k] for k in ("parse", "validate", "canonical", "keys", "store"))
    print(
        f"{TREE} (load {os.getloadavg()[0]:.1f}), CPU per statement: parse {us['parse']:.0f} µs, "
        f"validation {us['validate']:.0f}, canonical JSON/fingerprint/body {us['canonical']:.0f}, "
        f"index keys {us['keys']:.0f}, store {us['store']:.0f}, the rest {rest:.0f}; "
        f"whole POST {us['whole']:.0f} µs ({1e6 / us['whole']:,.0f} statements per CPU-second)"
    )


if __name__ == "__main__":
    main()
