"""The intake path on real workbooks written by the tests, one kind of messiness at a time."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter

from impact.intake.parsing import load_files
from impact.intake.reading import read_workbook
from tests.helpers import assert_accounted, only_file
from tests.workbooks import (
    PARTICIPANT_HEADER,
    participant,
    write_csv,
    write_ods,
    write_xls,
    write_xlsx,
    write_xlsxwriter,
)

# The contract's three sample workbooks (shared/samples), copied into the repository.
SAMPLES = Path(__file__).resolve().parent / "data" / "samples"


def test_every_sample_row_is_accounted_for():
    result = load_files([SAMPLES])
    assert_accounted(result)
    summary = result.summary()
    assert summary["tables"]["participants"] == 73
    assert summary["rows_loaded"] + summary["rows_rejected"] == sum(f.rows_read for f in result.files)
    # Each data sheet holds one deliberately bad row (the follow-ups two).
    rejected = {(i["file"], i["sheet"]) for i in summary["issues"]}
    assert len(rejected) == 6
    dropped = {d["column"]: d["reason"] for d in summary["dropped_columns"]}
    assert dropped.keys() == {"ឈ្មោះ", "លេខទូរស័ព្ទ"}
    sheets = {s.sheet: s for f in result.files for s in f.sheets}
    assert sheets["Pivot"].table is None and sheets["Pivot"].hidden
    assert sheets["Instructions"].table is None
    assert sheets["អ្នកចូលរួម"].header_row == 5
    savings = result.table("savings")
    assert savings["group_id"].notna().all()           # merged cells fill down the group
    assert round(savings["deposit"].sum(), 2) == 481.25


def test_no_name_or_phone_reaches_the_tables():
    result = load_files([SAMPLES])
    text = " ".join(str(v) for t in ("participants", "enrollments", "services")
                    for v in result.table(t).to_numpy().ravel())
    for leaked in ("Lim Lina", "Nhem Leakhena", "088 282 9466", "017 578 1655"):
        assert leaked not in text


def test_title_rows_total_and_notes_are_skipped(tmp_path):
    rows = [["KWCD participant register 2024"], ["logo"], [], PARTICIPANT_HEADER,
            participant("P-1"), participant("P-2"), [], ["Total", 2],
            ["Note: data checked by the M&E officer in March"]]
    f = only_file(load_files([write_xlsx(tmp_path / "KWCD_reg.xlsx", {"Sheet1": rows})]))
    assert f.organization == "KWCD"
    (sheet,) = f.sheets
    assert (sheet.table, sheet.header_row, sheet.rows_read, sheet.rows_loaded) == ("participants", 4, 2, 2)
    assert sheet.rows_skipped == 6 and f.issues == []


def test_khmer_and_variant_headers_and_labels(tmp_path):
    header = ["ល.រ", "លេខសម្គាល់អ្នកចូលរួម", "កម្មវិធី", "តំបន់", "ថ្ងៃចុះឈ្មោះ (Intake Date)",
              "ឆ្នាំកំណើត", "ប្រភពបញ្ជូន", "ទីកន្លែងការងារ"]
    rows = [header,
            [1, "P-1", "Night Outreach", "Siem Reap - Pouk", "០៣/០២/២០២៤", "១៩៩៩", "បណ្ដាញសហគមន៍", "ខារ៉ាអូខេ"],
            [2, " P-2 ", "Night Outreach", "Siem Reap - Pouk", "2024-02-04", 2001, "Peer  Educator", "None"]]
    f = only_file(load_files([write_xlsx(tmp_path / "SRP_x.xlsx", {"បញ្ជី": rows})]))
    p = f.tables["participants"]
    assert list(p["participant_id"]) == ["P-1", "P-2"]
    assert list(p["referral_source"]) == ["community_network", "peer_educator"]   # ្ដ typed for ្ត
    assert list(p["work_setting"]) == ["karaoke", "none"]                          # None is a category
    assert p["intake_date"].tolist() == [dt.datetime(2024, 2, 3), dt.datetime(2024, 2, 4)]
    assert list(p["birth_year"]) == [1999, 2001]
    assert f.dropped_columns == []    # the row-number column is ignored, not reported


def test_english_header_variants(tmp_path):
    rows = [["participant id*", "PROGRAM", " Site ", "Intake Date (dd/mm/yyyy)", "Year of birth"],
            ["P-1", "Night Outreach", "Phnom Penh", "01/12/2023", 1990]]
    f = only_file(load_files([write_xlsx(tmp_path / "A_x.xlsx", {"Anything": rows})]))
    assert f.tables["participants"]["intake_date"].iloc[0] == dt.datetime(2023, 12, 1)


@pytest.mark.parametrize("raw, expected", [
    (dt.datetime(2024, 3, 5), dt.date(2024, 3, 5)),
    (45356, dt.date(2024, 3, 5)),                  # an Excel serial number
    ("05/03/2024", dt.date(2024, 3, 5)),           # day first
    ("5/3/24", dt.date(2024, 3, 5)),
    ("2024-03-05", dt.date(2024, 3, 5)),
    ("5 March 2024", dt.date(2024, 3, 5)),
    ("Mar 2024", dt.date(2024, 3, 1)),             # month only: the first of the month
    ("០៥/០៣/២០២៤", dt.date(2024, 3, 5)),           # Khmer digits
])
def test_date_forms(tmp_path, raw, expected):
    rows = [PARTICIPANT_HEADER, participant("P-1", raw)]
    f = only_file(load_files([write_xlsx(tmp_path / "A_x.xlsx", {"S": rows})]))
    assert f.issues == []
    assert f.tables["participants"]["intake_date"].iloc[0].date() == expected


def test_bad_dates_are_reported_with_excel_row(tmp_path):
    rows = [["title"], PARTICIPANT_HEADER, participant("P-1", "30/02/2024"),
            participant("P-2", "someday"), participant("P-3", "01/01/2024")]
    result = load_files([write_xlsx(tmp_path / "A_x.xlsx", {"S": rows})])
    f = only_file(result)
    assert [(i.row, i.column, i.value) for i in f.issues] == [
        (3, "Intake Date", "30/02/2024"), (4, "Intake Date", "someday")]
    assert "date" in f.issues[0].problem
    assert_accounted(result)


def test_amounts_currency_marks_and_riel(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPACT_KHR_PER_USD", "4100")
    rows = [["Group ID", "Member ID", "Month", "Deposit (៛)", "Withdrawal", "Currency"],
            ["G1", "M1", "Jan 2024", "41,000", "", ""],        # header mark: riel
            ["G1", "M2", "Jan 2024", "$5.00", "", ""],         # the cell's mark wins
            ["G1", "M3", "Jan 2024", "៤,១០០", "", "KHR"],
            ["G1", "M4", "Jan 2024", 10, 2, "USD"],             # the row's currency beats the header
            ["G1", "M5", "Jan 2024", "8,200 KHR", "", "USD"]]
    f = only_file(load_files([write_xlsx(tmp_path / "A_sav.xlsx", {"Savings": rows})]))
    s = f.tables["savings"]
    assert list(s["deposit"]) == [10.0, 5.0, 1.0, 10.0, 2.0]
    assert list(s["withdrawal"].fillna(0)) == [0, 0, 0, 2.0, 0]


def test_category_typos_and_ambiguity(tmp_path):
    rows = [["Participant ID", "Course", "Course Type", "Start Date", "End Date", "Status"],
            ["P-1", "Sewing", "Vocational", "01/01/2024", "01/03/2024", "Graduted"],
            ["P-1", "Sewing", "vocational", "01/01/2024", "", "បោះបង់"],
            ["P-1", "Sewing", "vocational", "01/01/2024", "", "finished"],
            ["P-1", "Sewing", "life-skills", "01/01/2024", "", "kompung"]]
    reg = [PARTICIPANT_HEADER, participant("P-1")]
    result = load_files([write_xlsx(tmp_path / "A_x.xlsx", {"Reg": reg, "Enr": rows})])
    e = result.table("enrollments")
    assert list(e["status"]) == ["graduated", "dropped_out"]
    problems = [i.problem for i in result.issues]
    assert len(problems) == 2 and all("enrolled, graduated, dropped_out" in p for p in problems)
    assert_accounted(result)


def test_booleans_in_every_form_and_tick_columns(tmp_path):
    header = ["Participant ID", "Course", "Course Type", "Start Date", "Status", "Scholarship"]
    values = ["Yes", "N", "TRUE", 0, "ចាស", "ទេ", "✓", ""]
    rows = [header] + [["P-1", "Sewing", "vocational", "01/01/2024", "enrolled", v] for v in values]
    reg = [PARTICIPANT_HEADER, participant("P-1")]
    f = only_file(load_files([write_xlsx(tmp_path / "A_x.xlsx", {"Reg": reg, "Enr": rows})]))
    assert list(f.tables["enrollments"]["scholarship"]) == [True, False, True, False, True, False, True, False]


def test_hidden_sheet_is_read_and_pivot_is_not_data(tmp_path):
    pivot = [["Row Labels", "Count of Participant ID"], ["Night Outreach", 3], ["Grand Total", 3]]
    path = write_xlsx(tmp_path / "A_x.xlsx", {"Read me": [["Fill one row per woman"]], "Pivot": pivot,
                                              "Old": [PARTICIPANT_HEADER, participant("P-9")]},
                      hidden=("Pivot", "Old"))
    f = only_file(load_files([path]))
    kinds = {s.sheet: (s.table, s.hidden) for s in f.sheets}
    assert kinds == {"Read me": (None, False), "Pivot": (None, True), "Old": ("participants", True)}
    assert list(f.tables["participants"]["participant_id"]) == ["P-9"]


def test_merged_cells_fill_down(tmp_path):
    rows = [["Group ID", "Group type", "Member ID", "Month", "Deposit"],
            ["G1", "karaoke workers", "M1", "Jan 2024", 1],
            [None, None, "M2", "Jan 2024", 2],
            [None, None, "M3", "Jan 2024", 3]]
    path = write_xlsx(tmp_path / "A_x.xlsx", {"S": rows}, merges={"S": ["A2:A4", "B2:B4"]})
    s = only_file(load_files([path])).tables["savings"]
    assert list(s["group_id"]) == ["G1"] * 3 and list(s["group_type"]) == ["karaoke workers"] * 3


def test_merged_header_cells(tmp_path):
    rows = [["Participant register", None, None, None, None],
            ["Participant ID", "Program", "Site", "Intake Date", None],
            ["P-1", "Night Outreach", "Phnom Penh", "01/01/2024", "02/01/2024"]]
    path = write_xlsx(tmp_path / "A_x.xlsx", {"S": rows}, merges={"S": ["A1:E1", "D2:E2"]})
    f = only_file(load_files([path]))
    assert f.sheets[0].header_row == 2 and len(f.tables["participants"]) == 1


def test_validation_rules(tmp_path):
    reg = [PARTICIPANT_HEADER, participant("P-1"), participant("P-1"), ["", "Night Outreach", "Phnom Penh",
                                                                       "01/01/2024", 1999, "", ""]]
    enr = [["Participant ID", "Course", "Course Type", "Start Date", "End Date", "Status"],
           ["P-1", "Sewing", "vocational", "01/03/2024", "01/02/2024", "graduated"],
           ["P-404", "Sewing", "vocational", "01/03/2024", "", "enrolled"]]
    sav = [["Group", "Member", "Month", "Deposit", "Withdrawal"], ["G", "P-1", "Jan 2024", -5, ""]]
    result = load_files([write_xlsx(tmp_path / "A_x.xlsx", {"Reg": reg, "Enr": enr, "Sav": sav})])
    problems = {(i.sheet, i.row): i.problem for i in result.issues}
    assert "already registered" in problems[("Reg", 3)] and "row 2" in problems[("Reg", 3)]
    assert "required" in problems[("Reg", 4)]
    assert "start" in problems[("Enr", 2)]
    assert "not a registered participant of A" in problems[("Enr", 3)]
    assert "0 or more" in problems[("Sav", 2)]
    assert_accounted(result)
    assert result.summary()["rows_loaded"] == 1


def test_references_can_come_from_the_store(tmp_path):
    fu = [["Participant ID", "Follow-up date", "Employment status"], ["P-7", "01/05/2024", "studying"]]
    path = write_xlsx(tmp_path / "A_fu.xlsx", {"Follow-ups": fu})
    assert load_files([path]).summary()["rows_rejected"] == 1
    assert load_files([path], known_participants={("A", "P-7")}).summary()["rows_loaded"] == 1


def test_missing_required_column_rejects_rows_with_a_reason(tmp_path):
    rows = [["Participant ID", "Program", "Intake Date"], ["P-1", "Night Outreach", "01/01/2024"]]
    result = load_files([write_xlsx(tmp_path / "A_x.xlsx", {"S": rows})])
    (issue,) = result.issues
    assert issue.column == "site" and "no site column" in issue.problem
    assert_accounted(result)


def test_identifiers_dropped_by_header_and_content(tmp_path):
    rows = [PARTICIPANT_HEADER + ["Full name", "Contact", "Remarks"],
            participant("P-1") + ["Sok Dara", "012 345 678", "ok"],
            participant("P-2") + ["Chan Sreymom", "+855 97 765 4321", "ok"],
            participant("P-3") + ["Keo Malis", "(088) 111-2222", "ok"]]
    f = only_file(load_files([write_xlsx(tmp_path / "A_x.xlsx", {"S": rows})]))
    reasons = {d.column: d.reason for d in f.dropped_columns}
    assert reasons["Full name"].startswith("name") and reasons["Contact"].startswith("phone")
    assert "not stored" in reasons["Remarks"]
    assert "Sok Dara" not in f.tables["participants"].to_string()


def test_names_typed_into_the_id_column_are_not_stored(tmp_path):
    rows = [PARTICIPANT_HEADER] + [participant(n) for n in ("Sok Dara", "Chan Sreymom", "Keo Malis")]
    result = load_files([write_xlsx(tmp_path / "A_x.xlsx", {"S": rows})])
    assert result.summary()["rows_loaded"] == 0
    assert result.dropped_columns[0].reason.startswith("name")
    assert all("Sok" not in i.value for i in result.issues)
    assert_accounted(result)


@pytest.mark.parametrize("writer, suffix", [(write_xlsxwriter, ".xlsx"), (write_ods, ".ods"), (write_xls, ".xls")])
def test_every_format(tmp_path, writer, suffix):
    rows = [["Activities 2024"], [], ["Activity Date", "Site", "Activity Type", "Reached", "New contacts"],
            ["06/01/2024", "Phnom Penh", "Night outreach visit", "1,400", 3],
            ["07/01/2024", "Phnom Penh", "radio call-in", "៣៧", 0],
            ["Total", None, None, 1437, 3]]
    f = only_file(load_files([writer(tmp_path / f"A_act{suffix}", {"Activities": rows})]))
    a = f.tables["activities"]
    assert list(a["reached"]) == [1400, 37] and list(a["activity_type"]) == ["night_outreach_visit", "radio_callin"]
    assert f.sheets[0].rows_skipped == 3


def test_ods_date_cells(tmp_path):
    """An .ods keeps dates as date cells (LibreOffice's own format; the demo writes none)."""
    rows = [PARTICIPANT_HEADER, participant("P-1", intake=dt.date(2024, 3, 15)),
            participant("P-2", intake=dt.datetime(2024, 3, 16))]
    f = only_file(load_files([write_ods(tmp_path / "A_reg.ods", {"Register": rows})]))
    assert list(f.tables["participants"]["intake_date"]) == [dt.datetime(2024, 3, 15), dt.datetime(2024, 3, 16)]
    assert f.issues == []


@pytest.mark.parametrize("bom, delimiter", [(True, ","), (False, ","), (False, ";")])
def test_csv(tmp_path, bom, delimiter):
    rows = [["LBC activities (export)", "", ""], ["Activity Date", "Site", "Activity Type"],
            ["06/01/2024", "Phnom Penh", "Awareness course"], ["Total", "", ""]]
    f = only_file(load_files([write_csv(tmp_path / "A_act.csv", rows, bom, delimiter)]))
    assert len(f.tables["activities"]) == 1 and f.issues == []


def test_a_participant_in_several_files_and_folder_loading(tmp_path):
    write_xlsx(tmp_path / "A_one.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1")]})
    write_xlsx(tmp_path / "A_two.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1", site="Kampot")]})
    (tmp_path / "~$A_one.xlsx").write_bytes(b"lock file")     # Excel's lock files are not data
    result = load_files([tmp_path])
    assert [f.file_name for f in result.files] == ["A_one.xlsx", "A_two.xlsx"]
    assert len(result.table("participants")) == 2   # one per source; the store merges them


