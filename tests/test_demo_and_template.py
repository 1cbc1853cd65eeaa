"""The demo workbooks (impact.demo.generate) and the blank template (impact.intake.template)."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from impact.demo.generate import (
    BAD,
    FILES,
    IMPOSSIBLE_DATES,
    NETWORK_FILES,
    ORGS,
    UNKNOWN,
    write_demo_workbooks,
)
from impact.contract.tables import AT_RISK_WORK_SETTINGS, BOOLEAN, CATEGORY, DATE, INTEGER, TABLES
from impact.intake.template import LAST_ROW, write_template

KHMER = re.compile("[\u1780-\u17ff]")


def _cells(path: Path) -> dict[str, list[list]]:
    """Every sheet of a demo file as the values a reader sees."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            return {path.stem: list(csv.reader(f))}
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wb.sheet_names}


def test_demo_writes_every_file_of_every_organization(demo_workbooks):
    assert [p.name for p in demo_workbooks] == [name for org in ORGS for name in [*FILES[org], *NETWORK_FILES[org]]]
    assert all(p.exists() and p.stat().st_size > 1000 for p in demo_workbooks)
    for org in ORGS:
        assert any(p.name.split("_")[0] == org for p in demo_workbooks)
    assert {p.suffix for p in demo_workbooks} == {".xlsx", ".csv"}
    csv_file = next(p for p in demo_workbooks if p.suffix == ".csv")
    assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf")   # UTF-8 with BOM


def test_demo_is_deterministic_for_a_seed(demo_workbooks, tmp_path):
    again = write_demo_workbooks(tmp_path / "again", seed=7)
    other = write_demo_workbooks(tmp_path / "other", seed=8)
    for a, b in zip(demo_workbooks, again):
        assert a.read_bytes() == b.read_bytes(), a.name   # the same file: a store sees it unchanged
    assert any(_cells(a) != _cells(c) for a, c in zip(demo_workbooks, other))


def test_names_and_phones_are_in_one_workbook_only(demo_workbooks):
    with_pii = [p.name for p in demo_workbooks for rows in _cells(p).values()
                if any("ឈ្មោះ" in row and "លេខទូរស័ព្ទ" in row for row in rows)]
    assert with_pii == ["KWCD_register_2023-2025.xlsx"]


def test_sheets_hidden_pivots_and_merged_savings_cells(demo_workbooks):
    by_name = {p.name: p for p in demo_workbooks}
    wb = openpyxl.load_workbook(by_name["KWCD_register_2023-2025.xlsx"])
    assert wb.sheetnames == ["Instructions", "អ្នកចូលរួម", "Enrollments", "Follow-ups", "Services", "Targets", "Pivot"]
    assert wb["Pivot"].sheet_state == "hidden"
    wb = openpyxl.load_workbook(by_name["CPN_network_data_2025.xlsx"])
    assert len(wb.sheetnames) == 9 and wb["Summary"].sheet_state == "hidden"
    assert wb["ការសន្សំប្រាក់"].merged_cells.ranges
    savings = openpyxl.load_workbook(by_name["KWCD_savings_groups.xlsx"])["ក្រុមសន្សំ"]
    assert len(savings.merged_cells.ranges) > 10   # group id and type, one range per group
    assert len(_cells(by_name["SRP_monitoring_2023-2025.xlsx"])) == 4


def test_several_hundred_participants_per_organization(demo_workbooks):
    for org, cfg in ORGS.items():
        ids = {str(v).strip() for p in demo_workbooks if p.name.startswith(org + "_")
               for rows in _cells(p).values() for row in rows for v in row
               if re.fullmatch(rf"\s*{cfg['prefix']}-[0-7]\d{{3}}\s*", str(v))}
        assert 300 <= len(ids) <= 700, (org, len(ids))


def test_demo_loads_with_only_the_deliberate_bad_rows_rejected(demo_loaded):
    summary = demo_loaded.summary()
    read = summary["rows_loaded"] + summary["rows_rejected"]
    assert 0.005 <= summary["rows_rejected"] / read <= 0.015
    for sheet in (s for f in summary["files"] for s in f["sheets"] if s["table"]):
        n = sheet["rows_read"]   # n - b good rows, b = max(1, round((n - b) / 100)) bad copies
        expected = next(b for b in range(1, n) if b == max(1, round((n - b) / 100))) if sheet["table"] in BAD else 0
        assert sheet["rows_rejected"] == expected, sheet
    assert all(summary["tables"][t] > 0 for t in TABLES)
    prefixes = "|".join(cfg["prefix"] for cfg in ORGS.values())
    for issue in summary["issues"]:
        value = issue["value"].strip()
        assert (value in IMPOSSIBLE_DATES or value in UNKNOWN.values() or value == ""
                or value.lstrip("$៛").startswith("-") or re.fullmatch(rf"({prefixes})-9\d{{3}}", value)), issue
    dropped = {(d["file"], d["column"]) for d in summary["dropped_columns"]}
    assert dropped == {("KWCD_register_2023-2025.xlsx", "ឈ្មោះ"), ("KWCD_register_2023-2025.xlsx", "លេខទូរស័ព្ទ")}
    assert not summary["conflicts"]
    # The programs' own savings figures: 114 of 124 karaoke workers, 40 of 61 women in prostitution.
    savings = demo_loaded.table("savings")
    net = (savings.deposit - savings.withdrawal.fillna(0)).groupby([savings.group_type, savings.member_id]).sum()
    saved = (net > 0).groupby(level=0).agg(["sum", "count"])
    assert saved.loc["karaoke workers"].tolist() == [114, 124]
    assert saved.loc["women in prostitution"].tolist() == [40, 61]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> openpyxl.Workbook:
    path = write_template(tmp_path_factory.mktemp("template") / "template.xlsx")
    return openpyxl.load_workbook(path)


