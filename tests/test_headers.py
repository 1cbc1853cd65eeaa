"""Every column accounted for: footnote marks, near-miss headers, drop-down list sheets and a
missing required column, on real workbooks written by the tests."""
from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact.contract.aliases import _edits_allowed, compact, read_aliases
from impact.cli import readable_report
from impact.intake.parsing import load_files, read_file
from impact.contract.tables import TABLES
from tests.helpers import assert_accounted, only_file
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

ENROLLMENT_HEADER = ["Participant ID", "Course", "Course type", "Start date", "Status"]
SAVINGS_HEADER = ["Group ID", "Member ID", "Period", "Deposit"]


@pytest.mark.parametrize("header, column", [
    ("Work setting ¹", "work_setting"), ("Site²", "site"), ("Intake date†", "intake_date"),
    ("Program (1)", "program"), ("Referral source:", "referral_source"), ("Birth year ‡", "birth_year"),
    ("Work setting §", "work_setting"), ("Site ¶", "site"), ("Work setting *", "work_setting"),
    ("Site #", "site"), ("Intake date ⁽³⁾", "intake_date"), ("Program [2]", "program"),
    ("ទីតាំង¹", "site"),
])
def test_footnote_marks_on_participant_headers(tmp_path, header, column):
    index = {"participant_id": 0, "program": 1, "site": 2, "intake_date": 3, "birth_year": 4,
             "referral_source": 5, "work_setting": 6}[column]
    head = list(PARTICIPANT_HEADER)
    head[index] = header
    rows = [head, participant("P-1"), participant("P-2", work="massage")]
    f = only_file(load_files([write_xlsx(tmp_path / "A_marks.xlsx", {"Register": rows})]))
    sheet = f.sheets[0]
    assert sheet.columns[column] == header
    assert f.rows_loaded == 2 and f.dropped_columns == [] and f.issues == []
    assert f.tables["participants"][column].notna().all()


@pytest.mark.parametrize("sheet, head, index, marked, column", [
    ("Courses", ENROLLMENT_HEADER, 4, "Status:", "status"),
    ("Savings", SAVINGS_HEADER, 3, "Deposit ‡", "deposit"),
])
def test_footnote_marks_on_other_tables(tmp_path, sheet, head, index, marked, column):
    data = {"Courses": [["P-1", "Sewing", "vocational", "01/02/2024", "enrolled"]],
            "Savings": [["G-1", "M-1", "01/02/2024", "5"]]}[sheet]
    head = list(head)
    head[index] = marked
    sheets = {"Register": [PARTICIPANT_HEADER, participant("P-1")], sheet: [head] + data}
    f = only_file(load_files([write_xlsx(tmp_path / "A_more.xlsx", sheets)]))
    report = next(s for s in f.sheets if s.sheet == sheet)
    assert report.columns[column] == marked and report.rows_loaded == 1
    assert f.dropped_columns == [] and f.issues == []


def test_a_near_miss_header_is_read_and_said(tmp_path):
    head = PARTICIPANT_HEADER[:6] + ["Wrok setting"]
    rows = [head, participant("P-1"), participant("P-2", work="brothel")]
    result = load_files([write_xlsx(tmp_path / "A_typo.xlsx", {"Register": rows})])
    f = only_file(result)
    assert f.tables["participants"]["work_setting"].tolist() == ["karaoke", "brothel"]
    (line,) = f.issues
    assert (line.row, line.column, line.scope) == (1, "Wrok setting", "column")
    assert line.problem == "read column 'Wrok setting' as work_setting"
    # The CLI's readable report says it before any row.
    text = readable_report(result)
    assert "column and sheet issue(s)" in text and "read column 'Wrok setting' as work_setting" in text


def test_reordered_words_are_the_same_header(tmp_path):
    head = PARTICIPANT_HEADER[:3] + ["Date intake"] + PARTICIPANT_HEADER[4:6] + ["Setting work"]
    f = only_file(load_files([write_xlsx(tmp_path / "A_order.xlsx", {"Register": [head, participant("P-1")]})]))
    assert f.rows_loaded == 1
    assert f.sheets[0].columns["work_setting"] == "Setting work"
    assert f.sheets[0].columns["intake_date"] == "Date intake"


def test_a_header_cut_short_is_not_read_but_asked_about_first(tmp_path):
    head = PARTICIPANT_HEADER[:6] + ["Work sett."]
    rows = [head, participant("P-1"), participant("P-2", intake="31/02/2024")]
    result = load_files([write_xlsx(tmp_path / "A_cut.xlsx", {"Register": rows})])
    f = only_file(result)
    assert f.rows_loaded == 1                              # the rows still load
    assert f.tables["participants"]["work_setting"].isna().all()
    first, second = f.issues                               # the column line before the row's
    assert first.scope == "column" and first.problem == (
        "column 'Work sett.' was not read: is it work_setting? Map it on the Data page")
    assert second.scope == "cell" and second.row == 3
    assert {d.column for d in f.dropped_columns} == {"Work sett."}
    text = readable_report(result)
    assert text.index("Work sett.") < text.index("31/02/2024")


def test_two_near_misses_of_one_column_are_both_asked_about(tmp_path):
    head = PARTICIPANT_HEADER[:6] + ["Wrok setting", "Work settin"]
    rows = [head, participant("P-1") + ["massage"]]
    f = only_file(load_files([write_xlsx(tmp_path / "A_two.xlsx", {"Register": rows})]))
    assert "work_setting" not in f.sheets[0].columns
    problems = sorted(i.problem for i in f.issues)
    assert problems == [
        "column 'Work settin' was not read: is it work_setting? Map it on the Data page",
        "column 'Wrok setting' was not read: is it work_setting? Map it on the Data page"]