def test_organization_column_and_chosen_organization(tmp_path):
    rows = [PARTICIPANT_HEADER + ["Organization"], participant("P-1") + ["KWCD"], participant("P-2") + [""]]
    path = write_xlsx(tmp_path / "register.xlsx", {"S": rows})
    f = only_file(load_files([path], organization="SRP"))
    assert f.organization == "SRP"
    assert list(f.tables["participants"]["organization"]) == ["KWCD", "SRP"]
    assert only_file(load_files([path])).organization == "KWCD"


def _every_cell_kind(path: Path) -> Path:
    """An .xlsx (xlsxwriter, which stores formulas' cached values) with one cell of each kind
    fastexcel writes as its own text, from C3 so the grid must still start at A1."""
    wb = xlsxwriter.Workbook(path)
    ws, day = wb.add_worksheet("Kinds"), wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write_row(2, 2, ["kind", "merged into"])
    ws.write_datetime(3, 2, dt.datetime(2024, 3, 15), day)
    ws.write_datetime(4, 2, dt.datetime(2024, 3, 15, 13, 45, 10), day)
    ws.write_datetime(5, 2, dt.time(13, 45), wb.add_format({"num_format": "hh:mm"}))
    ws.write_number(6, 2, 12)
    ws.write_number(7, 2, 12.5)
    ws.write_boolean(8, 2, True)
    ws.write_formula(9, 2, "=NA()", None, "#N/A")
    ws.write_formula(10, 2, "=1/0", None, "#DIV/0!")
    ws.write_formula(11, 2, "=1+2", None, 3)
    ws.write_string(12, 2, "x" * 32_767)
    ws.write_rich_string(13, 2, "ab", wb.add_format({"bold": True}), "cd")
    ws.write_string(14, 2, "  2024-03-15 ")
    ws.merge_range("C16:D16", "merged")
    wb.close()
    return path


