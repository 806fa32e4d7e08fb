"""Study: consent, children (codes), questionnaire attempts and answers.

Revision ID: q_0001
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "q_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "study_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("teacher", sa.String(length=80), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("given_at", TZ, nullable=False),
        sa.Column("withdrawn_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_consent")),
    )
    op.create_index(op.f("ix_study_consent_teacher"), "study_consent", ["teacher"])
    op.create_table(
        "study_child",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("teacher", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("added_at", TZ, nullable=False),
        sa.Column("withdrawn_at", TZ, nullable=True),
        sa.Column("parental_consent_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_child")),
        sa.UniqueConstraint("study_id", "teacher", "seq", name=op.f("uq_study_child_study_id")),
    )
    op.create_index(op.f("ix_study_child_teacher"), "study_child", ["teacher"])
    op.create_table(
        "q_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("teacher", sa.String(length=80), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.String(length=64), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("instrument_version", sa.String(length=20), nullable=False),
        sa.Column("respondent", sa.String(length=10), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("submitted_at", TZ, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["study_child.id"],
            name=op.f("fk_q_attempt_child_id_study_child"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_q_attempt")),
        sa.UniqueConstraint(
            "child_id", "wave_id", "instrument_id", "respondent", name=op.f("uq_q_attempt_child_id")
        ),
    )
    op.create_index(op.f("ix_q_attempt_teacher"), "q_attempt", ["teacher"])
    op.create_table(
        "q_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("answered_at", TZ, nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["q_attempt.id"],
            name=op.f("fk_q_answer_attempt_id_q_attempt"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_q_answer")),
        sa.UniqueConstraint("attempt_id", "item_id", name=op.f("uq_q_answer_attempt_id")),
    )


def downgrade() -> None:
    op.drop_table("q_answer")
    op.drop_index(op.f("ix_q_attempt_teacher"), table_name="q_attempt")
    op.drop_table("q_attempt")
    op.drop_index(op.f("ix_study_child_teacher"), table_name="study_child")
    op.drop_table("study_child")
    op.drop_index(op.f("ix_study_consent_teacher"), table_name="study_consent")
    op.drop_table("study_consent")
