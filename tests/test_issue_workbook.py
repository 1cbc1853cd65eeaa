"""The marked copy of a field workbook: problem cells filled and commented, an Issues sheet."""
from __future__ import annotations

import io

import openpyxl
import pytest

from impact.intake.marked_workbook import FILL, ISSUE_COLUMNS, marked_workbook
from impact.intake.parsing import load_contents
from impact.intake.reading import UnreadableFile
from tests.workbooks import PARTICIPANT_HEADER, participant, write_csv, write_xls

EVIL = '=HYPERLINK("http://evil.example","click")'
FILE = "KWCD_Pouk.xlsx"


def field_workbook() -> bytes:
    """A title row, the header on row 3, two bad rows (5 and 7) among four; a follow-up sheet
    without its required date column; a merged title; a formula-looking text cell."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Pouk"
    ws.append(["KWCD participants 2024"])
    ws.append([])
    ws.append(PARTICIPANT_HEADER)
    ws.append(participant("PW-1"))
    ws.append(participant("PW-2"))
    ws.append(participant("PW-3"))
    ws.append(participant("PW-4", work="spaceship"))
    ws.append(["Total", 4])
    ws.merge_cells("A1:D1")
    ws["D5"].value = EVIL
    ws["D5"].data_type = "s"       # text that looks like a formula, as a field file may hold
    follow = wb.create_sheet("Follow ups")
    follow.append(["Participant ID", "Employment status", "Income"])
    follow.append(["PW-1", "own business", 100])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def marked(content: bytes, name: str = FILE):
    result = load_contents([(name, content)])
    f = result.files[0]
    out = marked_workbook(content, name, f.issues, f.sheets)
    return f, openpyxl.load_workbook(io.BytesIO(out))


def is_marked(cell) -> bool:
    return cell.fill is not None and cell.fill.fgColor.rgb == "FF" + FILL[1:]


def test_problem_cells_are_filled_and_commented_at_their_excel_address():
    f, wb = marked(field_workbook())
    assert len(f.issues) == 3
    assert wb.sheetnames == ["Issues", "Pouk", "Follow ups"]
    ws = wb["Pouk"]
    # Same rows as the original: title on 1, header on 3, the bad rows 5 and 7.
    assert ws["A1"].value == "KWCD participants 2024"
    assert [c.value for c in ws[3]] == PARTICIPANT_HEADER
    assert is_marked(ws["D5"]) and "Intake Date" in ws["D5"].comment.text
    assert "expected a date" in ws["D5"].comment.text
    assert is_marked(ws["G7"]) and "spaceship" in ws["G7"].comment.text
    assert "expected one of karaoke" in ws["G7"].comment.text
    marked_cells = {(c.row, c.column_letter) for row in ws.iter_rows() for c in row if is_marked(c)}
    assert marked_cells == {(5, "D"), (7, "G")}
    assert {(c.row, c.column_letter) for row in ws.iter_rows() for c in row if c.comment} == {(5, "D"), (7, "G")}
    # A missing column is one sheet-level issue, marked on the header row's first cell.
    follow = wb["Follow ups"]
    assert is_marked(follow["A1"]) and "no followup_date column" in follow["A1"].comment.text
    assert not is_marked(follow["A2"]) and not is_marked(follow["B1"])


def test_issue_sheet_lists_every_issue_and_formulas_stay_text():
    _, wb = marked(field_workbook())
    rows = list(wb["Issues"].iter_rows(values_only=True))
    assert rows[0] == ISSUE_COLUMNS
    listed = [r[:6] for r in rows[1:]]
    assert [(r[0], r[1], r[2], r[3]) for r in listed] == [
        (FILE, "Follow ups", 1, "followup_date"), (FILE, "Pouk", 5, "Intake Date"), (FILE, "Pouk", 7, "Work Setting")]
    assert [r[6] for r in rows[1:]] == ["A1", "D5", "G7"]
    assert wb["Issues"]["G3"].hyperlink.location == "'Pouk'!D5"
    # The value is listed as found, flagged as text, and never a formula anywhere.
    assert listed[1][4] == EVIL
    assert wb["Issues"]["E3"].data_type == "s" and wb["Issues"]["E3"].quotePrefix
    assert wb["Pouk"]["D5"].value == EVIL and wb["Pouk"]["D5"].data_type == "s"
    for ws in wb.worksheets:
        assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_numbers_stay_numbers_in_the_marked_copy():
    """The load reads an .xlsx's numbers as text (fastexcel); the copy keeps them numbers."""
    _, wb = marked(field_workbook())
    assert wb["Pouk"]["E4"].value == 1998 and wb["Pouk"]["E4"].data_type == "n"
    assert wb["Follow ups"]["C2"].value == 100


def test_other_formats_keep_their_rows(tmp_path):
    rows = [["Participants of Pouk"], PARTICIPANT_HEADER, participant("PW-1"),
            participant("PW-2", intake="31/31/2024")]
    csv_file = write_csv(tmp_path / "KWCD_Pouk.csv", rows)
    _, wb = marked(csv_file.read_bytes(), csv_file.name)
    assert wb.sheetnames == ["Issues", "KWCD_Pouk"]
    assert is_marked(wb["KWCD_Pouk"]["D4"]) and wb["KWCD_Pouk"]["A4"].value == "PW-2"
    xls = write_xls(tmp_path / "KWCD_Pouk.xls", {"Issues": rows})   # a sheet already named Issues
    _, wb = marked(xls.read_bytes(), xls.name)
    assert wb.sheetnames == ["Issues (2)", "Issues"]
    assert is_marked(wb["Issues"]["D4"])
    assert wb["Issues (2)"]["A2"].value == xls.name


def test_a_clean_file_gives_an_empty_issue_list_and_unreadable_raises():
    content = field_workbook()
    out = openpyxl.load_workbook(io.BytesIO(marked_workbook(content, FILE, [], [])))
    assert [r for r in out["Issues"].iter_rows(values_only=True)] == [ISSUE_COLUMNS]
    assert not any(is_marked(c) for row in out["Pouk"].iter_rows() for c in row)
    with pytest.raises(UnreadableFile):
        marked_workbook(b"not a workbook", FILE, [], [])
