"""Alembic's environment: migrations run on the connection `impact.migrations.upgrade` hands
over (inside the transaction holding the store's write lock), never on one of their own."""
from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
