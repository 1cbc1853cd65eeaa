"""Uploads as the Data page makes them, and column mappings remembered per source."""
from __future__ import annotations

import io

import openpyxl
import pytest

from impact.intake import pipeline
from impact.intake.layout import find_layout
from impact.intake.parsing import load_contents
from impact.store import open_store
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

ORG = "KWCD"
FILE = "KWCD_Pouk_participants.xlsx"
HEADER = ["Participant ID", "Program", "Site", "Date joined", "Phone"]


def rows(*ids: str) -> list[list]:
    return [["KWCD Pouk register"], HEADER] + [
        [pid, "Night Outreach", "Siem Reap - Pouk", "15/03/2024", f"01{i}234567"] for i, pid in enumerate(ids)]


def xlsx(tmp_path, sheets: dict[str, list[list]], name: str = FILE) -> bytes:
    return write_xlsx(tmp_path / name, sheets).read_bytes()


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "store.db")
    yield s
    s.close()


def test_mappings_round_trip_per_source(store):
    assert store.column_mappings(ORG, FILE) == {}
    store.save_column_mapping(ORG, FILE, "participants", "Date joined ", "site")
    store.save_column_mapping(ORG, FILE, "participants", "date  JOINED", "intake_date")   # same header: replaced
    store.save_column_mapping(ORG, FILE, "savings", "Money in", "deposit")
    store.save_column_mapping("Other", FILE, "participants", "Date joined", "birth_year")
    assert store.column_mappings(ORG, FILE) == {"participants": {"datejoined": "intake_date"},
                                                "savings": {"moneyin": "deposit"}}
    assert store.column_mappings("Other", FILE) == {"participants": {"datejoined": "birth_year"}}
    assert store.column_mappings(ORG, "other.xlsx") == {}
    with pytest.raises(ValueError):
        store.save_column_mapping(ORG, FILE, "participants", "Date joined", "deposit")
    with pytest.raises(ValueError):
        store.save_column_mapping(ORG, FILE, "no_such_table", "Date joined", "deposit")


def test_an_unknown_header_is_dropped_until_mapped_then_the_stored_original_loads(store, tmp_path):
    content = xlsx(tmp_path, {"Register": rows("P-1", "P-2", "P-3")})
    result = load_contents([(FILE, content)])
    (f,) = result.files
    dropped = {d.column: d.reason for d in f.dropped_columns}
    assert dropped["Date joined"] == "not a column of the participants table: not stored"
    assert "identifier" in dropped["Phone"]
    assert f.rows_loaded == 0 and f.rows_rejected == 3
    assert [(i.row, i.scope, i.problem) for i in f.issues] == [
        (2, "sheet", "the sheet has no intake_date column, which is required, so its rows were not loaded (3)")]

    (first,) = pipeline.ingest_files(store, [(FILE, content)]).outcomes
    store.save_column_mapping(ORG, FILE, "participants", "Date joined", "intake_date")
    name, original = store.upload_content(first.upload_id)
    again = pipeline.ingest_files(store, [(name, original)], dry_run=True).result
    (f,) = again.files
    assert f.rows_loaded == 3 and f.issues == []
    assert f.sheets[0].columns["intake_date"] == "Date joined"
    assert [d.column for d in f.dropped_columns] == ["Phone"]          # the identifier stays out
    assert "Phone" not in f.tables["participants"].columns
    assert f.sha256 != result.files[0].sha256                           # another reading of the bytes


def test_a_mapping_makes_a_sheet_recognized(tmp_path):
    sheet = [["Participant ID", "Date joined"], ["P-1", "15/03/2024"]]
    assert find_layout(sheet, "Sheet1") is None
    layout = find_layout(sheet, "Sheet1", {"participants": {"datejoined": "intake_date"}})
    assert layout.table == "participants" and layout.columns == {0: "participant_id", 1: "intake_date"}
    # Only for the table it was saved for, and never for an identifier header.
    assert find_layout(sheet, "Sheet1", {"activities": {"datejoined": "activity_date"}}) is None
    phone = [["Participant ID", "Phone"], ["P-1", "Phnom Penh"]]
    assert find_layout(phone, "Sheet1", {"participants": {"phone": "site"}}) is None