def test_xlsx_cells_of_every_kind_read_as_seen(tmp_path):
    """fastexcel writes dates as `2024-03-15 00:00:00`, times on Excel's day 0, and reports
    error cells aside: the grid holds what the field team sees, nothing emptied or shifted."""
    sheet, = read_workbook(_every_cell_kind(tmp_path / "A_kinds.xlsx").read_bytes(), "A_kinds.xlsx")
    assert sheet.rows[:2] == [[""] * 4] * 2
    assert [row[2] for row in sheet.rows[2:]] == [
        "kind", dt.date(2024, 3, 15), dt.datetime(2024, 3, 15, 13, 45, 10), dt.time(13, 45), "12", "12.5",
        "true", "#N/A", "#DIV/0!", "3", "x" * 32_767, "abcd", "  2024-03-15 ", "merged"]
    assert sheet.rows[-1][3] == "merged"


def test_xlsx_error_and_number_cells_in_the_issue_report(tmp_path):
    """An error cell is a problem the team can see (#N/A), not a blank; a number cell reads
    12, never 12.0, and a date cell dd/mm/yyyy."""
    path = tmp_path / "A_x.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("S")
    ws.write_row(0, 0, PARTICIPANT_HEADER)
    ws.write_row(1, 0, participant("P-1"))
    ws.write_formula(1, 3, "=NA()", None, "#N/A")
    ws.write_row(2, 0, participant("P-2"))
    ws.write_number(2, 5, 12)
    ws.write_row(3, 0, participant("P-3"))
    ws.write_datetime(3, 4, dt.datetime(2024, 3, 15), wb.add_format({"num_format": "dd/mm/yyyy"}))
    wb.close()
    result = load_files([path])
    assert [(i.row, i.column, i.value) for i in result.issues] == [
        (2, "Intake Date", "#N/A"), (3, "Referral Source", "12"), (4, "Birth Year", "15/03/2024")]
    assert_accounted(result)


