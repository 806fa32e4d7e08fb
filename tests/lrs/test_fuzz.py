"""Issue 14: no request makes the LRS answer 500. Hypothesis sends mutated statements (as JSON
and as raw bytes), documents and query parameters to the WSGI app in-process (werkzeug's test
client on SQLite: fast, a few thousand requests in some seconds), and checks every answer is a
deliberate one: not 500, and JSON that a strict reader accepts whenever it says it is JSON."""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lrs.conftest import statement
from tests.lrs.inprocess import InProcessLrs, in_process_lrs
from xapi.lrs.app import STATEMENT_PARAMS

FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,  # nothing written into the repository
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

XAPI_KEYS = [
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
    "version", "attachments", "objectType", "definition", "interactionType", "score", "raw",
    "scaled", "min", "max", "extensions", "contextActivities", "parent", "registration",
    "member", "account", "homePage", "name", "mbox", "display", "choices", "scale",
    "correctResponsesPattern", "duration", "sha2", "length", "contentType", "usageType",
    "contextAgents", "contextGroups", "instructor", "team", "statement", "language",
]  # fmt: skip

scalars = (
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**400, 2**64, 1e308, -0.0])
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["Agent", "Group", "SubStatement", "StatementRef", "Activity", "likert"])
    | st.sampled_from(["mailto:a@example.org", "http://example.org/x", "2026-01-01T00:00:00Z"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(XAPI_KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessLrs]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    yield from in_process_lrs(path)


def _check(response: Any, *, document: bool = False) -> None:
    """Not a 500; JSON a strict reader accepts where the LRS wrote the JSON (a document is
    served as it was stored, so a client's own invalid "JSON" document comes back as sent)."""
    assert response.status_code != 500, response.get_data(as_text=True)[:500]
    assert response.status_code < 600
    head = response.request.method == "HEAD"
    if response.mimetype == "application/json" and response.status_code != 204:
        if document or head:
            return
        orjson.loads(response.get_data())  # strict: NaN or Infinity would fail here


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutated(draw: Any) -> Any:
    definition = {
        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
        "interactionType": "likert",
        "scale": [{"id": "1", "description": {"en": "one"}}, {"id": "2"}],
    }
    base = statement(
        object={"id": "http://example.org/fuzz/item", "definition": definition},
        result={"score": {"raw": 1, "min": 0, "max": 5}, "response": "3"},
        context={
            "registration": "6f0b5a1c-2a5b-4c1a-9d1e-0a1b2c3d4e5f",
            "extensions": {"http://example.org/ext": [[1]]},
        },
    )
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(base)
        path = draw(st.sampled_from(paths))
        replacement = draw(json_values)
        if not path:
            base = replacement
            continue
        holder = base
        for step in path[:-1]:
            holder = holder[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(holder, dict):
            del holder[path[-1]]
        elif action == "add" and isinstance(holder[path[-1]], dict):
            holder[path[-1]][draw(st.sampled_from(XAPI_KEYS))] = replacement
        else:
            holder[path[-1]] = replacement
        if not isinstance(base, dict | list):
            break
    return base


@st.composite
def mutated_statements(draw: Any) -> Any:
    value = _mutated(draw)
    return [value] if draw(st.booleans()) else value


@given(body=mutated_statements(), fmt=st.sampled_from(["exact", "ids", "canonical"]))
@FUZZ
def test_mutated_statements_never_give_500(local: InProcessLrs, body: Any, fmt: str) -> None:
    text = json.dumps(body)  # NaN, Infinity and huge integers written as Python writes them
    response = local.request(
        "POST", "statements", body=text, headers={"Content-Type": "application/json"}
    )
    _check(response)
    if isinstance(body, dict):
        params = {"statementId": "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"}
        response = local.request(
            "PUT",
            "statements",
            params=params,
            body=text,
            headers={"Content-Type": "application/json"},
        )
        _check(response)
    # Whatever was stored, the pages are still strict JSON.
    _check(local.request("GET", "statements", params={"limit": "5", "format": fmt}))


@given(
    data=st.binary(max_size=30),
    cut=st.integers(min_value=0, max_value=400),
    content_type=st.sampled_from(
        ["application/json", "multipart/mixed; boundary=x", "text/plain", "", "application/x"]
    ),
    version=st.sampled_from(["1.0.3", "2.0.0"]),
)
@FUZZ
def test_corrupted_statement_bytes_never_give_500(
    local: InProcessLrs, data: bytes, cut: int, content_type: str, version: str
) -> None:
    text = json.dumps(statement()).encode()
    body = text[:cut] + data + text[cut:]
    headers = {"Content-Type": content_type, "X-Experience-API-Version": version}
    _check(local.request("POST", "statements", body=body, headers=headers))


DOCUMENT_PARAMS = {
    "activities/state": ["activityId", "agent", "stateId", "registration", "since"],
    "activities/profile": ["activityId", "profileId", "since"],
    "agents/profile": ["agent", "profileId", "since"],
}
param_text = (
    st.text(max_size=30)
    | st.sampled_from(
        [
            "http://example.org/a",
            '{"mbox": "mailto:a@example.org"}',
            '{"mbox": NaN}',
            "[" * 80 + "]" * 80,
            "6f0b5a1c-2a5b-4c1a-9d1e-0a1b2c3d4e5f",
            "2026-01-01T00:00:00Z",
            "9" * 400,
            "true",
        ]
    )
    | json_values.map(lambda v: json.dumps(v))
)


@given(
    resource=st.sampled_from(sorted(DOCUMENT_PARAMS)),
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    chosen=st.data(),
    body=json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=40),
    content_type=st.sampled_from(["application/json", "text/plain", "application/json; x=y"]),
    version=st.sampled_from(["1.0.3", "2.0.0"]),
)
@FUZZ
def test_documents_never_give_500(
    local: InProcessLrs,
    resource: str,
    method: str,
    chosen: Any,
    body: bytes,
    content_type: str,
    version: str,
) -> None:
    names = DOCUMENT_PARAMS[resource]
    good = {
        "activityId": "http://example.org/fuzz",
        "agent": '{"mbox": "mailto:fuzz@example.org"}',
        "stateId": "s",
        "profileId": "p",
    }
    params = {n: good[n] for n in names if n in good}
    for name in chosen.draw(st.lists(st.sampled_from([*names, "other"]), max_size=3)):
        params[name] = chosen.draw(param_text)
    headers = {"Content-Type": content_type, "X-Experience-API-Version": version}
    if chosen.draw(st.booleans()):
        headers["If-Match" if chosen.draw(st.booleans()) else "If-None-Match"] = chosen.draw(
            st.sampled_from(['"abc"', "*", "", '"'])
        )
    response = local.request(method, resource, params=params, body=body, headers=headers)
    _check(response, document=method == "GET" and response.status_code == 200)


@given(
    params=st.dictionaries(st.sampled_from(sorted(STATEMENT_PARAMS)), param_text, max_size=4),
    resource=st.sampled_from(["statements", "extensions/statements/count", "activities", "agents"]),
    method=st.sampled_from(["GET", "HEAD"]),
)
@FUZZ
def test_query_parameters_never_give_500(
    local: InProcessLrs, params: dict[str, str], resource: str, method: str
) -> None:
    if resource == "activities":
        params = {"activityId": params.get("activity", "x"), **params}
    _check(local.request(method, resource, params=params))


TOKEN_FIELDS = [
    "agent", "verb", "activity", "registration", "related_activities", "related_agents",
    "since_us", "until_us", "limit", "ascending", "format", "attachments", "mine", "after",
    "ceiling", "extra",
]  # fmt: skip
TOKEN = {"limit": 1, "format": "exact", "after": 10, "ceiling": 100, "ascending": False}


@given(
    state=json_values | st.binary(max_size=60),
    changes=st.dictionaries(st.sampled_from(TOKEN_FIELDS), json_values, max_size=3),
    how=st.sampled_from(["raw", "encoded", "token"]),
)
@FUZZ
def test_more_tokens_never_give_500(
    local: InProcessLrs, state: Any, changes: dict[str, Any], how: str
) -> None:
    if how == "raw":
        token = "".join(chr(b) for b in state) if isinstance(state, bytes) else str(state)
    else:
        value = {**TOKEN, **changes} if how == "token" else state
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        token = base64.urlsafe_b64encode(data).decode().rstrip("=")
    _check(local.request("GET", "statements", params={"more": token}))


@given(
    form=st.dictionaries(
        st.sampled_from(["Authorization", "X-Experience-API-Version", "Content-Type", "content"])
        | st.text(alphabet=string.ascii_letters, max_size=6),
        param_text,
        max_size=4,
    ),
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"]),
    resource=st.sampled_from(["statements", "activities/state", "agents/profile"]),
)
@FUZZ
def test_the_alternate_syntax_never_gives_500(
    local: InProcessLrs, form: dict[str, str], method: str, resource: str
) -> None:
    fields = {"Authorization": local.auth["Authorization"], **form}
    from urllib.parse import urlencode

    response = local.client.open(
        f"/xapi/{resource}?method={method}",
        method="POST",
        data=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _check(response)
