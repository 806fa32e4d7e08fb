"""The store on PostgreSQL survives connections that the server ended (a restart, an admin's
pg_terminate_backend): the request runs again on a fresh connection instead of failing."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.lrs.conftest import statement
from tests.support.postgres import PostgresServer
from xapi.lrs.store import Store


@pytest.mark.postgres
def test_requests_after_the_server_ended_the_connections(
    postgres_server: PostgresServer,
) -> None:
    name = "t_" + uuid.uuid4().hex[:16]
    url = postgres_server.create_database(name)
    dsn = f"host=127.0.0.1 port={postgres_server.port} user=steun dbname={name}"

    def end_connections() -> None:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )

    store = Store(url)
    try:
        store.create_schema()
        key, secret = store.add_credential(["all"], "test")
        credential = store.authenticate(key, secret)
        assert credential is not None
        # Each time, the pooled connection was used a moment ago, so it is not tested first.
        for _ in range(2):
            end_connections()
            assert store.authenticate(key, secret) == credential
            end_connections()
            ids, stored = store.store_statements([statement()], credential)
            assert stored == 1
            assert store.get_statement(ids[0], voided=False) is not None
    finally:
        store.dispose()
        postgres_server.drop_database(name)