def test_a_repeated_label_is_one_object_and_an_id_column_stays_whole(tmp_path):
    """A column of few labels (a program) shares one Python object per label, so a big sheet
    does not hold 100,000 copies of 'Night Outreach'; a column of distinct ids reads whole."""
    rows = [["Participant ID", "Program", "Intake date"]] + [
        [f"P-{i}", "Night Outreach" if i % 3 else "Empowerment Training", f"{i % 28 + 1:02d}/03/2024"]
        for i in range(1500)]
    path = write_xlsxwriter(tmp_path / "KWCD_big.xlsx", {"Participants": rows})
    sheet, = read_workbook(path.read_bytes(), path.name)
    ids, programs = sheet.columns[0], sheet.columns[1]
    assert ids == [r[0] for r in rows]
    assert programs == [r[1] for r in rows]
    assert len({id(cell) for cell in programs[1:]}) == 2


def test_ids_with_odd_whitespace_and_totals_with_spaces_read_as_typed_one_by_one(tmp_path):
    """The bulk paths of a big sheet (plain ASCII kept by Arrow, the totals pre-test) on a
    workbook of the odd cells field teams type: a non-breaking space, padding, a control
    character Python counts as whitespace, a padded "  TOTAL:" and a Khmer total."""
    rows = [["Participant ID ¹", "Program†", "Site:", "Intake Date (1)"],
            ["P\u00a01", "Night Outreach", "Poipet", "01/03/2024"], ["  P-2 ", "Night Outreach", "Poipet", "02/03/2024"],
            ["P-3\x1f", "Night Outreach", "Poipet", "03/03/2024"], ["P  4", "Night Outreach", "Poipet", "04/03/2024"],
            ["  TOTAL:", 4, "", ""], ["សរុប", 4, "", ""]]
    path = write_xlsxwriter(tmp_path / "KWCD_odd.xlsx", {"Register": rows})
    result = load_files([path])
    assert_accounted(result)
    f = only_file(result)
    assert f.tables["participants"]["participant_id"].tolist() == ["P 1", "P-2", "P-3", "P 4"]
    assert (f.rows_loaded, f.rows_rejected, f.rows_skipped) == (4, 0, 2)
