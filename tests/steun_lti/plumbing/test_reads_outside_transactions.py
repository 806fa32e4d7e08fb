"""On PostgreSQL the tool's connections read outside a transaction until their first write
(``steun_lti/plumbing/db.py``; issue 16: a page that only reads costs no BEGIN and ROLLBACK)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select

from steun_lti.lti.models import LtiRegistration
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[Database]:
    name = "t_" + uuid.uuid4().hex[:16]
    db = Database(postgres_server.create_database(name))
    upgrade(db)
    yield db
    db.dispose()
    postgres_server.drop_database(name)


def status(session: object) -> str:
    """psycopg's view of the session's connection: IDLE (no transaction) or INTRANS."""
    raw = session.connection().connection.dbapi_connection  # type: ignore[attr-defined]
    return str(raw.info.transaction_status.name)


def test_reads_open_no_transaction_and_the_first_write_opens_one(database: Database) -> None:
    with database.sessions() as session:
        session.execute(select(LtiRegistration.id)).all()
        assert status(session) == "IDLE"
        session.execute(
            insert(LtiRegistration).values(
                issuer="https://a.example",
                client_id="c",
                auth_login_url="https://a.example/l",
                auth_token_url="https://a.example/t",
                key_set_url="https://a.example/k",
            )
        )
        assert status(session) == "INTRANS"
        # Reads after the write belong to its transaction: they see the row, others do not.
        assert session.execute(select(LtiRegistration.issuer)).scalar_one() == "https://a.example"
        with database.sessions() as other:
            assert other.execute(select(LtiRegistration.id)).all() == []
        session.rollback()
        assert session.execute(select(LtiRegistration.id)).all() == []  # rolled back
        assert status(session) == "IDLE"


def test_a_locking_select_takes_its_locks_in_a_transaction(database: Database) -> None:
    with database.sessions() as session:
        session.execute(select(LtiRegistration.id).with_for_update(skip_locked=True)).all()
        assert status(session) == "INTRANS"
        session.commit()
    with database.sessions() as session:  # the pool hands the connection back reading freely
        session.execute(select(LtiRegistration.id)).all()
        assert status(session) == "IDLE"