def test_a_near_miss_of_an_identifier_is_never_stored(tmp_path):
    head = PARTICIPANT_HEADER + ["Phone numbr"]
    rows = [head, participant("P-1") + ["hello"], participant("P-2") + ["there"]]
    f = only_file(load_files([write_xlsx(tmp_path / "A_phone.xlsx", {"Register": rows})]))
    (dropped,) = f.dropped_columns
    assert dropped.column == "Phone numbr" and "direct identifier" in dropped.reason
    assert "Phone numbr" not in f.tables["participants"].to_string()


def test_a_column_without_a_header_is_reported(tmp_path):
    head = PARTICIPANT_HEADER + [None, "Remarks"]
    rows = [head, participant("P-1") + ["kept?", "ok"]]
    f = only_file(load_files([write_xlsx(tmp_path / "A_blank.xlsx", {"Register": rows})]))
    assert {(d.column, d.reason) for d in f.dropped_columns} == {
        ("column H", "no header: not stored"), ("Remarks", "not a column of the participants table: not stored")}


def test_a_drop_down_list_sheet_is_not_data(tmp_path):
    lists = [["Status", "Course type", "Work setting", "Referral source"],
             ["enrolled", "life_skills", "karaoke", "night_outreach"],
             ["graduated", "vocational", "brothel", "hotline"],
             ["dropped_out", "apprenticeship", "massage", "self"],
             [None, "higher_education", "none", None]]
    sheets = {"Register": [PARTICIPANT_HEADER, participant("P-1")], "Dropdowns": lists,
              "Sheet3": lists}
    f = only_file(load_files([write_xlsx(tmp_path / "A_lists.xlsx", sheets, hidden=("Dropdowns",))]))
    notes = {s.sheet: (s.table, s.note) for s in f.sheets}
    assert notes["Dropdowns"] == (None, "not a data sheet")
    assert notes["Sheet3"] == (None, "not a data sheet")     # lists of unequal length, each label once
    assert f.issues == [] and f.rows_loaded == 1


def test_a_sheet_missing_a_required_column_gives_one_line(tmp_path):
    courses = [["Participant ID", "Course", "Course type", "Status"]] + [
        [f"P-{k}", "Sewing", "vocational", "enrolled"] for k in range(1, 41)]
    sheets = {"Register": [PARTICIPANT_HEADER] + [participant(f"P-{k}") for k in range(1, 41)],
              "Courses": courses}
    result = load_files([write_xlsx(tmp_path / "A_req.xlsx", sheets)])
    f = only_file(result)
    (line,) = f.issues
    assert (line.sheet, line.row, line.column, line.scope) == ("Courses", 1, "start_date", "sheet")
    assert line.problem == ("the sheet has no start_date column, which is required, "
                            "so its rows were not loaded (40)")
    courses_report = next(s for s in f.sheets if s.sheet == "Courses")
    assert (courses_report.rows_read, courses_report.rows_rejected) == (40, 40)
    assert_accounted(result)


# Every name or alias of a contract column, in Latin letters, with one or two typos.
_NAMES = sorted({(table, a.name, a.alias) for table in TABLES for a in read_aliases()
                 if a.kind == "column" and a.name in TABLES[table].column_names
                 and (a.scope == "*" or table in a.scope.split()) and a.alias.isascii()}
                | {(table, c, c.replace("_", " ")) for table in TABLES for c in TABLES[table].column_names})
_LETTERS = string.ascii_lowercase


@st.composite
def near_miss(draw):
    table, column, name = draw(st.sampled_from(_NAMES))
    text = name
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        edit = draw(st.sampled_from(["insert", "delete", "replace", "swap"]))
        letter = draw(st.sampled_from(_LETTERS))
        if edit == "insert":
            text = text[:i] + letter + text[i:]
        elif edit == "delete" and len(text) > 1:
            text = text[:i] + text[i + 1:]
        elif edit == "replace":
            text = text[:i] + letter + text[i + 1:]
        elif i + 1 < len(text):
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return table, column, text


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(near_miss())
def test_no_header_within_two_edits_of_a_column_is_dropped_quietly(tmp_path, case):
    table, column, header = case
    header = header.strip()      # a report names a header as the reader gives it, without edge spaces
    if not compact(header) or len(compact(header)) < 2:
        return
    others = [c for c in TABLES[table].column_names if c != column]
    head = [c.replace("_", " ") for c in others] + [header]
    # Read in this process (the loader's own read, not its child): 60 cases, and a child per
    # file costs more than the read; the isolation has tests of its own (test_hostile_files).
    content = write_xlsx(tmp_path / "A_near.xlsx", {"Data": [head, [None] * len(head)]}).read_bytes()
    f = read_file("A_near.xlsx", content)
    sheet = next(s for s in f.sheets)
    if sheet.table != table:
        return   # the edit made it another table's sheet: not this property
    read = {v: k for k, v in sheet.columns.items()}
    dropped = {d.column: d.reason for d in f.dropped_columns}
    said = {i.column for i in f.issues if i.scope == "column"}
    assert header in read or header in said or "identifier" in dropped.get(header, ""), (header, dropped)
    if header in read and read[header] != column:
        assert header in said or compact(header) != compact(column)


def test_short_headers_need_an_exact_match():
    assert _edits_allowed("no") == 0 and _edits_allowed("site") == 1 and _edits_allowed("worksetting") == 2
