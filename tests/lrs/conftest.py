"""The LRS under test runs as a real process (``python -m steun_lti lrs serve``) over HTTP,
once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.lrs_process import start_lrs, stop_lrs
from xapi.lrs.admin import add_credential

VERSION = {"X-Experience-API-Version": "1.0.3"}


@dataclass
class Lrs:
    """A running LRS and credentials of every kind."""

    endpoint: str
    database_url: str
    data_dir: Path
    creds: dict[str, tuple[str, str]]
    engine: str

    def request(
        self,
        method: str,
        resource: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        auth: str | tuple[str, str] | None = "all",
        version: bool = True,
    ) -> requests.Response:
        all_headers = dict(VERSION) if version else {}
        all_headers.update(headers or {})
        if json_body is not None:
            data = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        credentials = self.creds[auth] if isinstance(auth, str) else auth
        encoded = {
            k: json.dumps(v) if isinstance(v, dict) else v for k, v in (params or {}).items()
        }
        return requests.request(
            method,
            self.endpoint + resource,
            params=encoded,
            data=data,
            headers=all_headers,
            auth=credentials,
            timeout=30,
        )

    def post(self, statements: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", "statements", json_body=statements, **kwargs)

    def get(self, resource: str = "statements", **kwargs: Any) -> requests.Response:
        return self.request("GET", resource, **kwargs)


def _secret(data_dir: Path, name: str) -> str:
    return (data_dir / "secrets" / name).read_text().strip()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def lrs(request: pytest.FixtureRequest) -> Iterator[Lrs]:
    """One LRS process per database engine for the whole session (two gunicorn workers)."""
    root = Path(tempfile.mkdtemp(prefix="steun-lrs-"))
    data_dir = root / "var"
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        database_url = server.create_database("lrs_" + uuid.uuid4().hex[:12])
    else:
        database_url = f"sqlite:///{data_dir / 'lrs.sqlite3'}"
    proc, endpoint = start_lrs(data_dir, database_url if request.param == "postgresql" else None)
    try:
        creds = {
            "tool": (_secret(data_dir, "lrs_tool_key"), _secret(data_dir, "lrs_tool_secret")),
            "researcher": (
                _secret(data_dir, "lrs_researcher_key"),
                _secret(data_dir, "lrs_researcher_secret"),
            ),
        }
        for name, scopes in {
            "all": ["all"],
            "admin": ["admin"],
            "read": ["statements/read"],
            "mine": ["statements/read/mine", "statements/write"],
            "write": ["statements/write"],
            "state": ["state"],
            "profile": ["profile"],
        }.items():
            creds[name] = add_credential(database_url, scopes, f"test {name}")
        yield Lrs(endpoint, database_url, data_dir, creds, request.param)
    finally:
        stop_lrs(proc)
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def unique_iri(kind: str = "activity") -> str:
    return f"http://example.org/{kind}/{uuid.uuid4().hex}"


def statement(**overrides: Any) -> dict[str, Any]:
    """A minimal valid statement with a fresh actor and activity."""
    base: dict[str, Any] = {
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex},
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/answered",
            "display": {"nl-NL": "beantwoordde", "en-US": "answered"},
        },
        "object": {"objectType": "Activity", "id": unique_iri()},
    }
    base.update(overrides)
    return base
