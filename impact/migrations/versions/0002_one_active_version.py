"""One active version per source, as a constraint: a partial unique index on
uploads(organization, file_name) WHERE active.

Before it, two ingests of one source at once could both leave their version active (the
dashboard then counted that source twice). Of such versions the newest stays active, as if
the ingests had run one after the other; the others stay in the history.
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    uploads = sa.table("uploads", sa.column("id", sa.Integer), sa.column("organization", sa.Text),
                       sa.column("file_name", sa.Text), sa.column("active", sa.Boolean))
    newer = uploads.alias("newer")
    op.execute(uploads.update().where(uploads.c.active, sa.exists().where(
        newer.c.active, newer.c.organization == uploads.c.organization,
        newer.c.file_name == uploads.c.file_name, newer.c.id > uploads.c.id)).values(active=False))
    op.create_index("ux_uploads_active_source", "uploads", ["organization", "file_name"], unique=True,
                    sqlite_where=sa.text("active"), postgresql_where=sa.text("active"))
