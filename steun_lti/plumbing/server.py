"""gunicorn, embedded: ``steun serve`` runs the app factory in several worker processes."""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.workers.gthread import TConn, ThreadWorker
from gunicorn.workers.sync import SyncWorker

from steun_lti.plumbing import logmask


class MaskedLogger(GunicornLogger):
    """gunicorn's error and access logs with invite tokens, launch ids and states masked
    (``/lti/register/<token>`` is a path, so leaving out query strings was not enough)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        logmask.install(self.error_log, self.access_log)


class GracefulSyncWorker(SyncWorker):
    """Ctrl-C (SIGINT to the whole process group) and the master's quick stop (SIGQUIT) end a
    worker after the request in hand, as SIGTERM does, instead of aborting mid-response with a
    stack trace on the console."""

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.alive = False


class GracefulThreadWorker(ThreadWorker):
    """The same for the threaded worker, which keeps connections alive between requests (the
    LRS: its clients post many requests in a row).

    A new connection waits in the worker's poller until its first bytes arrive, as kept-alive
    ones do. gunicorn 27 hands it to a thread at once, and that thread waits up to 5 s for data:
    a browser's idle preconnections (Chromium opens several to an LMS iframe's tool) then held
    every thread and a launch stalled for seconds."""

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.handle_exit(sig, frame)

    def accept(self, listener: Any) -> None:
        pending = getattr(self, "pending_conns", None)
        on_readable = getattr(self, "on_pending_socket_readable", None)
        if pending is None or on_readable is None:  # another gunicorn: its own way
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + max(self.cfg.keepalive, 5)
        pending.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(on_readable, conn))


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
        # No query strings in the access log: LTI logins by GET carry login_hint (an LMS user id)
        # and cookie-less pages carry a launch id.
        "access_log_format": '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',
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
