"""The LRS tables: its own MetaData, created on start and versioned by ``lrs_schema``.

Statements are kept as JSON text plus the columns that queries need. Every query filter
(agent, related agent, verb, activity, related activity, registration) is one row in
``lrs_statement_key`` holding a 64-bit hash of ``kind:value``, the statement's ``seq`` and the
roles the value has in the statement: a filter is an indexed (key, seq) range, and ``more`` is
a keyset on ``seq``. The key table is clustered on (key, seq) (SQLite ``WITHOUT ROWID``) and has
no other index: the keys of a statement are also packed into ``lrs_statement.index_keys``, which is
how a delete finds its index rows.

Schema versions: 1 held 128-bit hex keys, one row per kind (agent, withdrawal, related agent)
and an index on seq; 2 is this layout with two rows for the object activity (``o:`` for
``activity=``, ``ra2:`` for ``related_activities``); 3 has one ``a:`` row per activity, its
roles telling the object from the others (one index row less per statement). An older store's
index is rebuilt on start (see :func:`xapi.lrs.store.Store.create_schema`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

SCHEMA_VERSION = 3

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

schema_version = Table(
    "lrs_schema",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
)

statement = Table(
    "lrs_statement",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("stored_us", BigInteger, nullable=False, index=True),
    Column("voided", Boolean, nullable=False, default=False),
    Column("voids", String(36), nullable=True),
    Column("credential_id", Integer, nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("has_attachments", Boolean, nullable=False, default=False),
    Column("index_keys", LargeBinary, nullable=True),
    Column("body", Text, nullable=False),
    # Few statements void others: index those only (a NULL entry per statement costs a write).
    Index(
        "ix_lrs_statement_voids",
        "voids",
        sqlite_where=text("voids IS NOT NULL"),
        postgresql_where=text("voids IS NOT NULL"),
    ),
)

statement_key = Table(
    "lrs_statement_key",
    metadata,
    Column("key", BigInteger, nullable=False, autoincrement=False),
    Column("seq", BigInteger, nullable=False, autoincrement=False),
    Column("roles", SmallInteger, nullable=False),
    PrimaryKeyConstraint("key", "seq", name="pk_lrs_statement_key", postgresql_include=["roles"]),
    sqlite_with_rowid=False,
)

attachment = Table(
    "lrs_attachment",
    metadata,
    Column("sha2", String(128), primary_key=True),
    Column("content_type", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
)

activity = Table(
    "lrs_activity",
    metadata,
    Column("id_hash", String(32), primary_key=True),
    Column("activity_id", Text, nullable=False),
    Column("definition", Text, nullable=False),
)

document = Table(
    "lrs_document",
    metadata,
    Column("pk", SeqType, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("owner", String(32), nullable=False),
    Column("doc_hash", String(32), nullable=False),
    Column("doc_id", Text, nullable=False),
    Column("agent_hash", String(32), nullable=True, index=True),
    Column("content_type", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("kind", "scope", "doc_hash", name="uq_lrs_document_key"),
    Index("ix_lrs_document_owner", "kind", "owner"),
)

credential = Table(
    "lrs_credential",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("salt", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

admin_log = Table(
    "lrs_admin_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("action", String(64), nullable=False),
    Column("by", String(200), nullable=False),
    Column("detail", Text, nullable=False),
)
