"""The LRS's storage on SQLite (WAL) or PostgreSQL: one :class:`Store`, a module per concern.

Nothing here keeps state between requests except the engine, so any number of worker
processes can share one database. Writes on SQLite take the write lock up front
(``BEGIN IMMEDIATE``) so concurrent writers wait for each other instead of failing.

Rooms: ``engine`` (building the engine), ``connection`` (transactions, raw cursors),
``upgrade`` (schema creation and upgrades), ``credentials``, ``statement_writes``,
``statement_reads``, ``documents``, ``deletes`` (hard deletes, withdrawal), ``keys``
(hashes and index keys), ``clock``; ``facade`` joins them into :class:`Store`.
"""

from xapi.lrs.store.clock import format_us, now_us
from xapi.lrs.store.connection import ConnectionLost, Raw, StoreBase
from xapi.lrs.store.credentials import SCOPES, Credential
from xapi.lrs.store.deletes import delete_statement_rows
from xapi.lrs.store.documents import check_preconditions, merge_json, state_owner, state_scope
from xapi.lrs.store.engine import Checkpointer, WriteGate, make_engine
from xapi.lrs.store.facade import Store
from xapi.lrs.store.keys import (
    LRS_SET,
    ROLE_MAIN,
    ROLE_PERSON,
    ROLE_RELATED,
    agent_hash,
    agent_identity,
    core_json,
    fingerprint,
    hashed_keys,
    hkey,
    key_hash,
    pack_keys,
    statement_keys,
    unpack_keys,
)
from xapi.lrs.store.statement_reads import StatementQuery

__all__ = [
    "LRS_SET",
    "ROLE_MAIN",
    "ROLE_PERSON",
    "ROLE_RELATED",
    "SCOPES",
    "Checkpointer",
    "ConnectionLost",
    "Credential",
    "Raw",
    "StatementQuery",
    "Store",
    "StoreBase",
    "WriteGate",
    "agent_hash",
    "agent_identity",
    "check_preconditions",
    "core_json",
    "delete_statement_rows",
    "fingerprint",
    "format_us",
    "hashed_keys",
    "hkey",
    "key_hash",
    "make_engine",
    "merge_json",
    "now_us",
    "pack_keys",
    "state_owner",
    "state_scope",
    "statement_keys",
    "unpack_keys",
]
