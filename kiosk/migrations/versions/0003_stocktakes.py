"""stocktakes pulled from the office, and the copies this kiosk counted in them

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stocktakes",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("whole_library", sa.Boolean(), nullable=False),
        sa.Column("shelves", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "stocktake_counts",
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=False),
        sa.Column("shelf", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"]),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.PrimaryKeyConstraint("stocktake_id", "copy_id"),
    )


def downgrade() -> None:
    op.drop_table("stocktake_counts")
    op.drop_table("stocktakes")
