"""the day each copy and patron was added (labels of new copies, cards of new students)

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
    with op.batch_alter_table("copies") as batch:
        batch.add_column(sa.Column("added_on", sa.Date(), nullable=True))
        batch.create_index("ix_copies_added_on", ["added_on"])
    with op.batch_alter_table("patrons") as batch:
        batch.add_column(sa.Column("added_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patrons") as batch:
        batch.drop_column("added_on")
    with op.batch_alter_table("copies") as batch:
        batch.drop_index("ix_copies_added_on")
        batch.drop_column("added_on")
