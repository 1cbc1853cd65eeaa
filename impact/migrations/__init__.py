"""The store's schema migrations (Alembic): `versions/NNNN_what.py`, one file per change, each
with `revision = "NNNN"` and `down_revision` the one before.

`revision` and `HEAD` are what `Store.upgrade` checks on every open, without importing
Alembic; `upgrade` runs Alembic only when a store is behind. The file names give the order,
so the newest revision is known without reading the files.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, MetaData, inspect, text

FOLDER = Path(__file__).resolve().parent
REVISIONS = tuple(sorted(p.name.split("_", 1)[0]
                         for p in (FOLDER / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")))
HEAD = REVISIONS[-1]
VERSION_TABLE = "alembic_version"


def revision(conn: Connection) -> str | None:
    """The store's schema revision; None for an empty store or one made before migrations."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(conn: Connection) -> None:
    """Run the migrations the store lacks, on `conn` (inside its transaction, which holds the
    store's write lock)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def code_metadata() -> list[MetaData]:
    """Every table the code declares (store, accounts, share links): what the migrations
    must have made, as tests/test_store_migrations.py checks."""
    from impact.access import accounts
    from impact.access import sharing
    from impact import store
    return [store.metadata, accounts.metadata, sharing.metadata]
