"""The same store on a real PostgreSQL server, as a hosted deployment runs it (DATABASE_URL).

scripts/test.sh installs Debian's PostgreSQL, starts it and sets IMPACT_TEST_POSTGRES_URL;
each test gets an empty schema.
"""
from __future__ import annotations

import datetime as dt
import os

import pytest
import sqlalchemy

from impact.access import accounts

from impact.access import sharing
from impact.contract.frames import merge_participants
from impact.intake.parsing import load_files
from impact.store import open_store
from tests.helpers import followups, load, make_file, participants
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

URL = os.environ.get("IMPACT_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="IMPACT_TEST_POSTGRES_URL not set (scripts/test.sh sets it)")


@pytest.fixture
def store(postgres_url):
    s = open_store(postgres_url)
    yield s
    s.close()


def test_versions_restore_and_rollback_on_postgres(store):
    first = make_file("KWCD_reg.xlsx", {"participants": participants(["P-1", "P-2"])})
    assert [o.status for o in store.ingest(load(first))] == ["new"]
    assert [o.status for o in store.ingest(load(first))] == ["unchanged"]
    second = make_file("KWCD_reg.xlsx", {"participants": participants(["P-1", "P-2", "P-3"])})
    (outcome,) = store.ingest(load(second))
    assert outcome.status == "replaced" and len(store.tables()["participants"]) == 3
    store.restore(outcome.previous_upload_id)
    assert sorted(store.tables()["participants"]["participant_id"]) == ["P-1", "P-2"]

    def fail(table, upload_id):
        raise RuntimeError("disk full")
    store._after_table_insert = fail
    third = make_file("KWCD_fu.xlsx", {"followups": followups(["P-1"])})
    with pytest.raises(RuntimeError):
        store.ingest(load(third))
    store._after_table_insert = None
    assert len(store.uploads()) == 2 and len(store.tables()["followups"]) == 0


def test_merge_dtypes_and_conflicts_on_postgres(store):
    a = make_file("KWCD_a.xlsx", {"participants": participants(["P-1"], intake_date=dt.date(2024, 3, 1))})
    b = make_file("KWCD_b.xlsx", {"participants": participants(["P-1"], site="Kampot", intake_date=dt.date(2024, 1, 5))})
    store.ingest(load(a))
    assert {c.column for c in store.conflicts_with(load(b))} == {"site", "intake_date"}
    store.ingest(load(b))
    stored = store.tables()["participants"]
    assert len(stored) == 2      # each upload's row kept; merged when the metrics are prepared
    p = merge_participants(stored)
    assert len(p) == 1 and p["intake_date"].iloc[0] == dt.datetime(2024, 1, 5)
    assert str(p["intake_date"].dtype).startswith("datetime64")


def test_accounts_and_share_links_on_postgres(store):
    accounts.add_user(store, "director1", "a long passphrase", "director")
    assert accounts.authenticate(store, "director1", "a long passphrase").role == "director"
    secret = b"s" * 32
    scope = sharing.Scope(("KWCD",))
    token, link = sharing.create_link(store, secret, "director1", scope, dt.date.today() + dt.timedelta(days=3))
    assert sharing.verify(store, secret, token).public_id == link.public_id
    sharing.revoke(store, link.public_id)
    with pytest.raises(sharing.InvalidShareLink):
        sharing.verify(store, secret, token)


def test_command_line_load_into_postgres(store, postgres_url, tmp_path, impact_cli):
    path = write_xlsx(tmp_path / "SRP_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1"), participant("P-2")]})
    out = impact_cli("load", path, "--store", postgres_url)
    assert out.returncode == 0, out.stderr
    assert len(open_store(postgres_url).tables()["participants"]) == 2
    assert len(load_files([path]).table("participants")) == 2


def test_busy_and_read_only_postgres_store_fail_with_one_line(store, postgres_url):
    from impact.store import _WRITE_LOCK_KEY, StoreBusy, StoreReadOnly
    store.ingest(load(make_file("KWCD_reg.xlsx", {"participants": participants(["P-1"])})))
    busy = open_store(postgres_url, busy_timeout=0.2)
    with store.engine.begin() as other:     # another server saving an upload
        other.execute(sqlalchemy.select(sqlalchemy.func.pg_advisory_xact_lock(_WRITE_LOCK_KEY)))
        with pytest.raises(StoreBusy, match="^another upload is being saved, try again$"):
            busy.ingest(load(make_file("KWCD_reg.xlsx", {"participants": participants(["P-1", "P-2"])})))
    url = sqlalchemy.make_url(postgres_url)
    read_only = open_store(url.update_query_dict(
        {"options": url.query["options"] + " -cdefault_transaction_read_only=on"}).render_as_string(False))
    assert len(read_only.tables()["participants"]) == 1
    with pytest.raises(StoreReadOnly, match="^the store is read-only: nothing was saved$"):
        read_only.ingest(load(make_file("KWCD_reg.xlsx", {"participants": participants(["P-1", "P-2"])})))
    assert len(store.uploads()) == 1
    busy.close()
    read_only.close()
