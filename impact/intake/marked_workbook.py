"""The field team's own workbook handed back with every problem marked where it is.

An M&E officer fixes a file faster when the problem is shown in the file: each problem cell
is filled light red and carries a comment saying what is wrong, and a first sheet "Issues"
lists them all with a link to the cell. The copy is rebuilt from the grids the loader read
(any input format: .xlsx, .xls, .ods, .csv), so every row keeps its Excel row number and
every sheet its name; formatting, formulas and charts of the original are not kept (a cell
holds the value the loader saw).

Nothing a field file holds is ever run as a formula: text cells are written as text
(xlsxwriter with `strings_to_formulas` off), and in the Issues sheet a value that looks like a
formula also carries Excel's quote-prefix flag, as in every export (`impact.exports`).
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections import defaultdict

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from impact.contract.aliases import compact
from impact.intake.cleaning import as_text, is_blank
from impact.exports import looks_like_formula
from impact.intake.load_report import Issue, SheetReport
from impact.intake.reading import read_workbook

ISSUE_SHEET = "Issues"
ISSUE_COLUMNS = ("file", "sheet", "row", "column", "value", "problem", "cell")
FILL = "#FFC7CE"        # Excel's own "light red fill"
FONT = "#9C0006"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_FORMATS = {dt.datetime: "dd/mm/yyyy hh:mm", dt.date: "dd/mm/yyyy", dt.time: "hh:mm:ss",
            dt.timedelta: "[h]:mm:ss"}


def marked_workbook(content: bytes, file_name: str, issues: list[Issue],
                    sheets: list[SheetReport]) -> bytes:
    """An .xlsx copy of `content` with each issue's cell filled light red and commented, and
    a first sheet listing every issue. `sheets` are the load's sheet reports (header row and
    how each column was understood), used to find the cell of an issue. Raises
    `impact.intake.reading.UnreadableFile` when the original cannot be read."""
    grids = read_workbook(content, file_name, typed_cells=True)
    reports = {s.sheet: s for s in sheets}
    names = _sheet_names([g.name for g in grids])
    marks: dict[str, dict[tuple[int, int], list[str]]] = {}
    cells: list[str] = []   # per issue, its A1 cell ("" when its sheet is not in the file)
    for issue in issues:
        grid = next((g for g in grids if g.name == issue.sheet), None)
        if grid is None or issue.row < 1:
            cells.append("")
            continue
        column = _issue_column(grid.rows, reports.get(issue.sheet), issue)
        marks.setdefault(issue.sheet, defaultdict(list))[(issue.row - 1, column)].append(comment_text(issue))
        cells.append(xl_rowcol_to_cell(issue.row - 1, column))

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False, "nan_inf_to_errors": True})
    formats = _Formats(workbook)
    _write_issue_sheet(workbook, formats, _issue_sheet_name(names.values()), issues, cells, names)
    for grid in grids:
        sheet_marks = marks.get(grid.name, {})
        ws = workbook.add_worksheet(names[grid.name])
        if grid.hidden and not sheet_marks:   # a hidden sheet with problems is shown
            ws.hide()
        widths: dict[int, int] = {}
        for r, row in enumerate(grid.rows):
            for c, value in enumerate(row):
                notes = sheet_marks.get((r, c)) if sheet_marks else None
                if value.__class__ is str and value and not notes:   # most cells: plain text
                    ws.write_string(r, c, value)
                else:
                    _write_cell(ws, formats, r, c, value, bool(notes))
                if notes:
                    ws.write_comment(r, c, "\n".join(notes), {"author": "impact", "x_scale": 2.2,
                                                              "y_scale": 1 + 0.6 * len(notes)})
                if r < 200 and not is_blank(value):
                    widths[c] = max(widths.get(c, 0), len(as_text(value)))
        for c, width in widths.items():
            ws.set_column(c, c, min(max(width + 2, 8), 50))
    workbook.close()
    return buffer.getvalue()


def comment_text(issue: Issue) -> str:
    """The problem in plain words, as the cell comment shows it."""
    found = f"\nFound: {issue.value}" if issue.value else ""
    return f"{issue.column}: {issue.problem}.{found}"


def _issue_column(rows: list[list], report: SheetReport | None, issue: Issue) -> int:
    """The grid column of an issue: its header as written in the header row (or the header
    the canonical name was read from); the row's first cell for a missing column."""
    header_index = (report.header_row - 1) if report and report.header_row else None
    if header_index is None or header_index >= len(rows):
        return 0
    header = [as_text(c) for c in rows[header_index]]
    wanted = [issue.column]
    if report.columns.get(issue.column):
        wanted.append(report.columns[issue.column])
    for text in wanted:
        if text in header:
            return header.index(text)
    keys = [compact(h) for h in header]
    for text in wanted:
        if compact(text) and compact(text) in keys:
            return keys.index(compact(text))
    # A column the sheet does not have: the table's first cell on that row.
    return next((i for i, h in enumerate(header) if h), 0)


