"""Alembic's environment: migrations run on the connection the hub hands over."""

from __future__ import annotations

from alembic import context

from pvp_hub.schema import metadata

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it, which batch mode does for us.
# user_module_prefix: autogenerate writes UTCDateTime(...), which script.py.mako imports.
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    user_module_prefix="",
)
with context.begin_transaction():
    context.run_migrations()
