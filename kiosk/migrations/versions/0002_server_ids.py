"""office ids on titles and copies, for the sync with the office server

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("server_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_titles_server_id", ["server_id"])
    with op.batch_alter_table("copies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("server_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_copies_server_id", ["server_id"])


def downgrade() -> None:
    with op.batch_alter_table("copies", schema=None) as batch_op:
        batch_op.drop_constraint("uq_copies_server_id", type_="unique")
        batch_op.drop_column("server_id")
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.drop_constraint("uq_titles_server_id", type_="unique")
        batch_op.drop_column("server_id")
