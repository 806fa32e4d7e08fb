"""gunicorn, embedded: ``steun serve`` runs the app factory in several worker processes."""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker
from gunicorn.workers.sync import SyncWorker

from steun_lti.plumbing import logmask

# No query strings in the access log: LTI logins by GET carry login_hint (an LMS user id) and
# cookie-less pages carry a launch id.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


class MaskedLogger(GunicornLogger):
    """gunicorn's error and access logs with invite tokens, launch ids and states masked
    (``/lti/register/<token>`` is a path, so leaving out query strings was not enough).

    With Steun's own format the access line is built directly from the few values it shows:
    gunicorn's generic path first copies every request header, response header and environ
    variable into a dict, which cost more than some of the requests it logged (issue 16)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        logmask.install(self.error_log, self.access_log)
        self._own_format = cfg.access_log_format == ACCESS_LOG_FORMAT

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not getattr(self, "_own_format", False):
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        line = '%s %s "%s %s %s" %s %s %dms' % (  # noqa: UP031 - the format gunicorn writes
            environ.get("REMOTE_ADDR", "-"),
            self.now(),
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            environ.get("SERVER_PROTOCOL"),
            status,
            "-" if sent is None else sent,
            request_time.seconds * 1000 + request_time.microseconds // 1000,
        )
        log = self.access_log
        try:
            # What Logger.info does, less looking up the caller's file and line in the stack
            # (the line never shows them).
            if log.isEnabledFor(logging.INFO):
                log.handle(log.makeRecord(log.name, logging.INFO, "", 0, line, None, None))
        except Exception:
            self.error(traceback.format_exc())


class GracefulSyncWorker(SyncWorker):
    """Ctrl-C (SIGINT to the whole process group) and the master's quick stop (SIGQUIT) end a
    worker after the request in hand, as SIGTERM does, instead of aborting mid-response with a
    stack trace on the console."""

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.alive = False


REQUEST_READ_TIMEOUT = 30.0  # seconds for a whole request (headers and body) to arrive
MAX_BUFFERED = 1024 * 1024  # a bigger body goes on to a thread once this much has arrived
_HEADER_END = b"\r\n\r\n"


def request_complete(data: bytes) -> bool:
    """Whether ``data`` holds a whole HTTP/1 request: its headers and, by Content-Length or the
    last chunk, its body. Anything the parser will refuse anyway counts as complete."""
    end = data.find(_HEADER_END)
    if end < 0:
        return False
    head, body = data[:end].lower(), data[end + len(_HEADER_END) :]
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"content-length":
            if not value.isdigit():
                return True  # a 400 from the parser
            length = int(value)
            if length > MAX_BUFFERED:
                # Too big to buffer here: a thread takes it at once, so the app can refuse it
                # (401 before the body, 413 by its size) without waiting for bytes never sent.
                return True
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"expect":
            return True  # the client waits for "100 Continue" before it sends the body
    if chunked:  # the last chunk (and any trailers) ends with an empty line
        return body.endswith(_HEADER_END) and (body.startswith(b"0\r\n") or b"\r\n0\r\n" in body)
    return len(body) >= (length or 0)


class BufferedConn(TConn):
    """A connection whose request was read in the worker's poller: the bytes are handed to the
    parser when a thread takes the connection, so the thread never waits on the client."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.received = b""
        self.deadline: float | None = None

    def init(self) -> None:
        super().init()
        self.feed()

    def feed(self) -> None:
        if self.received and self.parser is not None and not self.is_http2:
            self.parser.unreader.unread(self.received)
            self.received = b""


class SettledConfig:
    """gunicorn's configuration as a worker reads it: each setting a plain attribute once it has
    been read. gunicorn looks its settings up through ``Config.__getattr__`` several times per
    request (about 2% of a launch's CPU, issue 16); in a worker they never change (a reload
    starts new workers)."""

    def __init__(self, cfg: Any) -> None:
        self.__dict__["_cfg"] = cfg

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._cfg, name)
        self.__dict__[name] = value
        return value


