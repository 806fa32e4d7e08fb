"""gunicorn, embedded: ``steun serve`` runs the app factory in several worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Application(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def run_gunicorn(
    factory: Callable[[], Flask], *, bind: str, workers: int, log_level: str = "info", **extra: Any
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
        **extra,
    }
    _Application(factory, options).run()
