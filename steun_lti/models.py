"""Import every module that defines tables, so Base.metadata knows them all (Alembic, tests)."""

from __future__ import annotations

from steun_lti import (  # noqa: F401
    audit,
    outbox,
    ratelimit,
    withdrawal,
)
from steun_lti.lti import models as lti_models  # noqa: F401
from steun_lti.study import models as study_models  # noqa: F401
