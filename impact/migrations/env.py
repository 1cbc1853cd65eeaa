"""Alembic's environment: migrations run on the connection `impact.migrations.upgrade` hands
over (inside the transaction holding the store's write lock), never on one of their own."""
from alembic import context

from impact.migrations import code_metadata

context.configure(connection=context.config.attributes["connection"],
                  target_metadata=code_metadata(), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
