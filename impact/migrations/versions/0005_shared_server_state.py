"""The store's data version as one row, for several servers on one store: each reads it on
every run to know whether its caches still hold, and every change of the content (an ingest,
a restore) bumps it in its own transaction, so an upload through one server shows on the
next run of every other. `store_id` is random, made with the row: a store made again at the
same address (a schema dropped and re-created) never repeats an earlier version.
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    versions = op.create_table(
        "store_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"))
    op.bulk_insert(versions, [{"id": 1, "store_id": uuid.uuid4().hex, "number": 0}])
