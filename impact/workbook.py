"""Reading field files into plain grids of cells, every sheet, hidden ones too.

One engine (python-calamine, a Rust reader about six times faster than openpyxl) reads
.xlsx, .xls and .ods; CSV goes through the standard library. Merged cells are filled in
here, so the rest of the loader sees the value a person sees in every covered cell.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree

from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_ODS_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


class UnreadableFile(Exception):
    """A file that cannot be read at all; its message is one line for the field team."""


@dataclass
class Sheet:
    name: str
    rows: list[list] = field(default_factory=list)   # rows[0] is Excel row 1
    hidden: bool = False


def read_workbook(content: bytes, file_name: str) -> list[Sheet]:
    """Every sheet of a file as a rectangular grid; raises UnreadableFile with a clear message."""
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if not content:
        raise UnreadableFile(f"{file_name}: the file is empty")
    if suffix not in SPREADSHEET_SUFFIXES:
        raise UnreadableFile(f"{file_name}: not a spreadsheet (expected .xlsx, .xls, .ods or .csv)")
    if suffix == ".csv":
        return [_read_csv(content, file_name)]
    if content.startswith(_OLE_MAGIC) and _ENCRYPTED_STREAM in content:
        raise UnreadableFile(f"{file_name}: the workbook is password-protected; save it without a password and upload again")
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        ods_merges = _ods_merges(content) if suffix == ".ods" else None
        sheets = []
        for meta in workbook.sheets_metadata:
            sheet = workbook.get_sheet_by_name(meta.name)
            rows = sheet.to_python(skip_empty_area=False)
            merges = ods_merges.get(meta.name) if ods_merges is not None else sheet.merged_cell_ranges
            sheets.append(Sheet(meta.name, _fill_merges(_rectangular(rows), merges or []),
                                hidden=meta.visible != SheetVisibleEnum.Visible))
        return sheets
    except (CalamineError, zipfile.BadZipFile, ElementTree.ParseError, ValueError, OSError) as exc:
        kind = "password-protected" if "password" in str(exc).lower() or "encrypt" in str(exc).lower() \
            else "damaged or not really a spreadsheet"
        raise UnreadableFile(f"{file_name}: the workbook could not be read ({kind})") from exc


def _read_csv(content: bytes, file_name: str) -> Sheet:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{file_name}: not UTF-8 text; save the CSV as 'CSV UTF-8'") from exc
    if "\x00" in text:
        raise UnreadableFile(f"{file_name}: not a text CSV file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
    return Sheet(file_name.rsplit(".", 1)[0], _rectangular(rows))


def _rectangular(rows: list[list]) -> list[list]:
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) if len(r) < width else r for r in rows]


def _fill_merges(rows: list[list], merges) -> list[list]:
    """Copy a merged range's value into every cell it covers (group ids merged down a group)."""
    width = len(rows[0]) if rows else 0
    for (r0, c0), (r1, c1) in merges:
        if r0 >= len(rows) or c0 >= width:
            continue
        rows.extend([""] * width for _ in range(r1 + 1 - len(rows)))   # readers trim covered rows
        value = rows[r0][c0]
        for r in range(r0, r1 + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                if rows[r][c] in ("", None):
                    rows[r][c] = value
    return rows


def _ods_merges(content: bytes) -> dict[str, list]:
    """Merged ranges of each sheet of an .ods file (calamine does not report them)."""
    table, span_rows, span_cols, rep_rows, rep_cols = (
        f"{{{_ODS_NS}}}{n}" for n in ("table", "number-rows-spanned", "number-columns-spanned",
                                     "number-rows-repeated", "number-columns-repeated"))
    cell_tags = {f"{{{_ODS_NS}}}table-cell", f"{{{_ODS_NS}}}covered-table-cell"}
    out: dict[str, list] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as z, z.open("content.xml") as xml:
        row = col = 0
        name = None
        for event, el in ElementTree.iterparse(xml, events=("start", "end")):
            if event == "start" and el.tag == table:
                name, row = el.get(f"{{{_ODS_NS}}}name"), 0
                out[name] = []
            elif event == "start" and el.tag == f"{{{_ODS_NS}}}table-row":
                col = 0
            elif event == "end" and el.tag in cell_tags:
                rs, cs = int(el.get(span_rows, 1)), int(el.get(span_cols, 1))
                if rs > 1 or cs > 1:
                    out[name].append(((row, col), (row + rs - 1, col + cs - 1)))
                col += int(el.get(rep_cols, 1))
                el.clear()
            elif event == "end" and el.tag == f"{{{_ODS_NS}}}table-row":
                row += int(el.get(rep_rows, 1))
                el.clear()
    return out
