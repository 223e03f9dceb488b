"""students' registry number and birth date, to know them again in next term's class list

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
    with op.batch_alter_table("patrons") as batch:
        batch.add_column(sa.Column("student_number", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch.create_index("ix_patrons_student_number", ["student_number"])


def downgrade() -> None:
    with op.batch_alter_table("patrons") as batch:
        batch.drop_index("ix_patrons_student_number")
        batch.drop_column("birth_date")
        batch.drop_column("student_number")
