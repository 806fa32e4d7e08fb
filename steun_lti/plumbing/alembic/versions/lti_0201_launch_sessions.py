"""Sessions that can end (issue 14): a launch's browser key, one-time ticket and child mode.

Revision ID: lti_0201
Revises: lti_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lti_0201"
down_revision = "lti_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lti_launch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ticket_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("ticket_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("child_mode", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lti_launch", schema=None) as batch_op:
        batch_op.drop_column("child_mode")
        batch_op.drop_column("ticket_expires_at")
        batch_op.drop_column("ticket_hash")
        batch_op.drop_column("browser_hash")
