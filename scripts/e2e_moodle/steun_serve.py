"""``steun serve`` with another gunicorn worker class, to observe the effect (not a fix).

    E2E_STEUN_WORKER_CLASS=sync make e2e-moodle   # steun serve itself uses gthread

Does what ``steun serve`` does (steun_lti/cli/main.py) and passes ``worker_class`` (``sync``,
``gthread``) and ``threads`` to the same ``run_gunicorn``.
"""

from __future__ import annotations

import sys

from steun_lti.app import app_with_sender, create_app
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.secrets import ensure_data_dir
from steun_lti.plumbing.server import run_gunicorn
from steun_lti.plumbing.settings import load_settings
from steun_lti.web.teacher_support import load_runtime

CLASSES = {
    "sync": "steun_lti.plumbing.server.GracefulSyncWorker",
    "gthread": "steun_lti.plumbing.server.GracefulThreadWorker",
}


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "sync"
    settings = load_settings()
    ensure_data_dir(settings.data_dir)
    load_runtime(settings)
    database = Database(settings.resolved_database_url)
    upgrade(database)
    database.dispose()
    extra = {"threads": 8} if kind == "gthread" else {}
    run_gunicorn(
        lambda: app_with_sender(create_app(settings)),
        bind=f"{settings.host}:{settings.port}",
        workers=settings.workers,
        log_level=settings.log_level,
        worker_class=CLASSES.get(kind, kind),
        **extra,
    )


if __name__ == "__main__":
    main()
