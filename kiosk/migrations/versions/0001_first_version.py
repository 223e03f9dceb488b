"""first version: titles, copies, patrons, loans, rules, outbox

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "closed_dates",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("clock", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_acked_at"), ["acked_at"], unique=False)

    op.create_table(
        "opening_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.Column("grades", sa.String(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "patrons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("class_name", sa.String(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("pin_hash", sa.String(), nullable=True),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("card"),
    )
    op.create_table(
        "policies",
        sa.Column("patron_kind", sa.String(length=16), nullable=False),
        sa.Column("max_loans", sa.Integer(), nullable=False),
        sa.Column("loan_days", sa.Integer(), nullable=False),
        sa.Column("max_renewals", sa.Integer(), nullable=False),
        sa.Column("overdue_block_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("patron_kind"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "titles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("isbn", sa.String(length=13), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("publisher", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("classification", sa.String(), nullable=False),
        sa.Column("subjects", sa.String(), nullable=False),
        sa.Column("reading_level", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_titles_isbn"), ["isbn"], unique=False)

    op.create_table(
        "copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=True),
        sa.Column("title_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shelf", sa.String(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=True),
        sa.Column("last_borrowed", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["title_id"],
            ["titles.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("barcode"),
    )
    with op.batch_alter_table("copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_copies_title_id"), ["title_id"], unique=False)

    op.create_table(
        "loans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("copy_id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=True),
        sa.Column("patron_class", sa.String(), nullable=False),
        sa.Column("patron_grade", sa.Integer(), nullable=True),
        sa.Column("lent_at", sa.DateTime(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("lent_where", sa.String(), nullable=False),
        sa.Column("implicit_return", sa.Boolean(), nullable=False),
        sa.Column("override_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["copy_id"],
            ["copies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patron_id"],
            ["patrons.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_copy_id"), ["copy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loans_patron_id"), ["patron_id"], unique=False)
        batch_op.create_index(
            "one_open_loan_per_copy",
            ["copy_id"],
            unique=True,
            sqlite_where=sa.text("returned_at IS NULL"),
            postgresql_where=sa.text("returned_at IS NULL"),
        )


def downgrade() -> None:

    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index(
            "one_open_loan_per_copy",
            sqlite_where=sa.text("returned_at IS NULL"),
            postgresql_where=sa.text("returned_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_loans_patron_id"))
        batch_op.drop_index(batch_op.f("ix_loans_copy_id"))

    op.drop_table("loans")
    with op.batch_alter_table("copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_copies_title_id"))

    op.drop_table("copies")
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_titles_isbn"))

    op.drop_table("titles")
    op.drop_table("settings")
    op.drop_table("policies")
    op.drop_table("patrons")
    op.drop_table("opening_windows")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_acked_at"))

    op.drop_table("events")
    op.drop_table("closed_dates")
