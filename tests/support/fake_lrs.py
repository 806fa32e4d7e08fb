"""A small recording, fault-injecting xAPI endpoint for client and outbox tests (port 0).

It keeps statements by id (a second identical one is ignored, as the spec asks), records every
request body, and can be told to fail: ``fail_with`` a status for the next N POSTs, refuse ids
(400), or answer 401.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeLrs:
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    posts: int = 0
    fail_next: list[int] = field(default_factory=list)
    refuse_ids: set[str] = field(default_factory=set)
    auth: tuple[str, str] | None = None
    page_size: int = 50
    lock: threading.Lock = field(default_factory=threading.Lock)
    deleted_agents: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/xapi/"

    def all_sent_text(self) -> str:
        return b"\n".join(self.bodies).decode("utf-8", "replace")


def _handler(lrs: FakeLrs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _send(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if lrs.auth is None:
                return True
            import base64

            expected = "Basic " + base64.b64encode(":".join(lrs.auth).encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._send(401, {"message": "bad credentials"})
                return False
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lrs.lock:
                lrs.bodies.append(body)
                lrs.posts += 1
                if not self._authorised():
                    return
                if lrs.fail_next:
                    self._send(lrs.fail_next.pop(0), {"message": "injected failure"})
                    return
                statements = json.loads(body)
                if isinstance(statements, dict):
                    statements = [statements]
                bad = [s["id"] for s in statements if s["id"] in lrs.refuse_ids]
                if bad:
                    self._send(400, {"message": f"statement {bad[0]} is refused"})
                    return
                for s in statements:
                    if s["id"] not in lrs.stored:
                        lrs.stored[s["id"]] = s
                        lrs.order.append(s["id"])
                self._send(200, [s["id"] for s in statements])

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path.endswith("/about"):
                self._send(200, {"version": ["1.0.3"]})
                return
            with lrs.lock:
                if not self._authorised():
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                ids = list(lrs.order)
                if "agent" in query:
                    agent = json.loads(query["agent"])
                    ids = [i for i in ids if lrs.stored[i]["actor"] == agent]
                start = int(query.get("from", "0"))
                page = ids[start : start + lrs.page_size]
                more = ""
                if start + lrs.page_size < len(ids):
                    q = dict(query, **{"from": str(start + lrs.page_size)})
                    from urllib.parse import urlencode

                    more = f"{url.path}?{urlencode(q)}"
                self._send(200, {"statements": [lrs.stored[i] for i in page], "more": more})

        def do_DELETE(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with lrs.lock:
                if url.path.endswith("/extensions/agent"):
                    agent = json.loads(query["agent"])
                    lrs.deleted_agents.append(agent["account"]["name"])
                    keep = [i for i in lrs.order if lrs.stored[i]["actor"] != agent]
                    for i in set(lrs.order) - set(keep):
                        del lrs.stored[i]
                    lrs.order = keep
                    self._send(204)
                    return
            self._send(404, {"message": "no such resource"})

    return Handler


def start_fake_lrs() -> FakeLrs:
    lrs = FakeLrs()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(lrs))
    server.daemon_threads = True
    lrs.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return lrs


def stop_fake_lrs(lrs: FakeLrs) -> None:
    assert lrs.server is not None
    lrs.server.shutdown()
    lrs.server.server_close()


def fake_lrs_fixture() -> Iterator[FakeLrs]:
    lrs = start_fake_lrs()
    try:
        yield lrs
    finally:
        stop_fake_lrs(lrs)
