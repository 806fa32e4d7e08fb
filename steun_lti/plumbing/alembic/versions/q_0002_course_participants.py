"""Study: which course a participant opens the study from (pseudonyms), for the staff's counts.

Revision ID: q_0002
Revises: q_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "q_0002"
down_revision = "q_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "study_course_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("context", sa.String(length=80), nullable=False),
        sa.Column("teacher", sa.String(length=80), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_course_participant")),
        sa.UniqueConstraint(
            "study_id",
            "context",
            "teacher",
            name=op.f("uq_study_course_participant_study_id"),
        ),
    )
    op.create_index(
        op.f("ix_study_course_participant_context"), "study_course_participant", ["context"]
    )
    op.create_index(
        op.f("ix_study_course_participant_teacher"), "study_course_participant", ["teacher"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_study_course_participant_teacher"), "study_course_participant")
    op.drop_index(op.f("ix_study_course_participant_context"), "study_course_participant")
    op.drop_table("study_course_participant")
