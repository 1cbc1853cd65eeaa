"""Writers for the real spreadsheets the tests build: openpyxl, xlsxwriter, odf, xlwt, csv."""
from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import xlsxwriter
import xlwt

PARTICIPANT_HEADER = ["Participant ID", "Program", "Site", "Intake Date", "Birth Year",
                      "Referral Source", "Work Setting"]


def participant(pid: str, intake: object = "15/03/2024", site: str = "Phnom Penh",
                work: str = "karaoke") -> list:
    return [pid, "Night Outreach", site, intake, 1998, "night outreach", work]


def write_xlsx(path: Path, sheets: dict[str, list[list]], hidden: tuple[str, ...] = (),
               merges: dict[str, list[str]] | None = None) -> Path:
    """openpyxl workbook, one sheet per entry; `merges` are A1 ranges per sheet."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merges or {}).get(name, []):
            ws.merge_cells(rng)
        if name in hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def _write_cells(sheet, rows: list[list]) -> None:
    """Cell by cell, for the writers (xlsxwriter, xlwt) that take `write(row, col, value)`."""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)


def write_xlsxwriter(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        _write_cells(wb.add_worksheet(name), rows)
    wb.close()
    return path


def write_ods(path: Path, sheets: dict[str, list[list]]) -> Path:
    with pd.ExcelWriter(path, engine="odf") as writer:
        for name, rows in sheets.items():
            width = max(map(len, rows))
            padded = [list(r) + [None] * (width - len(r)) for r in rows]
            pd.DataFrame(padded).to_excel(writer, sheet_name=name, header=False, index=False)
    return path


def write_xls(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = xlwt.Workbook()
    for name, rows in sheets.items():
        _write_cells(wb.add_sheet(name), rows)
    wb.save(str(path))
    return path


def write_csv(path: Path, rows: list[list], bom: bool = True, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path
