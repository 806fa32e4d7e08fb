"""Paging with ``LrsClient.iter_statements``: the next page is requested as soon as its ``more``
can be read off the raw body, before the body is parsed, and that early guess never changes
what is returned (issue 16)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

import xapi.client
from tests.support.browser import serve_wsgi
from xapi.client import LrsClient, _more_in_body
from xapi.exceptions import LrsUnavailable

PATH = "/xapi/statements"


def _statements(page: str, n: int = 3) -> list[dict[str, Any]]:
    return [
        {"id": f"00000000-0000-4000-8000-{page:0>8}{i:04d}", "verb": {"id": "http://x/v"}}
        for i in range(n)
    ]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _steun_body(statements: list[dict[str, Any]], more: str) -> str:
    """A page as Steun's LRS writes it: compact, ``more`` last."""
    return (
        '{"statements":['
        + ",".join(map(_compact, statements))
        + '],"more":'
        + json.dumps(more)
        + "}"
    )


class FakeLrs:
    """A WSGI LRS serving fixed bodies by the ``p`` parameter, recording each request, with an
    event per page set when its request arrives."""

    def __init__(self, bodies: dict[str, str | int]) -> None:
        self.bodies = bodies
        self.requested: list[str] = []
        self.arrived = {p: threading.Event() for p in bodies}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        page = request.args.get("p", "1")
        self.requested.append(page)
        self.arrived[page].set()
        body = self.bodies[page]
        if isinstance(body, int):
            response = Response('{"message":"busy"}', status=body, content_type="application/json")
        else:
            response = Response(body, content_type="application/json")
        return response(environ, start_response)


@pytest.fixture
def serve() -> Iterator[Callable[[FakeLrs], str]]:
    servers = []

    def start(app: FakeLrs) -> str:
        server = serve_wsgi(app)
        servers.append(server)
        return server.url + "/xapi/"

    yield start
    for server in servers:
        server.stop()


def _watch_parses(monkeypatch: pytest.MonkeyPatch, lrs: FakeLrs, order: list[str]) -> list[bool]:
    """Before each page is parsed, wait (up to 5 s) for the request of the page after it: with
    the early request it has arrived; without, it never would. Returns, per parsed page, whether
    it had."""
    seen: list[bool] = []
    parse = xapi.client._parse_page

    def watching(content: bytes) -> Any:
        index = len(seen)
        following = order[index + 1] if index + 1 < len(order) else None
        seen.append(following is None or lrs.arrived[following].wait(5))
        return parse(content)

    monkeypatch.setattr(xapi.client, "_parse_page", watching)
    return seen


def _pretty(statements: list[dict[str, Any]], more: str, *, more_first: bool) -> str:
    page = (
        {"more": more, "statements": statements}
        if more_first
        else {"statements": statements, "more": more}
    )
    return json.dumps(page, indent=2)


