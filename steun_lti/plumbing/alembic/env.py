"""Alembic environment: runs on the connection that steun_lti.plumbing.migrations hands over."""

from __future__ import annotations

from alembic import context

# Every module that defines tables, so Base.metadata knows them all.
import steun_lti.lti.models
import steun_lti.lti.score_queue
import steun_lti.plumbing.audit
import steun_lti.plumbing.ratelimit
import steun_lti.records.outbox
import steun_lti.records.withdrawal
import steun_lti.study.models  # noqa: F401
from steun_lti.plumbing.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when run through the alembic CLI
    from steun_lti.plumbing.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
