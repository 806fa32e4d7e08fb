"""Run ADL's LRS conformance suite (xAPI 1.0.3 and 2.0) against a fresh embedded LRS.

The suite is not part of this repository (it is ADL's code and needs the npm registry to
install); clone it outside the checkout and give its path (or set ADL_SUITE):

    git clone https://github.com/adlnet/lrs-conformance-test-suite ../lrs-conformance-test-suite
    (cd ../lrs-conformance-test-suite && npm install)
    python scripts/adl_conformance.py ../lrs-conformance-test-suite                 # 1.0.3 and 2.0
    python scripts/adl_conformance.py ../lrs-conformance-test-suite --xapi-version 2.0
    python scripts/adl_conformance.py ../lrs-conformance-test-suite --postgres       # PostgreSQL
    python scripts/adl_conformance.py ../lrs-conformance-test-suite --grep "Concurrency"

For each version the script starts `steun lrs serve` on a free port with its own temporary data
directory (SQLite; --database-url for a given PostgreSQL database, --postgres for a throwaway
cluster from tests/support/postgres.py), creates an `all` credential and runs the suite's own
runner, `node bin/console_runner.js -x VERSION -e ENDPOINT -a -u KEY -p SECRET`, which runs every
file of `test/v1_0_3` or `test/v2_0` with mocha and writes a JSON log to the suite's `logs/`.
The script reads that log and prints, per version, the passes and fails and the title path of
every failing test with its error, marking those docs/lrs.md explains (KNOWN below). The exit
code is the number of the other failing tests (capped at 125); 2 when the suite or the LRS could
not run. See docs/lrs.md, "ADL conformance suite".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
STEUN = [sys.executable, "-m", "steun_lti"]
VERSIONS = {"1.0.3": "1.0.3", "2.0": "2.0.0"}  # our option -> the suite's -x value
# Failures docs/lrs.md explains (a choice, not a defect): (version, pattern on the title path).
KNOWN = [
    # The 400 for a request without a version header names 1.0.3, which the 1.0.3 suite
    # (XAPI-00321) requires and the 2.0 suite refuses; no LRS passes both (decision 0010).
    ("2.0", re.compile(r"XAPI-00331\).*Statement (GET|POST|PUT) without header")),
]


@dataclass
class Result:
    version: str
    engine: str
    total: int = 0
    passed: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (title path, error)
    log_path: str = ""

    def known(self, title: str) -> bool:
        return any(v == self.version and p.search(title) for v, p in KNOWN)

    @property
    def unexplained(self) -> int:
        return sum(1 for title, _ in self.failures if not self.known(title))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lrs_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
    env.update(STEUN_DATA_DIR=str(data_dir), STEUN_LOG_LEVEL="WARNING", PYTHONPATH=str(REPO))
    if database_url:
        env["STEUN_LRS_SERVER__DATABASE_URL"] = database_url
    return env


def _credential(env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run(
        [*STEUN, "lrs", "credentials", "add", "--scope", "all", "--label", "ADL conformance suite"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fields = dict(
        line.split(":", 1) for line in out.splitlines() if line.startswith(("key:", "secret:"))
    )
    return fields["key"].strip(), fields["secret"].strip()


def _failures(node: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """The failing leaves of the runner's log tree, as (title path, error)."""
    title = str(node.get("title") or "")
    here = (*path, title) if title else path
    children = node.get("tests") or []
    if not children:
        if node.get("status") == "failed":
            yield " > ".join(here), str(node.get("error") or "")
        return
    for child in children:
        yield from _failures(child, here)


