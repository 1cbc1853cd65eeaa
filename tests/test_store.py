"""The versioned store, on real SQLite files. Its input is a LoadResult, built here directly."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy

from impact.contract.frames import merge_participants
from impact.intake.load_report import Conflict, Issue
from impact.store import KEYED_TABLES, data_tables, open_store
from impact.contract.tables import TABLES, stored_columns
from tests.helpers import ORG, followups, frame, load, make_file, participants, snapshot

@pytest.fixture
def path(tmp_path):
    return tmp_path / "stores" / "impact.db"


@pytest.fixture
def store(path):
    s = open_store(path)
    yield s
    s.close()


def ids(table: pd.DataFrame) -> list[str]:
    return sorted(table["participant_id"])


def test_open_store_creates_folder_and_sqlite_pragmas(path, store):
    assert path.exists()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(sqlalchemy.exc.IntegrityError):  # rows must belong to an upload
        with store.engine.begin() as conn:
            conn.execute(data_tables["targets"].insert(), [{"upload_id": 999, "indicator": "x"}])


def test_open_store_accepts_url(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'sub' / 'url.db'}")
    s.ingest(load(make_file("KWCD_a.xlsx", {"participants": participants(["P1"])})))
    s.close()
    assert (tmp_path / "sub" / "url.db").exists()
    assert open_store(tmp_path / "sub" / "url.db").participant_keys() == {(ORG, "P1")}


def test_schema_is_generated_from_declarations(store):
    for name in TABLES:
        columns = [c.name for c in data_tables[name].columns]
        keyed = ["record_key"] if name in KEYED_TABLES else []    # each record's key, for donors' noise
        assert columns == ["upload_id", *stored_columns(name), "source_sheet", "source_row", *keyed]
    assert isinstance(data_tables["savings"].c.period.type, sqlalchemy.Date)
    assert isinstance(data_tables["savings"].c.deposit.type, sqlalchemy.Float)
    assert isinstance(data_tables["enrollments"].c.scholarship.type, sqlalchemy.Boolean)
    index_columns = {tuple(c.name for c in i.columns) for i in data_tables["followups"].indexes}
    assert index_columns == {("upload_id",), ("organization", "participant_id")}


def test_empty_store(store):
    tables = store.tables()
    assert set(tables) == set(TABLES) and all(t.empty for t in tables.values())
    assert tables["participants"]["intake_date"].dtype.kind == "M"
    assert store.uploads().empty and store.issues().empty and store.participant_keys() == set()
    # Two files of one load can disagree with each other before anything is stored.
    conflicts = store.conflicts_with(load(
        make_file("KWCD_a.xlsx", {"participants": participants(["P1"], work_setting="karaoke")}),
        make_file("KWCD_b.xlsx", {"participants": participants(["P1"], work_setting="massage")})))
    assert conflicts == [Conflict(ORG, "P1", "work_setting", (("KWCD_a.xlsx", "karaoke"),
                                                              ("KWCD_b.xlsx", "massage")))]


def test_first_ingest(store):
    issue = Issue("KWCD_pouk.xlsx", "Bad", 7, "Intake Date", "31/31/2024", "a date")
    file = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P2", "P3"]),
                                        "followups": followups(["P1", "P2"])}, issues=(issue,))
    [outcome] = store.ingest(load(file), uploader="sokha")
    assert (outcome.status, outcome.file_name, outcome.organization) == ("new", "KWCD_pouk.xlsx", ORG)
    assert outcome.previous_upload_id is None
    tables = store.tables()
    assert ids(tables["participants"]) == ["P1", "P2", "P3"]
    assert ids(tables["followups"]) == ["P1", "P2"]
    assert len(tables["savings"]) == 0 and list(tables["savings"].columns) == [
        *stored_columns("savings"), "source_sheet", "source_row", "upload_id", "record_key"]
    assert set(tables["participants"]["upload_id"]) == {outcome.upload_id}
    history = store.uploads()
    assert len(history) == 1
    row = history.iloc[0]
    assert (row["uploader"], row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (
        "sokha", 6, 5, 1)
    assert bool(row["active"]) and "content" not in history.columns
    assert str(row["uploaded_at"].tz) == "UTC"
    assert store.issues().to_dict("records") == [{
        "file": "KWCD_pouk.xlsx", "sheet": "Bad", "row": 7, "column": "Intake Date",
        "value": "31/31/2024", "problem": "a date", "scope": "cell"}]
    assert store.participant_keys() == {(ORG, "P1"), (ORG, "P2"), (ORG, "P3")}
    assert store.participant_keys("Other NGO") == set()


def test_tables_have_proper_dtypes(store):
    enrollments = frame(["P1", "P2"], {"organization": ORG, "course": "Sewing",
                                       "course_type": "vocational", "cohort": None,
                                       "start_date": ["2024-01-05", date(2024, 2, 1)],
                                       "end_date": [None, date(2024, 5, 1)],
                                       "status": "enrolled", "scholarship": [True, None]},
                        "Enrollments")
    store.ingest(load(make_file("KWCD_a.xlsx", {"participants": participants(["P1", "P2"], birth_year=[1999, None]),
                                                "enrollments": enrollments,
                                                "followups": followups(["P1"], monthly_income=[None])})))
    tables = store.tables()
    p, e, f = tables["participants"], tables["enrollments"], tables["followups"]
    assert p["intake_date"].dtype.kind == "M" and e["end_date"].dtype.kind == "M"
    assert str(p["birth_year"].dtype) == "Int64" and p["birth_year"].isna().sum() == 1
    assert e["scholarship"].dtype == "boolean"
    assert e.set_index("participant_id")["scholarship"].isna().to_dict() == {"P1": False, "P2": True}
    assert f["monthly_income"].dtype == "Float64" and f["monthly_income"].isna().all()
    assert e.sort_values("participant_id")["start_date"].tolist() == [
        pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-01")]
    assert pd.isna(e.set_index("participant_id").loc["P1", "end_date"])
    assert e["cohort"].isna().all()


def test_same_bytes_twice_is_unchanged(store):
    file = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P2"])})
    first = store.ingest(load(file))[0]
    version = store.version
    counts = {name: len(t) for name, t in store.tables().items()}
    again = store.ingest(load(file), uploader="someone else")[0]
    assert again.status == "unchanged" and again.upload_id == first.upload_id
    assert {name: len(t) for name, t in store.tables().items()} == counts
    assert len(store.uploads()) == 1
    assert store.version == version


def test_new_version_replaces_only_its_source(store):
    v1 = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P2"]),
                                      "followups": followups(["P1"])})
    other = make_file("KWCD_siem_reap.xlsx", {"participants": participants(["S1"], site="Siem Reap")})
    first, kept = store.ingest(load(v1, other))
    v2 = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P3"])})
    [outcome] = store.ingest(load(v2))
    assert outcome.status == "replaced" and outcome.previous_upload_id == first.upload_id
    tables = store.tables()
    assert ids(tables["participants"]) == ["P1", "P3", "S1"]
    assert len(tables["followups"]) == 0  # v2 has no follow-ups sheet: v1's rows are gone
    assert set(tables["participants"]["upload_id"]) == {outcome.upload_id, kept.upload_id}
    history = store.uploads()
    assert history["id"].tolist() == [outcome.upload_id, kept.upload_id, first.upload_id]  # newest first
    assert history.set_index("id")["active"].to_dict() == {
        outcome.upload_id: True, kept.upload_id: True, first.upload_id: False}
    # The old version's rows are kept, only inactive.
    with store.engine.connect() as conn:
        kept_rows = conn.execute(sqlalchemy.select(sqlalchemy.func.count()).where(
            data_tables["participants"].c.upload_id == first.upload_id)).scalar()
    assert kept_rows == 2


def test_same_name_in_another_organization_is_another_source(store):
    a = make_file("participants.xlsx", {"participants": participants(["P1"])})
    b = make_file("participants.xlsx", {"participants": participants(["P1"], organization="AFESIP")},
                  org="AFESIP")
    assert [o.status for o in store.ingest(load(a, b))] == ["new", "new"]
    assert store.participant_keys() == {(ORG, "P1"), ("AFESIP", "P1")}


def test_restore_previous_version(store):
    v1 = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P2"])})
    v2 = make_file("KWCD_pouk.xlsx", {"participants": participants(["P9"])})
    [first] = store.ingest(load(v1))
    version_v1 = store.version
    [second] = store.ingest(load(v2))
    assert ids(store.tables()["participants"]) == ["P9"]
    version_v2 = store.version
    store.restore(first.upload_id)
    assert ids(store.tables()["participants"]) == ["P1", "P2"]
    assert store.uploads().set_index("id")["active"].to_dict() == {
        first.upload_id: True, second.upload_id: False}
    assert store.version not in (version_v1, version_v2)  # history grew; active set changed
    # Uploading v1's bytes again now changes nothing; uploading v2's makes it current again.
    assert store.ingest(load(v1))[0].status == "unchanged"
    assert store.ingest(load(v2))[0].status == "replaced"
    assert ids(store.tables()["participants"]) == ["P9"]
    with pytest.raises(KeyError):
        store.restore(12345)


def test_failure_midway_leaves_store_exactly_as_before(path, store):
    store.ingest(load(make_file("KWCD_pouk.xlsx", {"participants": participants(["P1"])}),
                      make_file("KWCD_other.xlsx", {"followups": followups(["P1"])})))
    before, version = snapshot(path), store.version
    tables_before = store.tables()

    def fail(table, upload_id):
        if table == "followups":
            raise RuntimeError("disk full")

    store._after_table_insert = fail
    result = load(
        make_file("KWCD_new.xlsx", {"participants": participants(["N1", "N2"])}),  # new source
        make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P2"]),  # replacement
                                     "followups": followups(["P2"])}))
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest(result)
    after = snapshot(path)
    assert after == before
    assert len(after["uploads"]) == 2 and len(after["participants"]) == 1
    assert store.version == version
    for name, table in store.tables().items():
        pd.testing.assert_frame_equal(table, tables_before[name])
    # The store is still usable: the same load goes through once the fault is gone.
    store._after_table_insert = None
    assert [o.status for o in store.ingest(result)] == ["new", "replaced"]
    assert ids(store.tables()["participants"]) == ["N1", "N2", "P1", "P2"]


def test_bad_value_rolls_back_too(path, store):
    store.ingest(load(make_file("KWCD_pouk.xlsx", {"participants": participants(["P1"])})))
    before = snapshot(path)
    bad = make_file("KWCD_pouk.xlsx", {"participants": participants(["P2"]), "followups": followups(["P2"])})
    # A value that cannot be written fails in the middle of the ingest, after participants.
    bad.tables["followups"] = bad.tables["followups"].astype({"monthly_income": object})
    bad.tables["followups"].loc[0, "monthly_income"] = "lots"
    with pytest.raises(ValueError):
        store.ingest(load(bad))
    assert snapshot(path) == before


def test_participant_merged_across_sources(store):
    outreach = make_file("KWCD_outreach.xlsx", {"participants": participants(
        ["P1", "P2"], program="Night Outreach", intake_date=date(2024, 3, 1), birth_year=[None, 1990])})
    training = make_file("KWCD_training.xlsx", {"participants": participants(
        ["P1"], program="Empowerment Training", intake_date=date(2024, 1, 15), birth_year=1998,
        site="Siem Reap - Pouk")})
    store.ingest(load(outreach))
    store.ingest(load(training))
    stored = store.tables()["participants"]
    assert len(stored) == 3                                 # as stored: one row per source
    merged = merge_participants(stored).set_index("participant_id")
    assert len(merged) == 2
    p1 = merged.loc["P1"]
    assert p1["intake_date"] == pd.Timestamp("2024-01-15")  # earliest intake
    assert p1["program"] == "Night Outreach"                # first upload's value
    assert p1["birth_year"] == 1998                         # first non-null value
    assert p1["site"] == "Phnom Penh"
    assert store.participant_keys() == {(ORG, "P1"), (ORG, "P2")}


def test_conflicts_with_other_sources_and_files(store):
    store.ingest(load(make_file("KWCD_outreach.xlsx", {"participants": participants(
        ["P1", "P2"], intake_date=date(2024, 3, 1))})))
    store.ingest(load(make_file("AFESIP_x.xlsx", {"participants": participants(
        ["P1"], organization="AFESIP", site="Kampot")}, org="AFESIP")))
    incoming = load(
        make_file("KWCD_training.xlsx", {"participants": participants(
            ["P1", "P3"], site=["Siem Reap", "Kampot"], intake_date=date(2024, 3, 1),
            birth_year=[None, 1995])}),
        make_file("KWCD_savings.xlsx", {"participants": participants(["P3"], site="Kep")}))
    conflicts = store.conflicts_with(incoming)
    assert sorted(conflicts, key=lambda c: (c.participant_id, c.column)) == [
        Conflict(ORG, "P1", "site", (("KWCD_outreach.xlsx", "Phnom Penh"),
                                     ("KWCD_training.xlsx", "Siem Reap"))),
        Conflict(ORG, "P3", "birth_year", (("KWCD_training.xlsx", "1995"),
                                           ("KWCD_savings.xlsx", "2000"))),
        Conflict(ORG, "P3", "intake_date", (("KWCD_training.xlsx", "2024-03-01"),
                                            ("KWCD_savings.xlsx", "2024-01-10"))),
        Conflict(ORG, "P3", "site", (("KWCD_training.xlsx", "Kampot"), ("KWCD_savings.xlsx", "Kep"))),
    ]
    # A new version of a source does not conflict with the version it replaces.
    assert store.conflicts_with(load(make_file("KWCD_outreach.xlsx", {"participants": participants(
        ["P1", "P2"], site="Kratie")}))) == []
    assert store.conflicts_with(load(make_file("KWCD_s.xlsx", {"followups": followups(["P1"])}))) == []


def test_conflicts_between_the_files_of_a_first_upload(store):
    """An empty store: the files of one load are compared with each other alone."""
    incoming = load(
        make_file("KWCD_a.xlsx", {"participants": participants(["P1", "P2"], site="Kep")}),
        make_file("KWCD_b.xlsx", {"participants": participants(["P2", "P3"], site=["Kampot", "Kep"])}))
    assert store.conflicts_with(incoming) == [
        Conflict(ORG, "P2", "site", (("KWCD_a.xlsx", "Kep"), ("KWCD_b.xlsx", "Kampot")))]
    assert store.conflicts_with(load(incoming.files[0])) == []


def test_tables_return_only_active_rows(store):
    v1 = make_file("KWCD_pouk.xlsx", {"participants": participants(["OLD"]),
                                      "followups": followups(["OLD"])})
    v2 = make_file("KWCD_pouk.xlsx", {"participants": participants(["NEW"]),
                                      "followups": followups(["NEW", "NEW"])},
                   issues=(Issue("KWCD_pouk.xlsx", "Bad", 3, "Site", "", "a site"),))
    store.ingest(load(v1))
    [current] = store.ingest(load(v2))
    tables = store.tables()
    assert ids(tables["participants"]) == ["NEW"] and ids(tables["followups"]) == ["NEW", "NEW"]
    assert {int(u) for t in tables.values() for u in t["upload_id"]} == {current.upload_id}
    assert store.participant_keys() == {(ORG, "NEW")}
    assert store.issues()["row"].tolist() == [3]


def test_original_bytes_of_every_version(store):
    v1 = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1"])}, content=b"PK\x03\x04v1\x00")
    v2 = make_file("KWCD_pouk.xlsx", {"participants": participants(["P1"])}, content=b"PK\x03\x04v2\xff")
    [first], [second] = store.ingest(load(v1)), store.ingest(load(v2))
    assert second.status == "replaced"  # same rows, different bytes: a new version
    assert store.upload_content(first.upload_id) == ("KWCD_pouk.xlsx", b"PK\x03\x04v1\x00")
    assert store.upload_content(second.upload_id) == ("KWCD_pouk.xlsx", b"PK\x03\x04v2\xff")
    with pytest.raises(KeyError):
        store.upload_content(999)


def test_reopened_store_keeps_everything(path):
    s = open_store(path)
    [first] = s.ingest(load(make_file("KWCD_pouk.xlsx", {"participants": participants(["P1"])},
                                      content=b"one")))
    s.ingest(load(make_file("KWCD_pouk.xlsx", {"participants": participants(["P1", "P2"]),
                                               "followups": followups(["P2"])}, content=b"two")))
    tables, history, version = s.tables(), s.uploads(), s.version
    s.close()
    reopened = open_store(str(path))
    try:
        for name, table in reopened.tables().items():
            pd.testing.assert_frame_equal(table, tables[name])
        pd.testing.assert_frame_equal(reopened.uploads(), history)
        assert reopened.version == version
        assert reopened.upload_content(first.upload_id) == ("KWCD_pouk.xlsx", b"one")
        assert len(reopened.tables()["followups"]) == 1
    finally:
        reopened.close()


@pytest.mark.parametrize("n", [1, 49, 50, 51, 149])
def test_every_row_and_value_goes_in_however_the_statements_split_the_rows(store, n):
    """Rows go in 50 to an INSERT and the rest one at a time: each row once, its values in
    their own columns, blanks kept."""
    sheet = participants([f"P-{i:03d}" for i in range(n)], site=[f"site {i}" for i in range(n)],
                         intake_date=[date(2020, 1, 1) + pd.Timedelta(days=i) for i in range(n)],
                         birth_year=[None if i % 3 == 0 else 1970 + i for i in range(n)])
    store.ingest(load(make_file("KWCD_rows.xlsx", {"participants": sheet})))
    table = store.tables()["participants"].sort_values("participant_id")
    assert table["participant_id"].tolist() == [f"P-{i:03d}" for i in range(n)]
    assert table["site"].tolist() == [f"site {i}" for i in range(n)]
    assert table["intake_date"].dt.date.tolist() == [date(2020, 1, 1) + pd.Timedelta(days=i) for i in range(n)]
    assert table["birth_year"].tolist() == [pd.NA if i % 3 == 0 else 1970 + i for i in range(n)]


def test_a_date_keeps_its_day_in_the_store_whatever_its_time_and_year(store):
    """Dates go to SQLite as ISO days through Arrow's cast: a time of day is dropped, never
    rounded into the next day, before 1970 as after."""
    days = ["1969-12-31 13:45", "1950-06-01 23:59", "1900-01-01 00:00", "2024-03-15 13:45"]
    sheet = participants([f"P-{i}" for i in range(len(days))], intake_date=pd.to_datetime(days))
    store.ingest(load(make_file("KWCD_days.xlsx", {"participants": sheet})))
    stored = store.tables()["participants"].sort_values("participant_id")["intake_date"]
    assert stored.dt.strftime("%Y-%m-%d").tolist() == ["1969-12-31", "1950-06-01", "1900-01-01", "2024-03-15"]


@pytest.mark.slow
def test_100k_participants_ingest_whole(store):
    """A large register goes in whole, its blanks kept. (How fast it goes is bench/bench_load.py's
    question: a time limit here would fail on a busy machine, not on slow code.)"""
    n = 100_000
    big = participants([f"PW-{i:06d}" for i in range(n)],
                       intake_date=pd.date_range("2015-01-01", periods=n, freq="h").date,
                       birth_year=[1980 + i % 30 if i % 7 else None for i in range(n)])
    file = make_file("KWCD_big.xlsx", {"participants": big}, content=b"big")
    store.ingest(load(file))
    table = store.tables()["participants"]
    assert len(table) == n and table["participant_id"].nunique() == n   # every insert chunk, once
    assert table["birth_year"].isna().sum() == len(range(0, n, 7))
