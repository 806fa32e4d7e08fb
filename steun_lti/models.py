"""Import every module that defines tables, so Base.metadata knows them all (Alembic, tests)."""

from __future__ import annotations

from steun_lti import audit  # noqa: F401
from steun_lti.study import models as study_models  # noqa: F401