def _sheet_names(names: list[str]) -> dict[str, str]:
    """Each sheet's own name where Excel allows it (a CSV's file name may not)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        safe = _BAD_SHEET_CHARS.sub("_", name).strip("'")[:31] or "Sheet"
        candidate, n = safe, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{safe[:27]} ({n})"
        used.add(candidate.lower())
        out[name] = candidate
    return out


def _issue_sheet_name(taken) -> str:
    """'Issues', unless the field team's file already has a sheet of that name."""
    taken = {t.lower() for t in taken}
    name, n = ISSUE_SHEET, 1
    while name.lower() in taken:
        n += 1
        name = f"{ISSUE_SHEET} ({n})"
    return name


class _Formats:
    def __init__(self, workbook):
        self.workbook, self.cache = workbook, {}

    def get(self, kind: type | None, marked: bool = False, **extra):
        key = (kind, marked, tuple(sorted(extra.items())))
        if key not in self.cache:
            props = dict(extra)
            if kind in _FORMATS:
                props["num_format"] = _FORMATS[kind]
            if marked:
                props.update(bg_color=FILL, font_color=FONT)
            self.cache[key] = self.workbook.add_format(props) if props else None
        return self.cache[key]


def _write_cell(ws, formats: _Formats, r: int, c: int, value, marked: bool) -> None:
    if value is None or (isinstance(value, str) and value == ""):
        if marked:
            ws.write_blank(r, c, None, formats.get(None, True))
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value, formats.get(None, marked))
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            ws.write_string(r, c, str(value), formats.get(None, marked))
        else:
            ws.write_number(r, c, value, formats.get(None, marked))
    elif isinstance(value, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        kind = next(k for k in _FORMATS if isinstance(value, k))
        ws.write_datetime(r, c, value, formats.get(kind, marked))
    else:
        ws.write_string(r, c, str(value), formats.get(None, marked))


def _write_issue_sheet(workbook, formats: _Formats, name: str, issues: list[Issue], cells: list[str],
                       names: dict[str, str]) -> None:
    ws = workbook.add_worksheet(name)
    ws.activate()
    frame = pd.DataFrame([(i.file, i.sheet, i.row, i.column, i.value, i.problem) for i in issues],
                         columns=list(ISSUE_COLUMNS[:-1]))
    bold = formats.get(None, bold=True)
    for c, title in enumerate(ISSUE_COLUMNS):
        ws.write_string(0, c, title, bold)
    link = formats.get(None, font_color="blue", underline=1)
    for r, (row, issue, cell) in enumerate(zip(frame.itertuples(index=False), issues, cells), 1):
        for c, value in enumerate(row):
            if isinstance(value, str):
                ws.write_string(r, c, value, formats.get(None, quote_prefix=True) if looks_like_formula(value) else None)
            else:
                ws.write_number(r, c, int(value))
        if cell:
            target = names[issue.sheet].replace("'", "''")
            ws.write_url(r, len(ISSUE_COLUMNS) - 1, f"internal:'{target}'!{cell}", link, string=cell)
    for c, width in enumerate((24, 18, 6, 20, 22, 60, 8)):
        ws.set_column(c, c, width)
    if issues:
        ws.autofilter(0, 0, len(issues), len(ISSUE_COLUMNS) - 1)
    ws.freeze_panes(1, 0)
