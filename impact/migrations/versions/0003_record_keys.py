"""Every record gets a permanent random key (`record_key`), for the cell-key perturbation of
donor views (`impact.disclosure`): participants, enrollments, follow-ups, services, savings
and activities. Rows already stored get theirs here, drawn by the database's own random
generator; rows ingested later get theirs from the ingest. Keys never leave the server.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

KEYED_TABLES = ("participants", "enrollments", "followups", "savings", "activities", "services")
KEY_MODULUS = 2 ** 31    # impact.disclosure.KEY_MODULUS when this was written


def upgrade() -> None:
    random_key = ("abs(random() % {m})" if op.get_bind().dialect.name == "sqlite"
                  else "floor(random() * {m})::integer").format(m=KEY_MODULUS)
    for table in KEYED_TABLES:
        op.add_column(table, sa.Column("record_key", sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET record_key = {random_key}")
