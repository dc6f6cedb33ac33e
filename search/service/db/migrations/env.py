"""Alembic's environment: always called by ``search.service.db.migrate`` with a live connection."""
from __future__ import annotations

from alembic import context

from search.service.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with 'kb db upgrade' (search.service.db.migrate), not the alembic command")
# render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
