"""compensation for damaged and lost books: what each reader owes and when it was settled; the
price printed on a book; whether a reader owes compensation (kiosks are told)

Revision ID: 0009
Revises: 0008

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("titles") as batch:
        batch.add_column(sa.Column("price_cents", sa.Integer(), nullable=True))
    with op.batch_alter_table("patrons") as batch:
        batch.add_column(
            sa.Column("compensation_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "compensations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=36), nullable=True),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("settled_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"]),
        sa.ForeignKeyConstraint(["patron_id"], ["patrons.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_compensations_patron_id", "compensations", ["patron_id"])
    op.create_index("ix_compensations_copy_id", "compensations", ["copy_id"])
    op.create_index("ix_compensations_settled_on", "compensations", ["settled_on"])


def downgrade() -> None:
    op.drop_table("compensations")
    with op.batch_alter_table("patrons") as batch:
        batch.drop_column("compensation_due")
    with op.batch_alter_table("titles") as batch:
        batch.drop_column("price_cents")
