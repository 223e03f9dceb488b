"""forget on acknowledgement: returned loans still linked to their patrons get an index of their
own, and a kiosk that syncs forgets a loan when the office acknowledges its return (before, at
the end of the next session): the returns already acknowledged are forgotten now

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
    op.create_index(
        "returned_still_linked",
        "loans",
        ["returned_at"],
        sqlite_where=sa.text("patron_id IS NOT NULL"),
    )
    op.execute(
        "UPDATE loans SET patron_id = NULL "
        "WHERE patron_id IS NOT NULL AND returned_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM settings WHERE key = 'sync.enrolled') "
        "AND id IN (SELECT json_extract(payload, '$.loan') FROM events "
        "WHERE type IN ('return', 'implicit_return') AND acked_at IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_index("returned_still_linked", "loans")
