"""Replay the forged-course-records flood of issue 14 against a running tool; print what got through.

    .venv/bin/python scripts/relay_flood.py [--url http://127.0.0.1:8000] [--posts 300]

Each round posts to ``/relay/course`` what a stranger (or a colleague with a copy of the package)
could send: the old unauthenticated body naming a real issuer, invented key ids, a real key id
with a guessed token, a token of one learner used for another, new ``platform`` values, and IPv6
addresses rotating inside one /64 (via ``X-Forwarded-For`` when the tool trusts a proxy). With
``--key KID:KEY`` (from ``steun platform course-key``) it adds the insider variant: a valid token
for a learner who never consented. It then counts the rows the tool's outbox gained (read from the
tool's database with the same settings as ``steun``) and prints, per variant, the answers and
what got through. The expected result is zero.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

from xapi.course_relay import learner_token

ISSUER = "http://127.0.0.1:8400"  # the demo LMS; any registered issuer is what an attacker names
COMPLETED = [{"event": "course_completed"}]


def variants(key: tuple[str, str] | None) -> dict[str, Callable[[int], dict[str, Any]]]:
    base = {"course": "steun-in-het-onderwijs", "events": COMPLETED}
    found: dict[str, Callable[[int], dict[str, Any]]] = {
        "no proof (the body before the fix)": lambda i: {
            "learner_id": f"user{i}",
            "platform": ISSUER,
            **base,
        },
        "invented key id and token": lambda i: {
            "kid": secrets.token_hex(8),
            "token": secrets.token_hex(32),
            "learner_id": f"user{i}",
            **base,
        },
        "new platform values": lambda i: {
            "kid": secrets.token_hex(8),
            "token": secrets.token_hex(32),
            "learner_id": "teacher1",
            "platform": f"https://lms{i}.example",
            **base,
        },
    }
    if key is not None:
        kid, secret = key
        found["real key id, guessed token"] = lambda i: {
            "kid": kid,
            "token": secrets.token_hex(32),
            "learner_id": f"user{i}",
            **base,
        }
        found["one learner's token for another"] = lambda i: {
            "kid": kid,
            "token": learner_token(secret, "someone-else"),
            "learner_id": f"user{i}",
            **base,
        }
        found["insider: valid token, no consent"] = lambda i: {
            "kid": kid,
            "token": learner_token(secret, f"never-consented-{i}"),
            "learner_id": f"never-consented-{i}",
            **base,
        }
    return found


def outbox_rows() -> int | None:
    """Rows in the tool's outbox, read with the same settings as ``steun`` (None if unreadable)."""
    try:
        from sqlalchemy import func, select

        from steun_lti.plumbing.db import Database
        from steun_lti.plumbing.settings import load_settings
        from steun_lti.records.outbox import OutboxStatement

        database = Database(load_settings().resolved_database_url)
        try:
            with database.session() as session:
                return int(session.scalar(select(func.count()).select_from(OutboxStatement)) or 0)
        finally:
            database.dispose()
    except Exception:
        return None


def flood(
    url: str,
    posts: int,
    key: tuple[str, str] | None = None,
    count: Callable[[], int | None] = outbox_rows,
) -> dict[str, Any]:
    endpoint = url.rstrip("/") + "/relay/course"
    http = requests.Session()
    report: dict[str, Any] = {"variants": {}, "outbox_before": count()}
    started = time.perf_counter()
    for name, body in variants(key).items():
        answers: Counter[int] = Counter()
        for i in range(posts):
            forwarded = f"2001:db8:77:1:{i:x}::1"  # rotating inside one /64
            response = http.post(
                endpoint, json=body(i), headers={"X-Forwarded-For": forwarded}, timeout=10
            )
            answers[response.status_code] += 1
        report["variants"][name] = dict(sorted(answers.items()))
    report["seconds"] = time.perf_counter() - started
    report["outbox_after"] = count()
    report["accepted"] = sum(a.get(202, 0) for a in report["variants"].values())
    before, after = report["outbox_before"], report["outbox_after"]
    report["stored"] = None if before is None or after is None else after - before
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the tool's base URL")
    parser.add_argument("--posts", type=int, default=300, help="posts per variant")
    parser.add_argument("--key", help="KID:KEY of a registered platform (the insider variants)")
    args = parser.parse_args(argv)
    key = (args.key.split(":", 1)[0], args.key.split(":", 1)[1]) if args.key else None
    try:
        report = flood(args.url, args.posts, key)
    except requests.RequestException as exc:
        print(f"Error: the tool at {args.url} did not answer: {exc}", file=sys.stderr)
        return 2
    total = args.posts * len(report["variants"])
    print(f"{total} forged posts to {args.url}/relay/course in {report['seconds']:.1f} s")
    for name, answers in report["variants"].items():
        shown = ", ".join(f"{code}: {n}" for code, n in answers.items())
        print(f"  {name:<40} {shown}")
    stored = report["stored"]
    print(f"accepted (202): {report['accepted']}")
    print(
        "stored in the outbox: "
        + ("could not read the tool's database" if stored is None else str(stored))
    )
    return 0 if report["accepted"] == 0 and not stored else 1


if __name__ == "__main__":
    sys.exit(main())
