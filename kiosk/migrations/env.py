"""Alembic environment: always given a connection by kiosk.store.Store.migrate."""

from alembic import context

from kiosk.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copy-and-move
)
context.run_migrations()
