"""latest seen from events: the latest time seen is no longer written with every scan but read
from the events since it was last confirmed; the value kept until now covers every event so far

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Events before this one may have been made on a clock corrected since: only the value kept
    # until now (already their latest, or set right after them) speaks for them.
    op.execute(
        "INSERT OR REPLACE INTO settings (key, value) "
        "SELECT 'clock.seen_since_seq', CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM events"
    )


def downgrade() -> None:
    op.execute("DELETE FROM settings WHERE key = 'clock.seen_since_seq'")