def test_template_has_one_sheet_per_table_with_canonical_headers(template):
    # The indicators are too many for an inline drop-down (255 characters): a hidden list sheet.
    assert template.sheetnames == ["Instructions", *TABLES, "Lists"]
    assert template["Lists"].sheet_state == "hidden"
    for name, table in TABLES.items():
        ws = template[name]
        assert [c.value for c in ws[1]] == table.column_names
        assert ws.max_row == 1 and ws.freeze_panes == "A2"
        assert all(c.font.bold for c in ws[1])


def column(ws, number: int):
    """The declared width and format of a whole column (a writer may declare neighbours as one
    range, which openpyxl keys by its first letter)."""
    return next(d for d in ws.column_dimensions.values() if d.min <= number <= d.max)


def test_template_headers_have_notes_and_category_columns_drop_downs(template):
    for name, table in TABLES.items():
        ws = template[name]
        checks = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
        for j, col in enumerate(table.columns):
            letter = openpyxl.utils.get_column_letter(j + 1)
            note = ws[f"{letter}1"].comment
            assert note is not None and col.description in note.text
            assert ("Required" if col.required else "Optional") in note.text
            check = checks.pop(f"{letter}2:{letter}{LAST_ROW}", None)
            if col.kind == CATEGORY:
                inline = '"' + ",".join(col.categories) + '"'
                if len(inline) <= 255:
                    assert (check.type, check.formula1) == ("list", inline)
                else:   # too long for Excel's inline list: a column of the hidden Lists sheet
                    source = re.fullmatch(r"Lists!\$([A-Z]+)\$1:\$\1\$(\d+)", check.formula1)
                    assert check.type == "list" and source and template["Lists"].sheet_state == "hidden"
                    listed = [c.value for c in template["Lists"][source[1]]]
                    assert listed == list(col.categories) and int(source[2]) == len(listed)
                assert all(c in note.text for c in col.categories)
            elif col.kind == BOOLEAN:
                assert (check.type, check.formula1) == ("list", '"Yes,No"')
            elif col.kind == INTEGER and col.non_negative:
                assert (check.type, check.operator, check.formula1) == ("whole", "greaterThanOrEqual", "0")
            else:
                assert check is None, (name, col.name)
            if check is not None:
                assert (check.showErrorMessage, check.error) == (True, f"Not an allowed value for {col.name}")
            assert column(ws, j + 1).number_format == ("DD/MM/YYYY" if col.kind == DATE else "General"), col.name
        assert not checks   # none on a column that has no header


def test_template_instructions_are_in_english_and_khmer(template):
    info = template["Instructions"]
    text = " ".join(str(v) for row in info.iter_rows(values_only=True) for v in row if v)
    assert KHMER.search(text) and "dd/mm/yyyy" in text and "phone numbers" in text
    assert all(name in text for name in TABLES)
    cells = [c for row in info.iter_rows() for c in row if c.value]
    assert all(c.alignment.wrap_text and c.alignment.vertical == "top" for c in cells)
    assert all(c.font.bold == (c.row == 1 or c.column == 1) for c in cells)
    assert [column(info, number).width > 60 for number in (1, 2, 3)] == [False, True, True]


def test_template_loads_as_empty_tables_without_issues(tmp_path):
    loading = pytest.importorskip("impact.intake.parsing")
    summary = loading.load_files([write_template(tmp_path / "template.xlsx")]).summary()
    assert summary["rows_loaded"] == summary["rows_rejected"] == 0 and not summary["issues"]


def test_demo_proportions_are_plausible(demo_loaded):
    people, courses, checks = (demo_loaded.table(t) for t in ("participants", "enrollments", "followups"))
    for org in ORGS:
        e = courses[courses.organization == org]
        life = e[(e.course_type == "life_skills") & e.status.isin(["graduated", "dropped_out"])]
        graduated = set(life.participant_id[life.status == "graduated"])
        assert 0.7 <= len(graduated) / len(life) <= 0.9, org
        further = set(e.participant_id[e.course_type != "life_skills"])
        assert 0.15 <= len(graduated & further) / len(graduated) <= 0.3, org
        p = people[(people.organization == org) & people.work_setting.isin(AT_RISK_WORK_SETTINGS)]
        f = checks[(checks.organization == org) & checks.participant_id.isin(p.participant_id)
                   & (checks.employment_status != "unknown")]
        latest = f.sort_values("followup_date").groupby("participant_id").employment_status.last()
        assert 0.5 <= (latest != "entertainment_work").mean() <= 0.75, org