class GracefulThreadWorker(ThreadWorker):
    """The same for the threaded worker, which keeps connections alive between requests (the
    LRS: its clients post many requests in a row).

    A connection waits in the worker's poller, holding no thread, until its *whole* request has
    arrived (headers and body, up to ``MAX_BUFFERED`` bytes), as a buffering reverse proxy would
    do: a browser's idle preconnections (Chromium opens several to an LMS iframe's tool) and
    clients that trickle a request byte by byte cannot take the threads from everyone else. A
    request that has not fully arrived ``REQUEST_READ_TIMEOUT`` seconds after its first byte is
    dropped. gunicorn 27 alone hands a connection to a thread at its first byte, and that thread
    then waits for the rest as long as the client likes."""

    request_read_timeout = REQUEST_READ_TIMEOUT

    def init_process(self) -> None:
        self.cfg: Any = SettledConfig(self.cfg)
        super().init_process()

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.handle_exit(sig, frame)

    def _buffering(self, conn: TConn) -> bool:
        return not self.cfg.is_ssl and not negotiation.prior_knowledge_allowed(
            self.cfg, conn.client
        )

    def accept(self, listener: Any) -> None:
        pending = getattr(self, "pending_conns", None)
        if pending is None or not hasattr(self, "on_pending_socket_readable"):
            super().accept(listener)  # another gunicorn: its own way
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = BufferedConn(self.cfg, client_sock, client_addr, listener.getsockname())
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + max(self.cfg.keepalive, 5)
        pending.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

    def on_pending_socket_readable(self, conn: TConn, client: Any) -> None:
        self._on_readable(conn, self.pending_conns)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        self._on_readable(conn, self.keepalived_conns)

    def _on_readable(self, conn: TConn, waiting: Any) -> None:
        if not isinstance(conn, BufferedConn) or not self._buffering(conn):
            self.poller.unregister(conn.sock)
            waiting.remove(conn)
            conn.data_ready = True
            self.enqueue_req(conn)
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self.poller.unregister(conn.sock)
            waiting.remove(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.received += data
        if conn.deadline is None:  # the first byte of a request: its time starts
            conn.deadline = time.monotonic() + self.request_read_timeout
            conn.timeout = conn.deadline
            if waiting is not self.pending_conns:  # a kept-alive connection starts a request
                waiting.remove(conn)
                self.pending_conns.append(conn)
        if len(conn.received) > MAX_BUFFERED or request_complete(conn.received):
            self.poller.unregister(conn.sock)
            self.pending_conns.remove(conn)
            conn.data_ready = True
            conn.deadline = None
            self.enqueue_req(conn)
            return
        if waiting is not self.pending_conns:  # re-register for the pending callback
            self.poller.modify(
                conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
            )

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """A kept-alive connection whose client pipelined part of its next request: wait for
        the rest in the poller too (gunicorn would hand it to a thread at once)."""
        if (
            self.alive
            and isinstance(conn, BufferedConn)
            and self._buffering(conn)
            and conn.parser is not None
            and not conn.is_http2
            and not fs.cancelled()
            and fs.exception() is None
            and fs.result() is True
        ):
            ahead = conn.parser.unreader.take_buffered()
            if ahead and not request_complete(ahead):
                conn.received = ahead
                conn.deadline = time.monotonic() + self.request_read_timeout
                conn.timeout = conn.deadline
                conn.sock.setblocking(False)
                self.pending_conns.append(conn)
                self.poller.register(
                    conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
                )
                return
            if ahead:
                conn.parser.unreader.unread(ahead)
        super().finish_request(conn, fs)

    def handle(self, conn: TConn) -> Any:
        if isinstance(conn, BufferedConn) and conn.initialized:
            conn.feed()  # a kept-alive connection: its parser exists already
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time. The deque is not ordered by
        deadline (a request's deadline starts at its first byte), so all are looked at."""
        now = time.monotonic()
        for conn in [c for c in self.pending_conns if c.timeout <= now]:
            self.pending_conns.remove(conn)
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()


def bind_error(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (e.g. "Address already in use"), or None.

    Asked before starting a server: gunicorn retries a taken port for 5 s and then prints a stack
    trace, werkzeug exits the process; callers say what to do instead."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


class _Application(BaseApplication):
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()


def run_gunicorn(
    factory: Callable[[], Any], *, bind: str, workers: int, log_level: str = "info", **extra: Any
) -> None:
    """Serve with threaded workers: a browser's idle keep-alive connections wait in the worker's
    poller instead of holding a synchronous worker until its timeout (seen in Moodle's iframe:
    50-60 s per launch with sync workers served directly)."""
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "loglevel": log_level.lower(),
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": "steun_lti.plumbing.server.MaskedLogger",
        "graceful_timeout": 10,
        "timeout": 60,
        "preload_app": False,
        "worker_class": "steun_lti.plumbing.server.GracefulThreadWorker",
        "threads": 8,
        "keepalive": 5,
        **extra,
    }
    _Application(factory, options).run()
