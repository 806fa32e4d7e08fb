"""Line items Steun found or created for links placed without Deep Linking.

Revision ID: lti_0002
Revises: lti_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lti_0002"
down_revision = "lti_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_line_item",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["lti_registration.id"],
            name=op.f("fk_lti_line_item_registration_id_lti_registration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lti_line_item")),
    )
    op.create_index(op.f("ix_lti_line_item_registration_id"), "lti_line_item", ["registration_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lti_line_item_registration_id"), table_name="lti_line_item")
    op.drop_table("lti_line_item")
