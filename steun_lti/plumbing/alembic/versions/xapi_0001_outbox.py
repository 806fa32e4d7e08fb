"""The xAPI outbox and the withdrawal log.

Revision ID: xapi_0001
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "xapi_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("child_code", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_outbox")),
    )
    op.create_index("ix_xapi_outbox_due", "xapi_outbox", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_xapi_outbox_statement_id"), "xapi_outbox", ["statement_id"])
    op.create_index(op.f("ix_xapi_outbox_actor"), "xapi_outbox", ["actor"])
    op.create_index(op.f("ix_xapi_outbox_child_code"), "xapi_outbox", ["child_code"])
    op.create_table(
        "xapi_withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("rows_removed", sa.Integer(), nullable=False),
        sa.Column("statements_voided", sa.Integer(), nullable=False),
        sa.Column("lrs_erased", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_withdrawal")),
    )


def downgrade() -> None:
    op.drop_table("xapi_withdrawal")
    op.drop_index(op.f("ix_xapi_outbox_child_code"), table_name="xapi_outbox")
    op.drop_index(op.f("ix_xapi_outbox_actor"), table_name="xapi_outbox")
    op.drop_index(op.f("ix_xapi_outbox_statement_id"), table_name="xapi_outbox")
    op.drop_index("ix_xapi_outbox_due", table_name="xapi_outbox")
    op.drop_table("xapi_outbox")
