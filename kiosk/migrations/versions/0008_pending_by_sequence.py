"""pending by sequence: the office acknowledges a kiosk's events in order, so the events still
waiting for it are those after the highest sequence it acknowledged, kept as a setting and
found by the primary key; the index of acknowledgement times goes (every scan's event wrote a
page of it). The time of each acknowledgement stays in its event.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Acknowledged through the event before the first one not acknowledged (or the last): an
    # event waiting for the office is never taken for one it holds.
    op.execute(
        "INSERT INTO settings (key, value) SELECT 'sync.acked_through', coalesce("
        "(SELECT min(seq) FROM events WHERE acked_at IS NULL) - 1,"
        " (SELECT max(seq) FROM events), 0)"
    )
    op.drop_index("ix_events_acked_at", "events")


def downgrade() -> None:
    op.create_index("ix_events_acked_at", "events", ["acked_at"])
    op.execute("DELETE FROM settings WHERE key = 'sync.acked_through'")
