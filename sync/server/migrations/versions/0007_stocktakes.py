"""stocktakes: their scans, their kept results, and loans returned because a book was found

Revision ID: 0007
Revises: 0006

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stocktakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("shelves", sa.JSON(), nullable=False),
        sa.Column("classifications", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("not_seen", sa.String(length=16), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "stocktake_scans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=True),
        sa.Column("shelf", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("kiosk_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"]),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"]),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stocktake_scans_stocktake_id", "stocktake_scans", ["stocktake_id"])
    op.create_table(
        "stocktake_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("shelf", sa.String(), nullable=False),
        sa.Column("seen_on", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reader", sa.String(), nullable=False),
        sa.Column("lent_at", sa.DateTime(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"]),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stocktake_findings_stocktake_id", "stocktake_findings", ["stocktake_id"])
    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("found_in_stocktake", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_loans_found_in_stocktake", "stocktakes", ["found_in_stocktake"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        batch.drop_constraint("fk_loans_found_in_stocktake", type_="foreignkey")
        batch.drop_column("found_in_stocktake")
    op.drop_table("stocktake_findings")
    op.drop_table("stocktake_scans")
    op.drop_table("stocktakes")
