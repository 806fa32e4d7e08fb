"""gunicorn, embedded: ``steun serve`` runs the app factory in several worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker


class GracefulSyncWorker(SyncWorker):
    """Ctrl-C (SIGINT to the whole process group) and the master's quick stop (SIGQUIT) end a
    worker after the request in hand, as SIGTERM does, instead of aborting mid-response with a
    stack trace on the console."""

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.alive = False


class GracefulThreadWorker(ThreadWorker):
    """The same for the threaded worker, which keeps connections alive between requests (the
    LRS: its clients post many requests in a row)."""

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.handle_exit(sig, frame)


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
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "loglevel": log_level.lower(),
        "accesslog": "-",
        # No query strings in the access log: LTI logins by GET carry login_hint (an LMS user id)
        # and cookie-less pages carry a launch id.
        "access_log_format": '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms',
        "graceful_timeout": 10,
        "timeout": 60,
        "preload_app": False,
        "worker_class": "steun_lti.plumbing.server.GracefulSyncWorker",
        **extra,
    }
    _Application(factory, options).run()
