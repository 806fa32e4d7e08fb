"""A small xAPI 1.0.3 client: post statements, page through queries, void and erase.

Works against any conformant LRS. Every request has a timeout; failures become the typed errors
of :mod:`xapi.exceptions` with a message that says what to check (unreachable endpoint, refused
credentials, the LRS's own reason for a 400).
"""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
import requests
import urllib3

from xapi import vocab
from xapi.exceptions import (
    LrsAuthError,
    LrsConflict,
    LrsError,
    LrsRejected,
    LrsUnavailable,
    LrsUnreachable,
)
from xapi.jsoncheck import is_finite_json

log = logging.getLogger("xapi.client")


class UnreadableStatement(dict[str, Any]):
    """Stands in for a statement of a page that holds a number no JSON reader accepts
    (``NaN``, ``Infinity``, more than a double: stored by an older or another LRS). It carries
    only the statement's ``id`` and the ``reason``; readers such as the export count and skip it
    instead of stopping at the page."""


QUERY_FILTERS = (
    "agent",
    "verb",
    "activity",
    "registration",
    "since",
    "until",
    "limit",
    "related_activities",
    "related_agents",
    "ascending",
    "format",
    "voidedStatementId",
    "statementId",
)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class LrsClient:
    """One LRS endpoint (ending in ``/``) with Basic-auth credentials."""

    def __init__(
        self,
        endpoint: str,
        key: str | None = None,
        secret: str | None = None,
        *,
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["X-Experience-API-Version"] = vocab.XAPI_VERSION
        if key is not None:
            self.session.auth = (key, secret or "")
        self._extensions: dict[str, str] | None = None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> LrsClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing --
    def _url(self, resource: str) -> str:
        return urljoin(self.endpoint, resource)

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
            if kwargs.get("stream"):
                # A large body (a statement page) read in one go: requests reads 10 KB at a
                # time through urllib3's layers, some 80 calls per page of 500 statements.
                response._content = _read_whole(response)
        except requests.Timeout as exc:
            raise LrsUnreachable(
                f"The LRS at {self.endpoint} did not answer within {self.timeout:g} s."
            ) from exc
        except requests.RequestException as exc:
            raise LrsUnreachable(
                f"The LRS at {self.endpoint} cannot be reached ({type(exc).__name__}). "
                "Is it running, and is STEUN_LRS__ENDPOINT right?"
            ) from exc
        status = response.status_code
        if status in (200, 204):
            if _is_html(response):
                # A web site, not an LRS: the wrong address (say the tool's own) answers 200.
                raise LrsError(f"{self.endpoint} answered with {_html_hint(response)}")
            return response
        reason = _reason(response)
        if status in (401, 403):
            raise LrsAuthError(
                f"The LRS at {self.endpoint} refused the credentials ({status}). "
                "Check STEUN_LRS__KEY and STEUN_LRS__SECRET."
            )
        if status == 409:
            raise LrsConflict(f"The LRS answered 409: {reason}")
        if status == 429 or status >= 500:
            raise LrsUnavailable(
                f"The LRS answered {status}: {reason}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status in (400, 413):
            raise LrsRejected(f"The LRS refused the request ({status}): {reason}")
        raise LrsError(f"The LRS answered {status} to {method} {url}: {reason}")

    # -- statements --
    def post_statements(self, statements: Sequence[Mapping[str, Any]]) -> list[str]:
        """POST a batch; returns the ids the LRS reports (raises on anything but 200/204)."""
        body = json.dumps(list(statements), separators=(",", ":"), ensure_ascii=False)
        response = self._request(
            "POST",
            self._url("statements"),
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code == 200 and response.content:
            try:
                ids = response.json()
            except ValueError:
                return []
            return [str(i) for i in ids] if isinstance(ids, list) else []
        return []

    def post_raw(self, statements_json: Sequence[str]) -> None:
        """POST a batch of statements already serialised as JSON objects (no re-encoding)."""
        body = "[" + ",".join(statements_json) + "]"
        self._request(
            "POST",
            self._url("statements"),
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )

    def get_statement(self, statement_id: str, *, voided: bool = False) -> dict[str, Any]:
        param = "voidedStatementId" if voided else "statementId"
        response = self._request("GET", self._url("statements"), params={param: statement_id})
        data: dict[str, Any] = response.json()
        return data

    def iter_statements(self, *, prefetch: bool = True, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every statement matching the filters, following ``more`` until the end.

        With ``prefetch`` the pages are fetched in a helper thread, and the request for the next
        page goes out as soon as its ``more`` can be read off the raw body of the current one
        (:func:`_more_in_body`), before that body is parsed: the LRS computes the next page while
        this client parses the current one and the caller works through it (a 1M-statement
        export is some 2,000 pages). The early ``more`` is checked against the parsed page; where
        they differ (another layout, a repeated key) the early answer is dropped unread and the
        page the parsed ``more`` names is fetched, so the guess only ever saves time. In flight at
        any moment: the page being handed out and the next page's raw body."""
        params = _filter_params(filters)
        first = self._url("statements")
        url: str | None
        if not prefetch:
            page, url = self._page(first, params)
            while True:
                yield from page
                if not url:
                    return
                page, url = self._page(url, None)
        with ThreadPoolExecutor(1, thread_name_prefix="lrs-page") as pool:
            url = first
            pending: Future[bytes] = pool.submit(self._fetch_page, first, params)
            try:
                while True:
                    content = pending.result()
                    early = self._early_more(content)
                    if early:
                        sending = threading.Event()
                        pending = pool.submit(self._fetch_page, early, None, sending)
                        # Let the helper start the request before the parse takes the GIL
                        # (orjson holds it for the whole page): once started, the helper keeps
                        # the GIL until it blocks sending the request (or for 5 ms at most).
                        sending.wait()
                    page, next_url = self._read_page(content, url)
                    del content
                    if next_url != early:
                        if early:
                            pending.cancel()  # a wrong guess: its answer (or error) is dropped
                        if next_url:
                            pending = pool.submit(self._fetch_page, next_url, None)
                    yield from page
                    if not next_url:
                        return
                    url = next_url
            finally:
                pending.cancel()

    def _page(
        self, url: str, params: dict[str, str] | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of statements and the URL of the next one (None at the end)."""
        return self._read_page(self._fetch_page(url, params), url)

    def _fetch_page(
        self, url: str, params: dict[str, str] | None, sending: threading.Event | None = None
    ) -> bytes:
        """The raw body of one statement page."""
        if sending is not None:
            sending.set()
        return self._request("GET", url, params=params, stream=True).content

    def _read_page(self, content: bytes, url: str) -> tuple[list[dict[str, Any]], str | None]:
        """A page's statements and the URL of the next page (None at the end)."""
        try:
            page = _parse_page(content)
            lenient = False
        except ValueError:
            page, lenient = _lenient_page(content, url), True
        if not isinstance(page, dict) or not isinstance(page.get("statements", []), list):
            raise LrsError(f"The LRS sent a statement page without a statements list ({url}).")
        statements = page.get("statements", [])
        if lenient:
            statements = [_readable(s) for s in statements]
        more = page.get("more")
        return statements, self._resolve_more(more) if more else None

    def _early_more(self, content: bytes) -> str | None:
        """The next page's URL as read off a page's raw body (:func:`_more_in_body`), when it
        is on this LRS's own host; None when it cannot be read cheaply or points elsewhere."""
        more = _more_in_body(content)
        if not more:
            return None
        try:
            url = self._resolve_more(more)
            here, there = urlsplit(self.endpoint), urlsplit(url)
        except ValueError:  # not a URL urllib reads: left to the parsed page, as before
            return None
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            return None
        return url

    def _resolve_more(self, more: str) -> str:
        if urlsplit(more).scheme:
            return more
        # "more" is relative to the LRS's host (xAPI 1.0.3, part 3 §2.1.3).
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}{more if more.startswith('/') else '/' + more}"

    def about(self) -> dict[str, Any]:
        data: dict[str, Any] = self._request("GET", self._url("about")).json()
        return data

    def check_credentials(self) -> None:
        """Raise a clear error when the endpoint is unreachable or refuses the credentials."""
        self._request("GET", self._url("statements"), params={"limit": "1"})

    # -- Steun LRS extensions (listed in About; other LRSs lack them: callers fall back) --
    def extension_path(self, name: str) -> str | None:
        """The path of a Steun LRS extension (``statements-delete``, ``statements-count``,
        ``agent-delete``) as the LRS's About lists it, or None when it offers none."""
        if self._extensions is None:
            try:
                about = self.about()
            except LrsError as exc:
                if not _not_offered(exc):
                    raise
                about = {}
            ext = about.get("extensions") if isinstance(about, Mapping) else None
            self._extensions = {
                str(k).rsplit("/", 1)[-1]: str(v)
                for k, v in (ext or {}).items()
                if str(k).startswith(vocab.LRS_EXTENSIONS) and isinstance(v, str)
            }
        return self._extensions.get(name)

    def count_statements(self, **filters: Any) -> int | None:
        """How many statements ``iter_statements(**filters)`` will yield, where the LRS can say
        cheaply (Steun's count extension); None elsewhere."""
        path = self.extension_path("statements-count")
        if path is None:
            return None
        params = _filter_params(filters)
        params.pop("limit", None)
        try:
            response = self._request("GET", self._url(path), params=params)
            return int(response.json()["count"])
        except (ValueError, KeyError, TypeError):
            return None
        except LrsError as exc:
            if _not_offered(exc):
                return None
            raise

    def delete_agent(self, agent: Mapping[str, Any]) -> bool:
        """Hard-delete every statement about the agent (``DELETE extensions/agent``, admin
        scope). False when the LRS does not offer it or this credential may not use it."""
        return self._optional(
            "DELETE",
            "extensions/agent",
            params={"agent": json.dumps(agent, separators=(",", ":"))},
        )

    def delete_statements(self, statement_ids: Sequence[str], *, chunk: int = 500) -> bool:
        """Hard-delete statements by id, with the statements that refer to them (voiding ones),
        through Steun's ``statements-delete`` extension (admin scope). False when the LRS does
        not offer it (not in About, 404/405) or this credential may not use it (401/403)."""
        path = self.extension_path("statements-delete")
        if path is None:
            return False
        ids = list(dict.fromkeys(statement_ids))
        for start in range(0, len(ids), chunk):
            body = json.dumps({"statementIds": ids[start : start + chunk]})
            if not self._optional(
                "POST", path, data=body, headers={"Content-Type": "application/json"}
            ):
                return False
        return True

    def _optional(self, method: str, resource: str, **kwargs: Any) -> bool:
        """A request to an optional extension: True when done, False when the LRS lacks it or
        refuses this credential; transport errors and 5xx raise as usual."""
        try:
            self._request(method, self._url(resource), **kwargs)
        except LrsAuthError:
            return False
        except LrsError as exc:
            if _not_offered(exc):
                return False
            raise
        return True


def _not_offered(exc: LrsError) -> bool:
    """A 400, 404, 405 or 501 (what an LRS without the extension answers), not a failure."""
    return type(exc) in (LrsError, LrsRejected)


def _lenient_page(content: bytes, url: str) -> Any:
    """A page strict JSON refused, read by Python's ``json``, which also takes ``NaN``,
    ``Infinity`` and numbers of any size: the statements holding them are then set aside one by
    one (:func:`_readable`) instead of losing the whole page."""
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise LrsError(f"The LRS sent a statement page that is not JSON ({url}).") from exc


def _readable(statement: Any) -> Any:
    if is_finite_json(statement):
        return statement
    statement_id = statement.get("id") if isinstance(statement, dict) else None
    log.warning(
        "statement %s holds a number that is not valid JSON (NaN, Infinity or beyond a "
        "double); skipped",
        statement_id,
    )
    return UnreadableStatement(id=statement_id, reason="not valid JSON: a non-finite number")


def _filter_params(filters: Mapping[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if key not in QUERY_FILTERS:
            raise ValueError(f"unknown statement filter {key!r}")
        if isinstance(value, Mapping | list):
            value = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            value = "true" if value else "false"
        params[key] = str(value)
    return params


def _is_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    return "html" in content_type or response.content.lstrip()[:1] == b"<"


def _html_hint(response: requests.Response) -> str:
    title = re.search(r"<title[^>]*>([^<]{1,80})", response.text, re.IGNORECASE)
    titled = f" titled {title.group(1).strip()!r}" if title else ""
    return f"a web page{titled} (HTML), not xAPI: is STEUN_LRS__ENDPOINT right?"


def _reason(response: requests.Response) -> str:
    """The LRS's own reason, short: never a whole web page inside an error message."""
    if _is_html(response):
        return _html_hint(response)
    text = response.text.strip()
    try:
        data = response.json()
    except ValueError:
        return text[:500] or response.reason or ""
    if isinstance(data, Mapping):
        for key in ("message", "error", "detail", "reason"):
            if key in data:
                return str(data[key])[:500]
    return text[:500]


# A page's "more" where it can be read without parsing: the first member of the page
# object, or its last (Steun's LRS writes ``{"statements":[...],"more":"..."}``), a string
# without escapes. Strings inside statements cannot fake either: a JSON string holds no bare
# quote, and the body's final ``}`` closes the page object itself.
_MORE_FIRST = re.compile(rb'\s*\{\s*"more"\s*:\s*"([^"\\]*)"')
_MORE_LAST = re.compile(rb'"more"\s*:\s*"([^"\\]*)"\s*\}\s*\Z')


def _more_in_body(content: bytes) -> str | None:
    """The ``more`` of a statement page read off its raw body, without parsing it: a guess
    for starting the next request early, which the caller checks against the parsed page (a
    repeated key, for one, would make it wrong). None when it is not found this way."""
    found = _MORE_FIRST.match(content)
    if found is None:
        at = content.rfind(b'"more"')
        found = _MORE_LAST.match(content, at) if at >= 0 else None
    if found is None:
        return None
    try:
        return found.group(1).decode()
    except UnicodeDecodeError:
        return None


def _parse_page(content: bytes) -> Any:
    """A statement page parsed by orjson (about 3 times json's speed on big pages) with the
    cyclic garbage collector paused: a page of 500 statements makes some 30,000 containers at
    once, which the collector would otherwise traverse again and again while they are made
    (it doubled the client's CPU per statement when paging). Pausing is skipped when the
    collector is off already (by the caller, or by a parse in another thread)."""
    if not gc.isenabled():
        return orjson.loads(content)
    gc.disable()
    try:
        return orjson.loads(content)
    finally:
        gc.enable()


def _read_whole(response: requests.Response) -> bytes:
    """The body of a response requested with ``stream=True``, read at once (decoded as
    requests would; the connection goes back to the pool once it is read). urllib3's errors
    come out as requests' own, as they would from ``response.content``."""
    try:
        content: bytes = response.raw.read(decode_content=True)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.ReadTimeout(exc) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise requests.ConnectionError(exc) from exc
    return content
