"""Several processes on one store at once, as two servers or a server and a scheduled load
are: ingests of one source, seeding an empty store, upgrading its schema. On SQLite and, when
IMPACT_TEST_POSTGRES_URL is set (scripts/test.sh sets it), on PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy

from impact.demo.seed import seed_demo_store
from impact.intake.parsing import load_files
from impact.store import open_store
from tests.conftest import empty_postgres
from tests.helpers import at_once, demo_file_count, pickled
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

pytestmark = pytest.mark.slow       # several processes each


def active_sources(store) -> list[tuple[str, str]]:
    uploads = store.uploads()
    return sorted(map(tuple, uploads[uploads["active"]][["organization", "file_name"]].values))


@pytest.mark.parametrize("same_file", [True, False], ids=["same file", "two versions"])
def test_two_ingests_of_one_source_at_once(url, tmp_path, same_file):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_xlsx(tmp_path / "a" / "KWCD_reg.xlsx",
                       {"S": [PARTICIPANT_HEADER, participant("P-1"), participant("P-2")]})
    second = first if same_file else write_xlsx(
        tmp_path / "b" / "KWCD_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1"), participant("P-3")]})
    open_store(url).close()
    loads = [pickled(load_files([path]), tmp_path / f"{i}.pickle") for i, path in enumerate((first, second))]
    statuses = sorted(s for statuses in at_once(url, tmp_path, "ingest", loads) for s in statuses)
    store = open_store(url)
    assert statuses == (["new", "unchanged"] if same_file else ["new", "replaced"])
    assert len(store.uploads()) == (1 if same_file else 2)
    assert active_sources(store) == [("KWCD", "KWCD_reg.xlsx")]
    assert len(store.tables()["participants"]) == 2
    with store.engine.connect() as conn:   # the constraint, not only the code, keeps one active
        duplicate = sqlalchemy.text("INSERT INTO uploads (organization, file_name, sha256, uploaded_at, uploader, "
                                    "rows_read, rows_loaded, rows_rejected, rows_skipped, report_json, content, "
                                    "active) SELECT organization, file_name, 'x', uploaded_at, uploader, rows_read, "
                                    "rows_loaded, rows_rejected, rows_skipped, report_json, content, active "
                                    "FROM uploads WHERE active")
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            conn.execute(duplicate)


def test_two_servers_seeding_one_empty_store(url, tmp_path, demo_store):
    """Both servers write the demo workbooks; one ingests them. The result is the demo as one
    server alone seeds it (the session's demo store)."""
    seeded = at_once(url, tmp_path, "seed", [str(tmp_path / "demo_a"), str(tmp_path / "demo_b")])
    assert sorted(seeded) == [False, True]
    store = open_store(url)
    single = open_store(demo_store)
    assert len(store.uploads()) == len(single.uploads()) == demo_file_count()
    assert active_sources(store) == active_sources(single)
    assert {name: len(t) for name, t in store.tables().items()} == \
        {name: len(t) for name, t in single.tables().items()}
    # The demo is the same bytes each time, so seeding again is no change at all.
    written = [sorted((tmp_path / folder).iterdir()) for folder in ("demo_a", "demo_b")]
    assert len(written[0]) == demo_file_count() and [p.read_bytes() for p in written[0]] == [p.read_bytes() for p in written[1]]
    assert not seed_demo_store(store, tmp_path / "demo_c")


def test_a_change_through_one_server_is_a_new_version_on_the_other(url, tmp_path):
    """Two servers' stores (two engines) on one database: what one ingests or restores
    changes the version the other reads, at once; an unchanged file does not; a store made
    again at the same address never repeats an earlier version (its caches would be stale)."""
    a, b = open_store(url), open_store(url)
    first = write_xlsx(tmp_path / "KWCD_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1")]})
    seen = [b.data_version()]
    [v1] = a.ingest(load_files([first]))
    seen.append(b.data_version())
    a.ingest(load_files([first]))
    assert b.data_version() == seen[-1]                  # the same bytes again: no change
    (tmp_path / "v2").mkdir()
    second = write_xlsx(tmp_path / "v2" / "KWCD_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-2")]})
    a.ingest(load_files([second]))
    seen.append(b.data_version())
    a.restore(v1.upload_id)
    seen.append(b.data_version())
    assert len(set(seen)) == 4 and len(b.tables()["participants"]) == 1
    a.close(), b.close()
    if url.startswith("sqlite"):
        for path in tmp_path.glob("impact.db*"):
            path.unlink()
    else:
        empty_postgres()
    assert open_store(url).data_version() not in seen
