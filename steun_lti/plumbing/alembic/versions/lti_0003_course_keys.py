"""Course package keys: which platform's package may send course events (decision 0012).

Revision ID: lti_0003
Revises: lti_0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lti_0003"
down_revision = "lti_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_course_key",
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["lti_registration.id"],
            name=op.f("fk_lti_course_key_registration_id_lti_registration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_lti_course_key")),
    )
    op.create_index(
        op.f("ix_lti_course_key_registration_id"), "lti_course_key", ["registration_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_lti_course_key_registration_id"), table_name="lti_course_key")
    op.drop_table("lti_course_key")
