"""fewer pages per scan: each index a scan's rows go into is a page more written to the disk at
its commit, so the ones nothing reads go. A loan's copy is found through the index of open loans
(ix_loans_copy_id duplicated it for them); the returned loans still linked to their patrons are
indexed once returned, not while lent too; an event's uuid needs no index on the kiosk (made
here at random; the office keeps each uuid once); a copy's last_borrowed was written by every
checkout and read by nothing

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
    op.drop_index("ix_loans_copy_id", "loans")
    op.drop_index("returned_still_linked", "loans")
    op.create_index(
        "returned_still_linked",
        "loans",
        ["returned_at"],
        sqlite_where=sa.text("patron_id IS NOT NULL AND returned_at IS NOT NULL"),
    )
    # SQLite drops a unique constraint (unnamed here) only by copying the table: batch mode,
    # from the table as it is to be.
    with op.batch_alter_table("events", copy_from=_events(unique_uuid=False), recreate="always"):
        pass
    with op.batch_alter_table("copies") as batch:
        batch.drop_column("last_borrowed")


def downgrade() -> None:
    with op.batch_alter_table("copies") as batch:
        batch.add_column(sa.Column("last_borrowed", sa.Date(), nullable=True))
    with op.batch_alter_table("events", copy_from=_events(unique_uuid=True), recreate="always"):
        pass
    op.drop_index("returned_still_linked", "loans")
    op.create_index(
        "returned_still_linked",
        "loans",
        ["returned_at"],
        sqlite_where=sa.text("patron_id IS NOT NULL"),
    )
    op.create_index("ix_loans_copy_id", "loans", ["copy_id"])


def _events(*, unique_uuid: bool) -> sa.Table:
    return sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("clock", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.Index("ix_events_acked_at", "acked_at"),
        *([sa.UniqueConstraint("uuid")] if unique_uuid else []),
    )
