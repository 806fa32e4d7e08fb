"""The environment a test's own ``steun`` process starts from."""

from __future__ import annotations

import os

from steun_lti.plumbing.settings import ENV_FILE_VARIABLE


def clean_environ() -> dict[str, str]:
    """This process's environment without any ``STEUN_*`` setting and with no ``.env`` read
    (tests start ``steun`` in the repository, where a developer may keep their own ``.env``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEUN_")}
    env[ENV_FILE_VARIABLE] = ""
    return env
