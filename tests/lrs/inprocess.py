"""The LRS as a WSGI app in this process (werkzeug's test client), for the hardening and fuzz
tests: many requests, fast, and the app's limits and database set per test."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.test import Client, EnvironBuilder, TestResponse, run_wsgi_app

from xapi.lrs.admin import add_credential
from xapi.lrs.app import LrsApp, create_app
from xapi.lrs.limits import LrsLimits

VERSION = {"X-Experience-API-Version": "1.0.3"}


@dataclass
class InProcessLrs:
    app: LrsApp
    client: Client
    auth: dict[str, str]
    database_url: str

    def request(
        self,
        method: str,
        resource: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | str | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> TestResponse:
        all_headers = {**VERSION, **(self.auth if auth else {}), **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        return self.client.open(
            "/xapi/" + resource,
            method=method,
            query_string=params,
            data=body,
            headers=all_headers,
        )

    def chunked(
        self, resource: str, body: bytes, headers: dict[str, str], method: str = "POST"
    ) -> tuple[int, int]:
        """Send ``body`` without a Content-Length, as a server passes a chunked request on
        (``wsgi.input_terminated``); returns the status and how many bytes the app read."""
        stream = CountingStream(body)
        builder = EnvironBuilder(
            path="/xapi/" + resource,
            method=method,
            headers={**VERSION, **self.auth, **headers, "Transfer-Encoding": "chunked"},
        )
        environ = builder.get_environ()
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input"] = stream
        environ["wsgi.input_terminated"] = True
        _body, status, _headers = run_wsgi_app(self.app, environ)
        return int(status.split()[0]), stream.consumed


class CountingStream(io.RawIOBase):
    """A request body that counts what was read of it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.data[self.consumed : self.consumed + len(buffer)]
        buffer[: len(chunk)] = chunk
        self.consumed += len(chunk)
        return len(chunk)


def in_process_lrs(
    tmp_path: Path, limits: LrsLimits | None = None, database_url: str | None = None
) -> Iterator[InProcessLrs]:
    url = database_url or f"sqlite:///{tmp_path / 'lrs.sqlite3'}"
    app = create_app(url, limits=limits or LrsLimits())
    key, secret = add_credential(url, ["all"], "in-process test")
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    try:
        yield InProcessLrs(app, Client(app), {"Authorization": f"Basic {token}"}, url)
    finally:
        app.store.dispose()
