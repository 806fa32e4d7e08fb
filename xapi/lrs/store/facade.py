"""The :class:`Store`: the one object the app, the CLI and the tests use, made of the rooms.

Each room is a mixin on :class:`~xapi.lrs.store.connection.StoreBase` (the engine and its
transactions) in its own module; this class only joins them.
"""

from __future__ import annotations

from xapi.lrs.store.credentials import Credentials
from xapi.lrs.store.deletes import Deletes
from xapi.lrs.store.documents import Documents
from xapi.lrs.store.statement_reads import StatementReads
from xapi.lrs.store.statement_writes import StatementWrites
from xapi.lrs.store.upgrade import SchemaUpgrade


class Store(SchemaUpgrade, Credentials, StatementWrites, StatementReads, Documents, Deletes):
    """All LRS data access; one per process, safe to share between threads."""