def _wait_for(endpoint: str, lrs: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(endpoint + "/about", timeout=1).ok:
                return True
        except requests.ConnectionError:
            pass  # the port is not open yet
        if time.monotonic() > deadline or lrs.poll() is not None:
            return False
        time.sleep(0.1)


def run_version(
    suite: Path, version: str, database_url: str | None, engine: str, grep: str | None
) -> Result | None:
    """Run one version of the suite against a fresh LRS; None when the LRS did not start."""
    result = Result(version=version, engine=engine)
    with tempfile.TemporaryDirectory(prefix="steun-adl-") as tmp:
        env = _lrs_env(Path(tmp), database_url)
        key, secret = _credential(env)
        port = _free_port()
        lrs = subprocess.Popen(
            [*STEUN, "lrs", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            endpoint = f"http://127.0.0.1:{port}/xapi"
            if not _wait_for(endpoint, lrs):
                print("Error: the LRS did not start.")
                return None
            command = [
                "node",
                "bin/console_runner.js",
                "-x",
                VERSIONS[version],
                "-e",
                endpoint,
                "-a",
                "-u",
                key,
                "-p",
                secret,
            ]
            if grep:
                command += ["-g", grep]
            started = time.monotonic()
            proc = subprocess.run(
                command, cwd=suite, check=False, capture_output=True, text=True, timeout=3600
            )
            took = time.monotonic() - started
        finally:
            lrs.terminate()
            lrs.wait(timeout=30)
    match = re.search(r"Full run log written to (\S+)", proc.stdout)
    if not match:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n")
        print(f"Error: the suite's runner wrote no log (exit {proc.returncode}).")
        return None
    result.log_path = match.group(1)
    record = json.loads(Path(result.log_path).read_text(encoding="utf-8"))
    summary = record.get("summary") or {}
    result.total = int(summary.get("total") or 0)
    result.passed = int(summary.get("passed") or 0)
    result.failed = int(summary.get("failed") or 0)
    result.failures = list(_failures(record.get("log") or {}))
    print(
        f"xAPI {version} on {engine}: {result.passed} passed, {result.failed} failed"
        f" of {result.total} ({took:.0f} s; log {result.log_path})"
    )
    for title, error in result.failures:
        mark = "FAIL (known, docs/lrs.md)" if result.known(title) else "FAIL"
        print(f"  {mark} {title}\n       {error.splitlines()[0] if error else ''}")
    return result


def _suite_commit(suite: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(suite), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "suite",
        type=Path,
        nargs="?",
        default=os.environ.get("ADL_SUITE"),
        help="checkout of adlnet/lrs-conformance-test-suite (default: $ADL_SUITE)",
    )
    parser.add_argument(
        "--xapi-version",
        choices=[*VERSIONS, "all"],
        default="all",
        help="which of the suite's test folders to run (default: both)",
    )
    parser.add_argument("--grep", help="only tests whose title matches (the runner's -g)")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--database-url", help="LRS database (default: SQLite in a temp dir)")
    engine.add_argument(
        "--postgres",
        action="store_true",
        help="a throwaway PostgreSQL cluster (tests/support/postgres.py), one database a version",
    )
    args = parser.parse_args()
    if args.suite is None:
        parser.error("give the suite's path or set ADL_SUITE")
    suite = Path(args.suite).resolve()
    if not (suite / "bin" / "console_runner.js").exists() or not (suite / "node_modules").exists():
        print(f"Error: {suite} is not an installed conformance suite (run npm install there).")
        return 2
    versions = list(VERSIONS) if args.xapi_version == "all" else [args.xapi_version]
    print(f"suite {suite} at {_suite_commit(suite)}")
    pg = None
    if args.postgres:
        sys.path.insert(0, str(REPO))
        from tests.support.postgres import start_postgres

        pg = start_postgres()
    results: list[Result] = []
    try:
        for version in versions:
            url = args.database_url
            engine_name = "PostgreSQL" if url and url.startswith("postgres") else "SQLite"
            if pg is not None:
                url = pg.create_database("adl_" + version.replace(".", "_"))
                engine_name = "PostgreSQL"
            result = run_version(suite, version, url, engine_name, args.grep)
            if result is None:
                return 2
            results.append(result)
    finally:
        if pg is not None:
            pg.stop()
    if len(results) > 1:
        print("\nSummary:")
        for r in results:
            print(f"  xAPI {r.version} on {r.engine}: {r.passed} of {r.total} ({r.failed} failed)")
    unexplained = sum(r.unexplained for r in results)
    if unexplained:
        print(f"{unexplained} failing test(s) that docs/lrs.md does not explain.")
    return min(unexplained, 125)


if __name__ == "__main__":
    sys.exit(main())
