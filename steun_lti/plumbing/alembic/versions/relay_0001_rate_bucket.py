"""Token buckets shared by all workers (the course relay's rate limit).

Revision ID: relay_0001
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "relay_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_bucket")),
    )
    op.create_index(op.f("ix_rate_bucket_updated"), "rate_bucket", ["updated"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_bucket_updated"), table_name="rate_bucket")
    op.drop_table("rate_bucket")
