"""Alembic environment: runs on the connection that steun_lti.migrations hands over."""

from __future__ import annotations

from alembic import context

import steun_lti.models  # noqa: F401  (registers every table on Base.metadata)
from steun_lti.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when run through the alembic CLI
    from steun_lti.db import make_engine

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
