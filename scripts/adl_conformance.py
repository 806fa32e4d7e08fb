"""Run ADL's LRS conformance suite (xAPI 1.0.3) against a fresh embedded LRS.

The suite is not part of this repository (it is ADL's code, Apache-licensed, and needs internet to
install); clone it next to the checkout and give its path:

    git clone https://github.com/adlnet/lrs-conformance-test-suite ../lrs-conformance-test-suite
    (cd ../lrs-conformance-test-suite && npm install)
    python scripts/adl_conformance.py ../lrs-conformance-test-suite
    python scripts/adl_conformance.py ../lrs-conformance-test-suite --grep "Statement Resource"

The script starts `steun lrs serve` on a free port with its own temporary data directory (SQLite,
or --database-url for PostgreSQL), creates an `all` credential, runs the suite's 1.0.3 tests
with mocha directly (the same files `bin/console_runner.js -x 1.0.3` runs, without its web UI or
log writer) and prints mocha's summary; the exit code is the number of failing tests (capped at
125). See docs/lrs.md, "ADL conformance suite", for the last recorded result.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
STEUN = [sys.executable, "-m", "steun_lti"]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="checkout of adlnet/lrs-conformance-test-suite")
    parser.add_argument("--grep", help="only tests whose title matches (mocha --grep)")
    parser.add_argument("--database-url", help="LRS database (default: SQLite in a temp dir)")
    parser.add_argument("--reporter", default="dot", help="mocha reporter (dot, spec, json)")
    args = parser.parse_args()
    suite = args.suite.resolve()
    mocha = suite / "node_modules" / "mocha" / "bin" / "_mocha"
    tests = sorted(str(p.relative_to(suite)) for p in (suite / "test" / "v1_0_3").glob("*.js"))
    if not mocha.exists() or not tests:
        print(f"Error: {suite} is not an installed conformance suite (run npm install there).")
        return 2
    with tempfile.TemporaryDirectory(prefix="steun-adl-") as tmp:
        env = _lrs_env(Path(tmp), args.database_url)
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
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(endpoint + "/about", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    if time.monotonic() > deadline or lrs.poll() is not None:
                        print("Error: the LRS did not start.")
                        return 2
                    time.sleep(0.1)  # waiting for the port to open
            suite_env = dict(
                os.environ,
                LRS_ENDPOINT=endpoint,
                DIRECTORY="v1_0_3",
                BASIC_AUTH_ENABLED="true",
                BASIC_AUTH_USER=key,
                BASIC_AUTH_PASSWORD=secret,
            )
            command = [
                "node",
                str(mocha),
                "--timeout",
                "30000",
                "--reporter",
                args.reporter,
            ]
            if args.grep:
                command += ["--grep", args.grep]
            result = subprocess.run([*command, *tests], cwd=suite, env=suite_env, check=False)
            return min(result.returncode, 125)
        finally:
            lrs.terminate()
            lrs.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
