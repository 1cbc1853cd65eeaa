"""The Data page, run by Streamlit's AppTest on a real SQLite store seeded with the demo data
(each test a copy of the session's demo store), today frozen.

Every run goes through the router (dashboard.py), which admits the visitor and draws the
sidebar, so every test starts at dashboard.py and switches to the page.
This AppTest drives st.file_uploader, so the upload itself is tested here.
"""
from __future__ import annotations

import io
import json

import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from impact.present import charts

from impact.intake import pipeline
from impact.intake.template import write_template
from impact.present.texts import text
from impact.store import open_store
from tests.helpers import open_page
from tests.workbooks import PARTICIPANT_HEADER, participant

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def store_path(demo_store, today, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(demo_store))
    return demo_store


def data_page() -> AppTest:
    return open_page("data")


def workbook(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def table(at: AppTest, *columns: str):
    """The first table showing these columns (a display table has no key in AppTest)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def issue_table(at: AppTest):
    return table(at, "file", "sheet", "row", "column", "value", "problem")


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


def test_issue_report_shows_every_issue_of_the_store_and_the_downloads_exist(store_path):
    at = data_page()
    issues = open_store(store_path).issues()
    assert len(issues) > 0                              # the demo files carry deliberate mistakes
    table = issue_table(at)
    assert len(table) == len(issues)
    assert f"of {len(issues):,} problem(s)" in texts(at.caption)
    labels = {b.key: b.label for b in at.download_button}
    assert labels["data_template"] == "Download the template (Excel)"
    assert {"data_issues_xlsx", "data_marked", "data_original"} <= labels.keys()
    # The problem filter narrows the table.
    at.text_input(key="data_issue_search").set_value("Calendar DATE").run()
    narrowed = issue_table(at)
    assert 0 < len(narrowed) == issues["problem"].str.contains("calendar date").sum() < len(issues)


def test_upload_with_a_bad_row_and_an_unreadable_file(store_path, today):
    at = data_page()
    before = open_store(store_path).data_version()
    today = today.strftime("%d/%m/%Y")
    good = workbook([["Pouk register"], PARTICIPANT_HEADER, participant("UP-1", today), participant("UP-2", today),
                     participant("UP-3", "not a date")])
    at.file_uploader[0].set_value([("KWCD_Upload_test.xlsx", good, XLSX), ("broken.xlsx", b"not a workbook", XLSX)])
    at.run()
    at.button(key="data_load").click().run()
    assert not at.exception, at.exception
    assert "broken.xlsx: the workbook could not be read" in texts(at.error)
    assert "KWCD_Upload_test.xlsx (KWCD): 2 row(s) loaded, 1 rejected" in texts(at.warning)
    assert "Stored as a new source." in texts(at.warning)
    store = open_store(store_path)
    assert store.data_version() != before
    # The bad row is in the issue report, at its Excel row.
    at.multiselect(key="data_issue_files").set_value(["KWCD_Upload_test.xlsx"]).run()
    table = issue_table(at)
    assert table[["row", "column", "value"]].values.tolist() == [[5, "Intake Date", "not a date"]]
    assert len(at.file_uploader[0].value or []) == 0      # the picker is emptied
    # The same file again is unchanged.
    at.file_uploader[0].set_value(("KWCD_Upload_test.xlsx", good, XLSX))
    at.run()
    at.button(key="data_load").click().run()
    assert "Unchanged: this exact file is already in the store." in texts(at.info)


def test_new_data_reaches_the_other_pages(store_path, today):
    at = data_page()
    at.switch_page("app/pages/overview.py").run()
    registered = next(m for m in at.metric if m.label == charts.metric_label("participants_registered", "en"))
    before = int(registered.value.replace(",", ""))
    today = today.strftime("%d/%m/%Y")
    at.switch_page("app/pages/data.py").run()
    at.file_uploader[0].set_value(("KWCD_New.xlsx", workbook(
        [PARTICIPANT_HEADER] + [participant(f"NEW-{i}", today) for i in range(7)]), XLSX))
    at.run()
    at.button(key="data_load").click().run()
    assert not at.exception, at.exception
    at.switch_page("app/pages/overview.py").run()
    registered = next(m for m in at.metric if m.label == registered.label)
    assert int(registered.value.replace(",", "")) == before + 7


def test_restore_an_earlier_version_after_confirming(store_path):
    at = data_page()
    store = open_store(store_path)
    name = "KWCD_Versions.xlsx"
    v1 = pipeline.ingest_files(store, [(name, workbook([PARTICIPANT_HEADER, participant("V-1")]))]).outcomes[0]
    v2 = pipeline.ingest_files(store, [(name, workbook([PARTICIPANT_HEADER, participant("V-1"),
                                                        participant("V-2")]))]).outcomes[0]
    assert v2.status == "replaced"
    at.run()
    at.selectbox(key="data_restore_choice").set_value(v1.upload_id).run()
    at.button(key="data_restore").click().run()
    assert f"Make version 1 of {name}" in texts(at.warning)      # the source's version, not the upload id
    active = store.uploads().set_index("id")["active"]
    assert active[v2.upload_id] and not active[v1.upload_id]        # nothing before confirming
    at.button(key="data_restore_yes").click().run()
    assert not at.exception, at.exception
    active = store.uploads().set_index("id")["active"]
    assert active[v1.upload_id] and not active[v2.upload_id]
    assert f"Version 1 of {name} is active again." in texts(at.success)
    participants = store.tables()["participants"]
    assert "V-2" not in set(participants["participant_id"]) and "V-1" in set(participants["participant_id"])


def test_map_an_unrecognized_column_and_identifiers_cannot_be_mapped(store_path):
    at = data_page()
    store = open_store(store_path)
    name = "KWCD_Joined.xlsx"
    content = workbook([["Participant ID", "Program", "Site", "Date joined", "Phone"],
                        ["J-1", "Night Outreach", "Phnom Penh", "15/03/2024", "012345678"],
                        ["J-2", "Night Outreach", "Phnom Penh", "16/03/2024", "012345679"],
                        ["J-3", "Night Outreach", "Phnom Penh", "17/03/2024", "012345670"]])
    (first,) = pipeline.ingest_files(store, [(name, content)]).outcomes
    at.run()
    at.selectbox(key="data_upload_choice").set_value(first.upload_id).run()
    dropped = table(at, "reason", "mappable")
    assert dropped.set_index("column")["mappable"].to_dict() == {"Date joined": True, "Phone": False}
    header_choice = at.selectbox(key=f"data_map_header_{first.upload_id}")
    assert header_choice.options == ["Sheet › Date joined"]
    at.selectbox(key=f"data_map_column_{first.upload_id}_0").set_value("intake_date").run()
    at.button(key="data_map_save").click().run()
    assert not at.exception, at.exception
    assert "Date joined is now read as intake_date." in texts(at.success)
    assert store.column_mappings("KWCD", name) == {"participants": {"datejoined": "intake_date"}}
    newest = store.uploads().iloc[0]
    assert newest["file_name"] == name and newest["active"] and newest["rows_loaded"] == 3
    assert at.selectbox(key="data_upload_choice").value == newest["id"]
    assert {"J-1", "J-2", "J-3"} <= set(store.tables()["participants"]["participant_id"])


def test_the_page_in_khmer(store_path):
    at = data_page()
    at.radio(key="lang").set_value("km").run()
    assert not at.exception, at.exception
    assert "ទាញយកគំរូ (Excel)" in {b.label for b in at.download_button}


def test_the_marked_workbook_and_the_original_are_made_when_clicked(store_path, monkeypatch):
    """Deferred downloads: the page hands Streamlit callables; run the ones it registered."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    registered: dict[str, object] = {}
    original_add = MediaFileManager.add_deferred

    def capture(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        registered[file_name] = data_callable
        return original_add(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", capture)
    at = data_page()
    store = open_store(store_path)
    name = "KWCD_Marked.xlsx"
    content = workbook([PARTICIPANT_HEADER, participant("M-1"), participant("M-2", "someday")])
    (upload,) = pipeline.ingest_files(store, [(name, content)]).outcomes
    at.run()
    at.selectbox(key="data_upload_choice").set_value(upload.upload_id).run()
    assert not at.exception, at.exception
    assert registered[name]() == content
    marked = openpyxl.load_workbook(io.BytesIO(registered["KWCD_Marked_issues.xlsx"]()))
    assert marked.sheetnames == ["Issues", "Sheet"]
    assert "expected" in marked["Sheet"]["D3"].comment.text


def test_a_column_not_read_is_asked_about_first_and_mapped_on_the_page(store_path):
    at = data_page()
    name = "KWCD_Cut.xlsx"
    content = workbook([PARTICIPANT_HEADER[:6] + ["Work sett."],
                        participant("C-1"), participant("C-2", "someday"), participant("C-3", work="massage")])
    at.file_uploader[0].set_value((name, content, XLSX))
    at.run()
    at.button(key="data_load").click().run()
    assert not at.exception, at.exception
    at.multiselect(key="data_issue_files").set_value([name]).run()
    issues = issue_table(at)
    assert issues["problem"].tolist() == [
        "column 'Work sett.' was not read: is it work_setting? Map it on the Data page",
        "expected a date (dd/mm/yyyy)"]
    store = open_store(store_path)
    upload_id = int(store.uploads().iloc[0]["id"])
    at.selectbox(key="data_upload_choice").set_value(upload_id).run()
    assert at.selectbox(key=f"data_map_header_{upload_id}").options == ["Sheet › Work sett."]
    at.selectbox(key=f"data_map_column_{upload_id}_0").set_value("work_setting").run()
    at.button(key="data_map_save").click().run()
    assert not at.exception, at.exception
    participants = store.tables()["participants"].set_index("participant_id")
    assert participants.loc[["C-1", "C-3"], "work_setting"].tolist() == ["karaoke", "massage"]


# --- issue 10: the upload just made first, versions of a source, the blank template ---------

def test_an_upload_shows_its_own_problems_first_and_the_sources_version(store_path):
    at = data_page()
    every = len(open_store(store_path).issues())
    name = "KWCD_Three_mistakes.xlsx"
    rows = [PARTICIPANT_HEADER, participant("T-1")] + [participant(f"T-{i}", "not a date") for i in (2, 3, 4)]
    at.file_uploader[0].set_value((name, workbook(rows), XLSX))
    at.run()
    at.button(key="data_load").click().run()
    assert not at.exception, at.exception
    shown = issue_table(at)
    assert set(shown["file"]) == {name} and len(shown) == 3      # not under every other file's problems
    assert text("data_issues_just_loaded") in texts(at.caption)
    upload_id = open_store(store_path).uploads().query("file_name == @name")["id"].item()
    assert {b.key: b.label for b in at.download_button}[f"data_marked_{upload_id}"] == text("data_download_marked")
    element = next(d for d in at.dataframe if "problem" in d.value.columns).proto
    longest = shown["problem"].str.len().max()
    assert json.loads(element.columns)["problem"]["width"] >= 8 * longest      # the whole problem, not cut
    assert list(element.column_order).index("problem") < list(element.column_order).index("value")
    at.multiselect(key="data_issue_files").set_value([]).run()      # the rest a filter away
    assert len(issue_table(at)) == every + 3

    at.file_uploader[0].set_value((name, workbook(rows[:2]), XLSX))
    at.run()
    at.button(key="data_load").click().run()
    assert text("data_status_replaced").format(previous=1) in texts(at.success)
    assert f"{name} · {text('data_version')} 2 · " in at.selectbox(key="data_upload_choice").format_func(
        at.selectbox(key="data_upload_choice").value)
    history = table(at, "file_name", "active")
    assert sorted(history.loc[history["file_name"] == name, "id"]) == [1, 2]     # the source's versions


def test_the_blank_template_is_reported_and_not_stored(store_path, tmp_path, impact_cli):
    at = data_page()
    before = open_store(store_path).uploads()
    template = write_template(tmp_path / "impact_template.xlsx")
    at.file_uploader[0].set_value(("t.xlsx", template.read_bytes(), XLSX))
    at.run()
    at.button(key="data_load").click().run()
    assert not at.exception, at.exception
    assert text("data_no_data_rows").format(file="t.xlsx") in texts(at.warning)
    out = impact_cli("load", template, "--store", store_path)
    assert out.returncode == 2 and "no data rows" in out.stderr
    after = open_store(store_path).uploads()
    assert len(after) == len(before) and "t" not in set(after["organization"])