def test_map_column_reingests_as_a_new_version_and_later_uploads_use_it(store, tmp_path):
    content = xlsx(tmp_path, {"Register": rows("P-1", "P-2")})
    (first,) = pipeline.ingest_files(store, [(FILE, content)]).outcomes
    headers = {d.header: d for d in pipeline.dropped_headers(store, first.upload_id)}
    assert headers["Date joined"].mappable and "intake_date" in headers["Date joined"].choices
    assert "participant_id" not in headers["Date joined"].choices            # already in the sheet
    assert not headers["Phone"].mappable and headers["Phone"].choices == ()
    with pytest.raises(ValueError):
        pipeline.map_column(store, first.upload_id, "Register", "Phone", "site")
    with pytest.raises(ValueError):
        pipeline.map_column(store, first.upload_id, "Register", "Date joined", "program")
    assert store.column_mappings(ORG, FILE) == {}

    remapped = pipeline.map_column(store, first.upload_id, "Register", "Date joined", "intake_date")
    (outcome,) = remapped.outcomes
    assert outcome.status == "replaced" and outcome.previous_upload_id == first.upload_id
    assert len(store.tables()["participants"]) == 2 and store.issues().empty
    # Saving the same mapping again changes nothing; the same file uploaded again is unchanged.
    assert pipeline.reingest_upload(store, outcome.upload_id).outcomes[0].status == "unchanged"
    assert pipeline.ingest_files(store, [(FILE, content)]).outcomes[0].status == "unchanged"
    # A new version of the source is read with the source's mapping.
    newer = pipeline.ingest_files(store, [(FILE, xlsx(tmp_path, {"Register": rows("P-1", "P-2", "P-9")}))])
    assert newer.rows()[0]["status"] == "replaced" and newer.rows()[0]["rows_loaded"] == 3
    assert len(store.tables()["participants"]) == 3


def test_ingest_files_reports_unreadable_files_and_checks_references_across_files(store, tmp_path):
    participants = xlsx(tmp_path, {"Register": [PARTICIPANT_HEADER, participant("P-1")]}, "KWCD_a.xlsx")
    wb = openpyxl.Workbook()
    wb.active.append(["Participant ID", "Follow-up date", "Employment status"])
    wb.active.append(["P-1", "01/06/2024", "own business"])
    wb.active.append(["P-404", "01/06/2024", "own business"])
    buffer = io.BytesIO()
    wb.save(buffer)
    calls = []
    done = pipeline.ingest_files(
        store, [("KWCD_b.xlsx", buffer.getvalue()), ("broken.xlsx", b"PK\x03\x04 not really"),
                ("KWCD_a.xlsx", participants)],
        organization=" KWCD ", progress=lambda *a: calls.append(a))
    assert calls == [(1, 3, "KWCD_b.xlsx"), (2, 3, "broken.xlsx"), (3, 3, "KWCD_a.xlsx")]
    by_file = {r["file"]: r for r in done.rows()}
    assert [r["file"] for r in done.rows()] == ["KWCD_b.xlsx", "broken.xlsx", "KWCD_a.xlsx"]
    assert by_file["broken.xlsx"]["status"] == "unreadable"
    assert "could not be read" in by_file["broken.xlsx"]["message"]
    # P-1 is registered by another file of the same upload; P-404 nowhere.
    assert (by_file["KWCD_b.xlsx"]["rows_loaded"], by_file["KWCD_b.xlsx"]["rows_rejected"]) == (1, 1)
    assert by_file["KWCD_b.xlsx"]["status"] == by_file["KWCD_a.xlsx"]["status"] == "new"
    assert set(store.uploads()["file_name"]) == {"KWCD_a.xlsx", "KWCD_b.xlsx"}
    assert "not a registered participant of KWCD" in set(store.issues()["problem"])
    only_bad = pipeline.ingest_files(store, [("x.csv", b"")])
    assert only_bad.outcomes == [] and only_bad.rows()[0]["status"] == "unreadable"


def test_a_stored_upload_lets_go_of_its_rows_and_keeps_its_counts(store, tmp_path):
    """The Data page keeps an upload's report; the rows and the bytes are the store's once
    stored, so a big upload does not stay in the server's memory twice."""
    content = xlsx(tmp_path, {"Register": [PARTICIPANT_HEADER] + [participant(p) for p in ("P-1", "P-2", "P-3")]})
    dry = pipeline.ingest_files(store, [(FILE, content)], dry_run=True).result
    assert len(dry.files[0].tables["participants"]) == 3 and dry.files[0].content == content
    done = pipeline.ingest_files(store, [(FILE, content)])
    (f,) = done.result.files
    assert done.outcomes[0].status == "new"
    assert f.tables == {} and f.content == b""
    assert done.result.summary()["tables"]["participants"] == 3 == dry.summary()["tables"]["participants"]
    assert done.rows()[0]["rows_loaded"] == 3
    assert store.upload_content(done.outcomes[0].upload_id) == (FILE, content)
    assert len(store.tables()["participants"]) == 3


def test_marked_upload_of_a_stored_version(store, tmp_path):
    content = xlsx(tmp_path, {"Register": rows("P-1", "P-2")})
    (first,) = pipeline.ingest_files(store, [(FILE, content)]).outcomes
    name, marked = pipeline.marked_upload(store, first.upload_id)
    assert name == "KWCD_Pouk_participants_issues.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(marked))
    assert wb.sheetnames == ["Issues", "Register"]
    assert wb["Register"]["A2"].comment is not None and "intake_date" in wb["Register"]["A2"].comment.text
    assert wb["Issues"].max_row == 2     # one sheet-level line, not one per row
