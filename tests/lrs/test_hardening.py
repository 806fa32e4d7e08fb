"""Issue 14, the LRS's part: what an attacker found, each reproduced over HTTP against the real
process (``lrs``) or in-process where the test needs its own limits or database.

1. non-finite numbers (NaN, Infinity, 1e400) stored, then every page holding them invalid JSON;
2. a 401-digit integer, deep nesting, an object as interactionType: 500 instead of 400;
3. no body limit, and the body read before the credentials;
4. a database outage answered with 500 instead of 503 and Retry-After;
5. a tampered ``more`` token: 500 instead of 400;
7. a statement stored by an older version with NaN must not break pages or the export;
8. (issue 16) an empty activity definition is valid; a 1.0.3 Activity Profile POST of invalid
   JSON sent as application/json is refused.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.lrs.conftest import Lrs, statement, unique_iri
from tests.lrs.inprocess import InProcessLrs, in_process_lrs
from tests.support.lrs_process import start_lrs, stop_lrs
from tests.support.postgres import PostgresServer, free_port, start_postgres
from xapi.lrs.limits import LrsLimits

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 401]


@pytest.fixture
def local(tmp_path: Path) -> Iterator[InProcessLrs]:
    yield from in_process_lrs(tmp_path)


def _with_raw(number: str, statement_id: str) -> str:
    """A statement whose score.raw is written as ``number`` verbatim."""
    body = statement(id=statement_id, result={"score": {"raw": 0}})
    return json.dumps(body).replace('"raw": 0', f'"raw": {number}')


def _valid_page(response: requests.Response) -> dict[str, Any]:
    page: dict[str, Any] = orjson.loads(response.content)  # strict: no NaN, no Infinity
    return page


# -- 1. numbers JSON cannot carry ------------------------------------------------------------


def test_non_finite_numbers_are_refused_and_never_stored(lrs: Lrs) -> None:
    for number in NON_FINITE:
        statement_id = str(uuid.uuid4())
        response = lrs.request(
            "POST",
            "statements",
            data=_with_raw(number, statement_id),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, number
        assert "number" in response.json()["message"]
        assert lrs.get(params={"statementId": statement_id}).status_code == 404, number
    # Inside extensions too, and in a PUT.
    statement_id = str(uuid.uuid4())
    body = json.dumps(statement(context={"extensions": {"http://example.org/x": [1]}}))
    response = lrs.request(
        "PUT",
        "statements",
        params={"statementId": statement_id},
        data=body.replace("[1]", "[NaN]"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    page = lrs.get(params={"limit": "50"})
    assert page.status_code == 200
    _valid_page(page)


# -- 2. sizes and shapes that gave 500 -------------------------------------------------------


def test_huge_integers_deep_nesting_and_odd_interaction_types_are_400(lrs: Lrs) -> None:
    headers = {"Content-Type": "application/json"}
    huge = json.dumps(statement(context={"extensions": {"http://example.org/n": 1}}))
    huge = huge.replace('"http://example.org/n": 1', '"http://example.org/n": ' + "7" * 401)
    assert lrs.request("POST", "statements", data=huge, headers=headers).status_code == 400
    deep = "[" * 100_000 + "]" * 100_000
    response = lrs.request("POST", "statements", data=deep, headers=headers)
    assert response.status_code == 400
    assert "nested" in response.json()["message"]

    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels):
            value = [value]
        return value

    # Statement, context, extensions: 3 levels; the limit is 64 in all.
    ok = statement(context={"extensions": {"http://example.org/deep": nested(61)}})
    assert lrs.post(ok).status_code == 200
    too_deep = statement(context={"extensions": {"http://example.org/deep": nested(62)}})
    assert lrs.post(too_deep).status_code == 400
    for interaction in ({"a": 1}, ["choice"], 7, True):
        activity = {
            "id": unique_iri(),
            "definition": {"type": unique_iri("type"), "interactionType": interaction},
        }
        response = lrs.post(statement(object=activity))
        assert response.status_code == 400, interaction
        assert "interactionType" in response.json()["message"]
    # Query parameters parsed as JSON follow the same rules.
    deep_agent = "[" * 600 + "]" * 600  # as deep as a URL (4 KB in gunicorn) allows
    assert lrs.get(params={"agent": deep_agent}).status_code == 400
    assert lrs.get(params={"agent": '{"mbox": NaN}'}).status_code == 400


# -- 3. body limits, credentials first ---------------------------------------------------------


def _raw_request(endpoint: str, head: str, body: bytes = b"") -> tuple[int, dict[str, str]]:
    """Send a request by hand (a Content-Length can promise more than is sent) and read the
    status line and headers of the answer."""
    parts = urlsplit(endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line, *lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}


def test_credentials_are_checked_before_the_body_is_read(lrs: Lrs) -> None:
    """400 MB announced, nothing sent: without credentials the answer is 401 at once; with
    them it is 413 at once (more than the statement limit), in both cases without waiting for
    the body (a read would block here until the 20 s timeout)."""
    path = urlsplit(lrs.endpoint).path + "statements"
    common = (
        f"POST {path} HTTP/1.1\r\nHost: lrs\r\nX-Experience-API-Version: 1.0.3\r\n"
        "Content-Type: application/json\r\nContent-Length: 400000000\r\n"
    )
    status, _headers = _raw_request(lrs.endpoint, common)
    assert status == 401
    key, secret = lrs.creds["all"]
    auth = base64.b64encode(f"{key}:{secret}".encode()).decode()
    status, _headers = _raw_request(lrs.endpoint, common + f"Authorization: Basic {auth}\r\n")
    assert status == 413


def test_bodies_over_the_limit_are_413_on_every_resource(lrs: Lrs) -> None:
    limits = LrsLimits()
    big_statement = json.dumps(statement(result={"response": "x" * limits.statement_body}))
    response = lrs.request(
        "POST", "statements", data=big_statement, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == 413
    params = {"activityId": unique_iri(), "agent": {"mbox": "mailto:big@example.org"}}
    response = lrs.request(
        "PUT",
        "activities/state",
        params={**params, "stateId": "big"},
        data=b"x" * (limits.document_body + 1),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413
    assert lrs.get("activities/state", params={**params, "stateId": "big"}).status_code == 404
    # At the limit a document is stored.
    response = lrs.request(
        "PUT",
        "activities/state",
        params={**params, "stateId": "big"},
        data=b"x" * limits.document_body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 204


def test_chunked_bodies_over_the_limit_are_413_over_http(lrs: Lrs) -> None:
    """A chunked body (no Content-Length) is read up to the limit, then refused."""
    limit = LrsLimits().document_body

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    params = {
        "activityId": unique_iri(),
        "agent": json.dumps({"mbox": "mailto:chunks@example.org"}),
        "stateId": "chunked",
    }
    key, secret = lrs.creds["all"]
    response = requests.put(
        lrs.endpoint + "activities/state",
        params=params,
        data=chunks(),
        headers={"X-Experience-API-Version": "1.0.3", "Content-Type": "text/plain"},
        auth=(key, secret),
        timeout=30,
    )
    assert response.status_code == 413
    small = requests.put(
        lrs.endpoint + "activities/state",
        params=params,
        data=iter([b"small", b" body"]),
        headers={"X-Experience-API-Version": "1.0.3", "Content-Type": "text/plain"},
        auth=(key, secret),
        timeout=30,
    )
    assert small.status_code == 204
    assert lrs.get("activities/state", params=params).content == b"small body"


def test_limits_are_the_apps_own_configuration(tmp_path: Path) -> None:
    """create_app(limits=...): a small limit refuses by Content-Length and, for a chunked
    body, reads no more than the limit and one byte."""
    limits = LrsLimits(statement_body=4000, document_body=300)
    for lrs_app in in_process_lrs(tmp_path, limits):
        small = statement()
        assert lrs_app.request("POST", "statements", json_body=small).status_code == 200
        big = statement(result={"response": "x" * 4000})
        assert lrs_app.request("POST", "statements", json_body=big).status_code == 413
        status, read = lrs_app.chunked(
            "statements", json.dumps(big).encode(), {"Content-Type": "application/json"}
        )
        assert (status, read) == (413, 4001)
        status, read = lrs_app.chunked(
            "statements", json.dumps(statement()).encode(), {"Content-Type": "application/json"}
        )
        assert status == 200
        params = {"activityId": unique_iri(), "agent": '{"mbox": "mailto:a@example.org"}'}
        response = lrs_app.request(
            "PUT", "activities/state", params={**params, "stateId": "s"}, body=b"x" * 301
        )
        assert response.status_code == 413
        status, read = lrs_app.chunked("extensions/statements/delete", b"x" * 10_000, {})
        assert (status, read) == (413, 301)


def test_steun_lrs_serve_takes_its_limits_from_the_settings(tmp_path: Path) -> None:
    """STEUN_LRS_SERVER__MAX_STATEMENT_BODY / __MAX_DOCUMENT_BODY reach the served app."""
    settings = {
        "STEUN_LRS_SERVER__MAX_STATEMENT_BODY": "4096",
        "STEUN_LRS_SERVER__MAX_DOCUMENT_BODY": "2048",
    }
    proc, endpoint = start_lrs(tmp_path / "var", workers=1, env_vars=settings)
    try:
        secrets = tmp_path / "var" / "secrets"
        auth = (
            (secrets / "lrs_tool_key").read_text().strip(),
            (secrets / "lrs_tool_secret").read_text().strip(),
        )
        headers = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}

        def post(body: Any) -> int:
            data = json.dumps(body)
            response = requests.post(
                endpoint + "statements", data=data, headers=headers, auth=auth, timeout=30
            )
            return response.status_code

        assert post(statement()) == 200
        assert post(statement(result={"response": "x" * 4096})) == 413
        params = {
            "activityId": unique_iri(),
            "agent": json.dumps({"mbox": "mailto:a@example.org"}),
            "stateId": "s",
        }
        response = requests.put(
            endpoint + "activities/state",
            params=params,
            data=b"x" * 2049,
            headers=headers,
            auth=auth,
            timeout=30,
        )
        assert response.status_code == 413
    finally:
        stop_lrs(proc)


def test_an_anonymous_body_is_never_read(local: InProcessLrs) -> None:
    local.auth = {"Authorization": "Basic " + base64.b64encode(b"nobody:wrong").decode()}
    status, read = local.chunked(
        "statements", b"[" + b"x" * 1_000_000, {"Content-Type": "application/json"}
    )
    assert (status, read) == (401, 0)
    local.auth = {}
    status, read = local.chunked("activities/state", b"x" * 1_000_000, {})
    assert (status, read) == (401, 0)
    # About answers without credentials, and reads no body either.
    status, read = local.chunked("about", b"x" * 1_000_000, {})
    assert (status, read) == (405, 0)  # POST
    status, read = local.chunked("about", b"x" * 1_000_000, {}, method="GET")
    assert (status, read) == (200, 0)


# -- 4. the database unavailable ---------------------------------------------------------------


def _assert_503(response: Any) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == {
        "error": 503,
        "message": "The LRS's database is unavailable; try again.",
    }


def test_an_unreadable_sqlite_database_is_503(tmp_path: Path, caplog: Any) -> None:
    for lrs_app in in_process_lrs(tmp_path):
        response = lrs_app.request("POST", "statements", json_body=statement())
        assert response.status_code == 200
        # The database file replaced by something that is not a database.
        lrs_app.app.store.dispose()
        path = Path(lrs_app.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(b"not a database " * 1000)
        with caplog.at_level(logging.ERROR, logger="xapi.lrs"):
            for method, resource in (("GET", "statements"), ("POST", "statements")):
                body = statement() if method == "POST" else None
                _assert_503(lrs_app.request(method, resource, json_body=body))
        assert "Traceback" not in caplog.text
        assert "file is not a database" in caplog.text
    directory = tmp_path / "a-directory"
    directory.mkdir()
    for lrs_app in _broken(tmp_path, f"sqlite:///{directory}"):
        _assert_503(lrs_app.request("GET", "statements"))


def test_a_locked_sqlite_database_counts_as_unavailable(local: InProcessLrs) -> None:
    """SQLite gives up on a lock after its busy timeout (30 s) with OperationalError
    "database is locked"; the store classes it as an outage (503), not a fault (500)."""
    import sqlite3

    from sqlalchemy.exc import IntegrityError, OperationalError

    store = local.app.store
    assert store.unavailable(sqlite3.OperationalError("database is locked"))
    assert store.unavailable(OperationalError("SELECT 1", {}, Exception("locked")))
    assert not store.unavailable(sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not store.unavailable(IntegrityError("INSERT", {}, Exception("unique")))
    assert not store.unavailable(ValueError("a bug"))


def _broken(tmp_path: Path, url: str) -> Iterator[InProcessLrs]:
    """An app on a database that cannot be used (no schema creation, no credential)."""
    from werkzeug.test import Client

    from xapi.lrs.app import create_app

    app = create_app(url, create_schema=False)
    auth = {"Authorization": "Basic " + base64.b64encode(b"key:secret").decode()}
    try:
        yield InProcessLrs(app, Client(app), auth, url)
    finally:
        app.store.dispose()


def test_postgresql_on_a_closed_port_is_503(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://steun@127.0.0.1:{free_port()}/steun"
    for lrs_app in _broken(tmp_path, url):
        _assert_503(lrs_app.request("GET", "statements"))
        _assert_503(lrs_app.request("POST", "statements", json_body=statement()))
        _assert_503(lrs_app.request("GET", "activities/state", params={"activityId": "x:y"}))


@pytest.mark.postgres
def test_a_stopped_postgresql_server_is_503(tmp_path: Path) -> None:
    """A server of its own, stopped while the LRS runs (the session's server stays up)."""
    server: PostgresServer = start_postgres()
    try:
        for lrs_app in in_process_lrs(tmp_path, database_url=server.create_database("outage")):
            assert lrs_app.request("POST", "statements", json_body=statement()).status_code == 200
            assert lrs_app.request("GET", "statements").status_code == 200
            server.stop()
            _assert_503(lrs_app.request("GET", "statements"))
            _assert_503(lrs_app.request("POST", "statements", json_body=statement()))
            params = {
                "activityId": unique_iri(),
                "agent": '{"mbox": "mailto:a@example.org"}',
                "stateId": "s",
            }
            _assert_503(lrs_app.request("PUT", "activities/state", params=params, body=b"{}"))
    finally:
        server.stop()


# -- 5. the more token -----------------------------------------------------------------------


def _token(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_tampered_more_token_is_400(lrs: Lrs) -> None:
    for _ in range(3):
        assert lrs.post(statement()).status_code == 200
    first = lrs.get(params={"limit": "1"}).json()
    more = first["more"]
    assert more
    token = more.split("more=", 1)[1]
    assert lrs.get(params={"more": token}).status_code == 200
    state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    bad_tokens = [
        "garbage",
        "%%%",
        token[:-3],
        _token(b"\xff\xfe not json"),
        _token([1, 2]),
        _token("a string"),
        _token({**state, "unknown": 1}),
        _token({**state, "after": "x"}),
        _token({**state, "after": 2**70}),
        _token({**state, "after": True}),
        _token({**state, "limit": -1}),
        _token({**state, "limit": 1.5}),
        _token({**state, "format": "everything"}),
        _token({**state, "since_us": [1]}),
        _token({**state, "agent": {"mbox": "mailto:a@example.org"}}),
        _token({**state, "ascending": "yes"}),
        _token({**state, "extra": []}),
        _token({**state, "mine": 1}),
        token.replace(token[5], "%" if token[5] != "%" else "A", 1),
    ]
    for bad in bad_tokens:
        response = lrs.get(params={"more": bad})
        assert response.status_code == 400, bad
        assert response.json()["message"] == "The 'more' token is not valid."


def test_the_next_page_keeps_the_format(lrs: Lrs) -> None:
    registration = str(uuid.uuid4())
    for _ in range(2):
        lrs.post(statement(context={"registration": registration}))
    first = lrs.get(params={"registration": registration, "limit": "1", "format": "ids"}).json()
    token = first["more"].split("more=", 1)[1]
    second = lrs.get(params={"more": token}).json()
    assert second["statements"][0]["verb"] == {"id": "http://adlnet.gov/expapi/verbs/answered"}


# -- 7. a statement stored by an older version with NaN ----------------------------------------


def _store_with_nan(lrs_url: str, post: Any) -> str:
    """Store a statement, then write NaN into its stored JSON as an older version did."""
    statement_id = str(uuid.uuid4())
    assert post(statement(id=statement_id, result={"score": {"raw": 1}})).status_code == 200
    engine = create_engine(lrs_url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE lrs_statement SET body = replace(body, :a, :b) WHERE id = :id"),
                {"a": '"raw":1', "b": '"raw":NaN', "id": statement_id},
            ).rowcount
        assert changed == 1
    finally:
        engine.dispose()
    return statement_id


def test_a_stored_nan_statement_is_left_out_of_pages(lrs: Lrs) -> None:
    registration = str(uuid.uuid4())
    context = {"registration": registration}
    before = lrs.post(statement(context=context)).json()[0]
    bad = _store_with_nan(lrs.database_url, lambda s: lrs.post({**s, "context": context}))
    after = lrs.post(statement(context=context)).json()[0]
    for fmt in ("exact", "ids", "canonical"):
        page = _valid_page(lrs.get(params={"registration": registration, "format": fmt}))
        assert [s["id"] for s in page["statements"]] == [after, before], fmt
    # Paging across it: the statement is skipped, the pages go on.
    ids = []
    response = lrs.get(params={"registration": registration, "limit": "1"})
    while True:
        page = _valid_page(response)
        ids += [s["id"] for s in page["statements"]]
        if not page["more"]:
            break
        response = lrs.get(params={"more": page["more"].split("more=", 1)[1]})
    assert ids == [after, before]
    single = lrs.get(params={"statementId": bad})
    assert single.status_code == 404
    assert "NaN" in single.json()["message"]
    # Deleted by id like any other (and so gone for the other tests of this session's LRS).
    deleted = lrs.request(
        "POST", "extensions/statements/delete", json_body={"statementIds": [bad]}, auth="admin"
    )
    assert deleted.status_code == 200
    assert deleted.json()["statements"] == 1


def test_a_stored_nan_activity_definition_is_left_out(lrs: Lrs) -> None:
    activity_id = unique_iri()
    definition = {"type": unique_iri("type"), "extensions": {"http://example.org/e": 12345}}
    assert lrs.post(statement(object={"id": activity_id, "definition": definition})).ok
    engine = create_engine(lrs.database_url)
    try:
        with engine.begin() as conn:
            changed = conn.execute(
                text("UPDATE lrs_activity SET definition = replace(definition, '12345', 'NaN')")
            ).rowcount
        assert changed >= 1
    finally:
        engine.dispose()
    response = lrs.get("activities", params={"activityId": activity_id})
    assert response.status_code == 200
    assert orjson.loads(response.content) == {"objectType": "Activity", "id": activity_id}


# -- 8. issue 16 -------------------------------------------------------------------------------


def test_an_empty_activity_definition_is_valid(lrs: Lrs) -> None:
    activity = {"objectType": "Activity", "id": unique_iri(), "definition": {}}
    statement_id = lrs.post(statement(object=activity)).json()[0]
    stored = lrs.get(params={"statementId": statement_id}).json()
    assert stored["object"]["definition"] == {}
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:sub@example.org"},
        "verb": {"id": "http://example.org/verb"},
        "object": {"id": unique_iri(), "definition": {}},
    }
    assert lrs.post(statement(object=sub)).status_code == 200
    parent = {"contextActivities": {"parent": [{"id": unique_iri(), "definition": {}}]}}
    assert lrs.post(statement(context=parent)).status_code == 200


@pytest.mark.parametrize("resource", ["activities/profile", "agents/profile", "activities/state"])
def test_a_posted_json_document_must_be_a_json_object(lrs: Lrs, resource: str) -> None:
    """Communication 2.2 (1.0.3): a document POSTed as application/json that does not parse as
    a JSON object is refused (400), also when no document exists yet, and is not stored."""
    params: dict[str, Any] = {"activityId": unique_iri()}
    if resource == "agents/profile":
        params = {"agent": {"mbox": f"mailto:{uuid.uuid4().hex}@example.org"}}
    elif resource == "activities/state":
        params["agent"] = {"mbox": "mailto:state@example.org"}
    params["stateId" if resource == "activities/state" else "profileId"] = "doc"
    for bad in (b"{not json", b"[1, 2]", b'{"a": NaN}', b'"text"', b"[" * 100 + b"]" * 100):
        response = lrs.request(
            "POST", resource, params=params, data=bad, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, bad
        assert lrs.get(resource, params=params).status_code == 404
    # Other content types are stored as they are on a first POST (1.0.3).
    response = lrs.request(
        "POST", resource, params=params, data=b"{not json", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 204
