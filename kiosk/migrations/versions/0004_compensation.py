"""compensation: whether a reader owes the library for a damaged or lost book (from the office),
and whether that blocks new loans (a policy)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patrons") as batch:
        batch.add_column(
            sa.Column("compensation_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("policies") as batch:
        batch.add_column(
            sa.Column(
                "block_on_unsettled_compensation",
                sa.Boolean(),
                nullable=False,
                server_default=sa.true(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.drop_column("block_on_unsettled_compensation")
    with op.batch_alter_table("patrons") as batch:
        batch.drop_column("compensation_due")
