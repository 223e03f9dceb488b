"""Alembic environment: always given a connection by sync.server.db.Database.migrate."""

from alembic import context

from sync.server.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
