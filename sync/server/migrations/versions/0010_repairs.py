"""repairs: copies sent to be repaired, when and by whom, and when they came back

Revision ID: 0010
Revises: 0009

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("sent_by", sa.String(length=64), nullable=False),
        sa.Column("back_on", sa.Date(), nullable=True),
        sa.Column("back_by", sa.String(length=64), nullable=True),
        sa.Column("came_back_as", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_repairs_copy_id", "repairs", ["copy_id"])
    op.create_index("ix_repairs_back_on", "repairs", ["back_on"])


def downgrade() -> None:
    op.drop_table("repairs")
