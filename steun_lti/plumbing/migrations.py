"""Run the Alembic migrations programmatically (``steun db upgrade``, the app factory in tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from steun_lti.plumbing.db import Database


def alembic_config(database: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "steun_lti.plumbing:alembic")
    cfg.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    cfg.attributes["engine"] = database.engine
    return cfg


def upgrade(database: Database, revision: str = "heads") -> None:
    """Bring the schema to the newest revision of every branch."""
    with database.engine.begin() as connection:
        cfg = alembic_config(database)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_heads(database: Database) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())
