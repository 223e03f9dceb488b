"""the desk: its own kiosk row, class sets, and the log of refusals set aside

Revision ID: 0006
Revises: 0005

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("desk", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "class_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("class_name", sa.String(), nullable=False),
        sa.Column("holder_id", sa.Integer(), sa.ForeignKey("patrons.id"), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("lent_at", sa.DateTime(), nullable=False),
        sa.Column("lent_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
    )
    op.create_index("ix_class_sets_holder_id", "class_sets", ["holder_id"])
    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("class_set_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_loans_class_set_id", "class_sets", ["class_set_id"], ["id"])
        batch.create_index("ix_loans_class_set_id", ["class_set_id"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("librarian", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("loan_id", sa.String(length=36), nullable=False),
        sa.Column("patron_card", sa.String(length=64), nullable=False),
        sa.Column("copy_code", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_overrides_at", "overrides", ["at"])
    op.create_index("ix_overrides_loan_id", "overrides", ["loan_id"])


def downgrade() -> None:
    op.drop_table("overrides")
    with op.batch_alter_table("loans") as batch:
        batch.drop_index("ix_loans_class_set_id")
        batch.drop_constraint("fk_loans_class_set_id", type_="foreignkey")
        batch.drop_column("class_set_id")
    op.drop_table("class_sets")
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("desk")