@pytest.mark.parametrize("layout", ["steun", "more first", "more last, pretty"])
def test_the_next_page_is_requested_before_the_current_one_is_parsed(
    layout: str, serve: Callable[[FakeLrs], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = {p: _statements(p) for p in ("1", "2", "3")}
    links = {"1": f"{PATH}?p=2", "2": f"{PATH}?p=3", "3": ""}

    def body(p: str) -> str:
        if layout == "steun":
            return _steun_body(pages[p], links[p])
        return _pretty(pages[p], links[p], more_first=layout == "more first")

    lrs = FakeLrs({p: body(p) for p in pages})
    seen = _watch_parses(monkeypatch, lrs, ["1", "2", "3"])
    with LrsClient(serve(lrs), "key", "secret") as client:
        got = list(client.iter_statements())
    assert got == pages["1"] + pages["2"] + pages["3"]
    assert seen == [True, True, True]
    assert lrs.requested == ["1", "2", "3"]  # each page once, nothing after the last


def test_a_wrong_guess_is_dropped_and_the_parsed_more_followed(
    serve: Callable[[FakeLrs], str],
) -> None:
    """A body whose first ``more`` is not the one a JSON reader keeps (a repeated key: the last
    wins): the early request goes to the decoy, its answer is never returned."""
    one, two = _statements("1"), _statements("2")
    first = (
        '{"more":"' + PATH + '?p=decoy","statements":[' + ",".join(map(json.dumps, one)) + "],"
        '"more":"' + PATH + '?p=2"}'
    )
    lrs = FakeLrs(
        {"1": first, "2": _steun_body(two, ""), "decoy": _steun_body(_statements("9"), "")}
    )
    with LrsClient(serve(lrs), "key", "secret") as client:
        got = list(client.iter_statements())
    assert got == one + two
    assert lrs.requested[0] == "1" and lrs.requested.count("2") == 1
    assert set(lrs.requested) <= {"1", "2", "decoy"}


def test_a_wrong_guess_that_fails_does_not_stop_paging(serve: Callable[[FakeLrs], str]) -> None:
    one, two = _statements("1"), _statements("2")
    first = (
        '{"more":"'
        + PATH
        + '?p=decoy","statements":'
        + json.dumps(one)
        + ',"more":"'
        + PATH
        + '?p=2"}'
    )
    lrs = FakeLrs({"1": first, "2": _steun_body(two, ""), "decoy": 503})
    with LrsClient(serve(lrs), "key", "secret") as client:
        assert list(client.iter_statements()) == one + two


@pytest.mark.parametrize("head", ["{", '{"more":"",'])
def test_more_inside_a_statement_is_not_taken_for_the_pages(
    head: str, serve: Callable[[FakeLrs], str]
) -> None:
    """The last page, its ``more`` empty and first, or absent; ``"more"`` as a key and inside a
    string of its last statement, where a naive scan of the body's tail would find a link."""
    trap = _statements("1")
    trap[-1]["result"] = {
        "response": f'"more":"{PATH}?p=decoy"}}',
        "extensions": {"http://x/e": {"more": f"{PATH}?p=decoy"}},
    }
    body = head + '"statements":' + _compact(trap) + "}"
    assert body[body.rfind('"more":"') :].startswith(f'"more":"{PATH}?p=decoy"')
    lrs = FakeLrs({"1": body, "decoy": _steun_body(_statements("9"), "")})
    with LrsClient(serve(lrs), "key", "secret") as client:
        assert list(client.iter_statements()) == trap
    assert lrs.requested == ["1"]


def test_a_guessed_end_that_is_not_the_end_still_pages_on(
    serve: Callable[[FakeLrs], str],
) -> None:
    one, two = _statements("1"), _statements("2")
    first = '{"more":"","statements":' + json.dumps(one) + ',"more":"' + PATH + '?p=2"}'
    lrs = FakeLrs({"1": first, "2": _steun_body(two, "")})
    with LrsClient(serve(lrs), "key", "secret") as client:
        assert list(client.iter_statements()) == one + two
    assert lrs.requested == ["1", "2"]


@pytest.mark.parametrize("last", ['{"statements":[]}', '{"statements":[],"more":null}'])
def test_paging_ends_at_a_page_without_more(last: str, serve: Callable[[FakeLrs], str]) -> None:
    one = _statements("1")
    lrs = FakeLrs({"1": _steun_body(one, f"{PATH}?p=2"), "2": last})
    with LrsClient(serve(lrs), "key", "secret") as client:
        assert list(client.iter_statements()) == one
    assert lrs.requested == ["1", "2"]


def test_an_error_on_a_rightly_guessed_page_comes_after_the_page_before(
    serve: Callable[[FakeLrs], str],
) -> None:
    one = _statements("1")
    lrs = FakeLrs({"1": _steun_body(one, f"{PATH}?p=2"), "2": 503})
    got: list[dict[str, Any]] = []
    with LrsClient(serve(lrs), "key", "secret") as client, pytest.raises(LrsUnavailable):
        for statement in client.iter_statements():
            got.append(statement)
    assert got == one


def test_no_early_request_to_another_host(serve: Callable[[FakeLrs], str]) -> None:
    """An absolute ``more`` on another host is only followed once the page is parsed, as before
    (the guess never sends the credentials anywhere the parsed page would not)."""
    with LrsClient("http://127.0.0.1:9/xapi/", "key", "secret") as client:
        body = _steun_body([], "http://example.org/xapi/statements?p=2").encode()
        assert client._early_more(body) is None
        body = _steun_body([], f"{PATH}?p=2").encode()
        assert client._early_more(body) == f"http://127.0.0.1:9{PATH}?p=2"
        assert client._early_more(_steun_body([], "http://[broken/").encode()) is None


@pytest.mark.parametrize(
    ("body", "more"),
    [
        (b'{"statements":[],"more":"/a?b=c"}', "/a?b=c"),
        (b' {\n  "more" : "/a",\n  "statements": []\n}\n', "/a"),
        (b'{"statements":[],"more":"/a"}\n', "/a"),
        (b'{"statements":[],"more":""}', ""),
        (b'{"statements":[],"more":"\\/a"}', None),  # an escape: left to the parser
        (b'{"statements":[{"more":"/x"}]}', None),
        (b'{"statements":[],"x":{"more":"/x"}}', None),
        (b'{"statements":[]}', None),
        (b"", None),
    ],
)
def test_more_in_body(body: bytes, more: str | None) -> None:
    assert _more_in_body(body) == more
