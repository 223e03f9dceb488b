"""why the library is closed on a day: the notes of the rules' closed dates

Revision ID: 0008
Revises: 0007

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "closed_day_notes",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("note", sa.String(length=200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("closed_day_notes")
