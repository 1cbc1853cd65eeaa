"""The store's schema migrations (impact/migrations): a new store gets exactly the schema the
code declares; a store made before migrations is adopted and upgraded in place, keeping every
upload and version; a store newer than the code is refused. On SQLite and, when
IMPACT_TEST_POSTGRES_URL is set, on PostgreSQL."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from impact.access import accounts

from impact import migrations

from impact.access import sharing
from impact.disclosure import KEY_MODULUS
from impact.store import KEYED_TABLES, Store, StoreTooNew, metadata, open_store
from tests.helpers import REPO, at_once, followups, load, make_file, participants

NEWER = "9999"


def revision_of(url: str) -> str | None:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        revision = migrations.revision(conn)
    engine.dispose()
    return revision


def store_made_before_migrations(url: str) -> tuple[Store, int, dict[str, pd.DataFrame]]:
    """A store as the code before migrations left it: the store's tables from its metadata
    without the one-active index, without record keys (0003), without what migration 0004
    adds (network_members, cases, services.referred_by) and without the data version row
    (0005); the account tables (a director was added; no share link yet, so no share-link
    tables), no revision; two sources, one with two versions. Returns the store, the replaced version's id and its clean tables as read before
    those parts were taken away (without keys)."""
    engine = sqlalchemy.create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP INDEX ux_uploads_active_source"))
    accounts.metadata.create_all(engine)
    old = Store(engine, busy_timeout=30)
    accounts.add_user(old, "director1", "a long passphrase", "director")
    old.ingest(load(make_file("KWCD_reg.xlsx", {"participants": participants(["P1", "P2"])})))
    [replaced] = old.ingest(load(make_file("KWCD_fu.xlsx", {"followups": followups(["P1"])})))
    old.ingest(load(make_file("KWCD_fu.xlsx", {"followups": followups(["P1", "P2"])})))
    tables = {name: table.drop(columns="record_key", errors="ignore") for name, table in old.tables().items()}
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP TABLE network_members"))
        conn.execute(sqlalchemy.text("DROP TABLE cases"))
        conn.execute(sqlalchemy.text("DROP TABLE store_version"))
        conn.execute(sqlalchemy.text("ALTER TABLE services DROP COLUMN referred_by"))
        for name in set(KEYED_TABLES) - {"network_members", "cases"}:
            conn.execute(sqlalchemy.text(f"ALTER TABLE {name} DROP COLUMN record_key"))
    return old, replaced.upload_id, tables


def test_a_new_store_has_exactly_the_schema_the_code_declares(url):
    store = open_store(url)
    assert revision_of(url) == migrations.HEAD
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), migrations.code_metadata()) == []


def test_revisions_are_known_from_the_file_names():
    scripts = ScriptDirectory.from_config(_config())
    assert migrations.HEAD == scripts.get_current_head()
    assert migrations.REVISIONS == tuple(sorted(s.revision for s in scripts.walk_revisions()))


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations.FOLDER))
    return config


@pytest.mark.slow
def test_store_made_before_migrations_upgrades_and_keeps_everything(url):
    old, replaced, tables = store_made_before_migrations(url)
    history = old.uploads()
    # Two ingests at once could leave two versions of a source active: the newest stays.
    with old.engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"UPDATE uploads SET active = true WHERE id = {replaced}"))
    old.close()
    assert revision_of(url) is None
    store = open_store(url)
    assert revision_of(url) == migrations.HEAD
    pd.testing.assert_frame_equal(store.uploads(), history)
    for name, table in store.tables().items():
        pd.testing.assert_frame_equal(table.drop(columns="record_key", errors="ignore"), tables[name])
    # every record got its random key (migration 0003), and keeps it
    keys = pd.concat([store.tables()[name]["record_key"] for name in KEYED_TABLES])
    assert keys.notna().all() and keys.between(0, KEY_MODULUS - 1).all() and keys.nunique() == len(keys) == 4
    assert keys.tolist() == pd.concat([store.tables()[name]["record_key"] for name in KEYED_TABLES]).tolist()
    assert len(store.tables()["followups"]) == 2 and len(store.uploads()) == 3
    assert accounts.authenticate(store, "director1", "a long passphrase").role == "director"
    assert sharing.list_links(store) == []          # the share-link tables were added
    with pytest.raises(sqlalchemy.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"UPDATE uploads SET active = true WHERE id = {replaced}"))
    version = store.data_version()                  # the version row was added (0005)
    store.restore(replaced)
    assert store.data_version() != version


def test_command_line_upgrade(tmp_path, impact_cli):
    path = tmp_path / "impact.db"
    old, _, _ = store_made_before_migrations(f"sqlite:///{path}")
    old.close()
    out = impact_cli("upgrade", "--store", path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"the store's schema is at revision {migrations.HEAD}, the newest\n"
    assert revision_of(f"sqlite:///{path}") == migrations.HEAD
    assert len(open_store(path).uploads()) == 3


def test_a_store_newer_than_the_code_is_refused(url, impact_cli):
    open_store(url).close()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"UPDATE alembic_version SET version_num = '{NEWER}'"))
    engine.dispose()
    message = (f"the store is at schema revision {NEWER}, newer than this program knows "
               f"({migrations.HEAD}): update the program")
    with pytest.raises(StoreTooNew) as refused:
        open_store(url)
    assert str(refused.value) == message
    out = impact_cli("upgrade", "--store", url)
    assert (out.returncode, out.stderr) == (2, f"error: {message}\n")
    assert revision_of(url) == NEWER


@pytest.mark.slow
def test_two_servers_upgrading_one_store_at_once(url, tmp_path):
    old, _, _ = store_made_before_migrations(url)
    old.close()
    assert at_once(url, tmp_path, "open", ["first", "second"]) == [2, 2]    # both serve
    assert revision_of(url) == migrations.HEAD


@pytest.mark.slow
def test_two_servers_creating_one_store_at_once(url, tmp_path):
    assert at_once(url, tmp_path, "open", ["first", "second"]) == [0, 0]
    assert revision_of(url) == migrations.HEAD


def test_opening_a_current_store_runs_no_migration_machinery(tmp_path):
    path = tmp_path / "impact.db"
    open_store(path).close()
    code = f"import sys; from impact.store import open_store; open_store({str(path)!r}); print('alembic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout == "False\n", out.stderr
