"""Reading field files into plain grids of cells, every sheet, hidden ones too.

.xlsx and .xlsm go through fastexcel (the calamine reader with Arrow output, about twice as
fast again as python-calamine: no Python object per cell until the grid is built); .xls and
.ods through python-calamine (a Rust reader about six times faster than openpyxl); CSV
through the standard library. Merged cells are filled in here, so the rest of the loader
sees the value a person sees in every covered cell.
"""
from __future__ import annotations

import _thread
import csv
import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree

import fastexcel
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from impact import config

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_ODS_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_VALUE_TYPE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}value-type"
_XLSX_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="(?:[A-Z]+\d+:)?([A-Z]{1,3})(\d+)"')
_SMALL_PART = 2**20   # parts under 1 MB unpacked are harmless whatever their ratio
_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?"')
# How fastexcel writes a date, time or date-time cell as text; 1899-12-31 is Excel's day 0,
# which a time of day alone (13:45) has.
_FASTEXCEL_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
# ... and an infinite number cell (`inf`, `1e309`), which must be refused as one.
_FASTEXCEL_TYPED = rf"{_FASTEXCEL_DATETIME}|^-?inf$"
_FASTEXCEL_DATETIME_LENGTH = len("2024-03-15 00:00:00")
# Cells of a column looked at to tell ids (mostly distinct) from labels (repeated): `_cells`.
_DISTINCT_SAMPLE = 1000
_EXCEL_DAY_ZERO = "1899-12-31 "
# An error cell (#N/A) is not text to fastexcel: it reports it aside, by calamine's name.
_FASTEXCEL_ERROR = re.compile(r"Error\((\w+)\)")
_ERROR_TEXTS = {"Div0": "#DIV/0!", "NA": "#N/A", "Name": "#NAME?", "Null": "#NULL!", "Num": "#NUM!",
                "Ref": "#REF!", "Value": "#VALUE!", "GettingData": "#GETTING_DATA"}


class UnreadableFile(Exception):
    """A file that cannot be read at all; its message is one line for the field team."""


class Rows(Sequence):
    """A grid kept a column at a time, read a row at a time: rows[0] is Excel row 1. The load
    works on whole columns (no Python list per row of a 100,000-row sheet); finding the
    header and writing a marked copy read rows."""

    def __init__(self, columns: list[list]):
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def __getitem__(self, index: int | slice) -> list:
        if isinstance(index, slice):
            return [list(row) for row in zip(*(column[index] for column in self.columns))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        return [column[index] for column in self.columns]

    def __iter__(self):
        return map(list, zip(*self.columns))


@dataclass
class Sheet:
    name: str
    columns: list[list] = field(default_factory=list)   # columns[c][r]; r = 0 is Excel row 1
    hidden: bool = False

    @property
    def rows(self) -> Rows:
        return Rows(self.columns)


def read_workbook(content: bytes, file_name: str, typed_cells: bool = False) -> list[Sheet]:
    """Every sheet of a file as a rectangular grid; raises UnreadableFile with a clear message.
    The load reads an .xlsx's numbers and booleans as their text (fastexcel, faster);
    `typed_cells` reads them as numbers and booleans (python-calamine), for a copy of the
    file written back as a workbook."""
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
        if zipfile.is_zipfile(io.BytesIO(content)):
            _check_archive(content, file_name)
            if suffix in (".xlsx", ".xlsm") and not typed_cells:
                return _read_xlsx(content)
        ods_merges = _ods_merges(content, file_name) if suffix == ".ods" else None
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheets = []
        for meta in workbook.sheets_metadata:
            sheet = workbook.get_sheet_by_name(meta.name)
            rows = sheet.to_python(skip_empty_area=False)
            merges = ods_merges.get(meta.name) if ods_merges is not None else sheet.merged_cell_ranges
            sheets.append(Sheet(meta.name, _fill_merges(_columns(rows), merges or []),
                                hidden=meta.visible != SheetVisibleEnum.Visible))
        return sheets
    except (CalamineError, fastexcel.FastExcelError, zipfile.BadZipFile, ElementTree.ParseError, ValueError,
            OSError) as exc:
        kind = "password-protected" if "password" in str(exc).lower() or "encrypt" in str(exc).lower() \
            else "damaged or not really a spreadsheet"
        raise UnreadableFile(f"{file_name}: the workbook could not be read ({kind})") from exc


def _read_xlsx(content: bytes) -> list[Sheet]:
    """Every sheet of an .xlsx/.xlsm through fastexcel, each cell as its text (`dtypes="string"`:
    fastexcel's type guessing empties cells that do not fit the guess), from A1 like
    python-calamine's grid; dates and times back as Python values (`_cells`), and an error
    cell as the text Excel shows (#N/A), never emptied. The merged ranges are searched for on
    a second thread meanwhile: fastexcel lets go of the GIL while it parses."""
    reader = fastexcel.read_excel(content)
    merges = _Meanwhile(_xlsx_all_merges, content)
    sheets = []
    for index, name in enumerate(reader.sheet_names):
        sheet = reader.load_sheet(index, header_row=None, dtypes="string", skip_rows=0)
        cells, errors = sheet.to_arrow_with_errors()
        hidden = sheet.visible != "visible"
        first_column = sheet.available_columns()[0].absolute_index if cells.num_columns else 0
        del sheet   # the reader's own copy of the cells, freed before the Python one is made
        columns = [_cells(column) for column in cells.columns]
        del cells
        columns = [[""] * len(columns[0]) for _ in range(first_column)] + columns if columns else []
        for error in errors.errors if errors else ():
            row, column = error.position
            columns[first_column + column][row] = _error_text(error.detail)
        sheets.append(Sheet(name, columns, hidden=hidden))
    merges = merges.result()
    for sheet in sheets:
        _fill_merges(sheet.columns, merges.get(sheet.name, []))
    return sheets


class _Meanwhile:
    """`work(*args)` on a second thread while this one does something else. Started with the
    low-level `_thread`: in a reader child already at its memory limit a new thread can die
    before it runs, and `threading`'s start() would then wait for it forever. Whatever goes
    wrong there (no thread, an error, no answer within `_PATIENCE_S` of asking), `result()`
    does the work itself, so the answer is always the one a plain call gives."""
    _PATIENCE_S = 10.0

    def __init__(self, work, *args):
        self._work, self._args, self._value = work, args, None
        self._done = _thread.allocate_lock()
        self._done.acquire()
        try:
            _thread.start_new_thread(self._run, ())
        except RuntimeError:   # no thread to be had
            self._done.release()

    def _run(self) -> None:
        try:
            self._value = (self._work(*self._args),)
        except BaseException:   # done again, and raised, by result()
            pass
        finally:
            self._done.release()

    def result(self):
        if self._done.acquire(timeout=self._PATIENCE_S) and self._value is not None:
            return self._value[0]
        return self._work(*self._args)


def _xlsx_all_merges(content: bytes) -> dict[str, list[tuple[tuple[int, int], tuple[int, int]]]]:
    """Sheet name -> its merged ranges (`_xlsx_merges`)."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {name: _xlsx_merges(z, part) for name, part in _xlsx_sheet_parts(z).items() if part in z.NameToInfo}


def _cells(column: pa.Array) -> list:
    """One column's cells as python-calamine gives them: an empty cell is "", a date a
    `date` (a `datetime` with its time of day, a `time` alone), an infinite number a float;
    other numbers and booleans stay the text fastexcel wrote (12, 0.5, true), which every
    parser reads like the number or boolean. Converted once per distinct value, and a
    column of few distinct values (a program, a site) shares one Python object per value:
    100,000 copies of 'Night Outreach' would be most of a big sheet's memory."""
    column = column.fill_null("")
    # Only cells of a typed text's length can be one: the pattern runs on those alone.
    length = pc.binary_length(column)
    candidates = pc.filter(column, pc.or_(pc.equal(length, _FASTEXCEL_DATETIME_LENGTH), pc.less_equal(length, 4)))
    typed = pc.any(pc.match_substring_regex(candidates, _FASTEXCEL_TYPED)).as_py()
    sample = column.slice(0, _DISTINCT_SAMPLE)
    if not typed and pc.count_distinct(sample).as_py() * 2 > len(sample):
        return column.to_pylist()   # mostly distinct (ids, phone numbers): a dictionary would not pay
    encoded = column.dictionary_encode()
    values = np.array([_as_value(text) for text in encoded.dictionary.to_pylist()] + [None], dtype=object)
    return values[encoded.indices.to_numpy(zero_copy_only=False)].tolist()


def _error_text(detail: str) -> str:
    """The text Excel shows in an error cell, from fastexcel's report of it."""
    found = _FASTEXCEL_ERROR.search(detail)
    name = found.group(1) if found else "ERROR"
    return _ERROR_TEXTS.get(name, f"#{name.upper()}")


def _as_value(text: str) -> object:
    """fastexcel's text of a date or infinite number cell back as the value python-calamine
    gives; other text as is."""
    if text in ("inf", "-inf"):
        return float(text)
    if not re.fullmatch(_FASTEXCEL_DATETIME, text):
        return text
    moment = dt.datetime.fromisoformat(text)
    if text.startswith(_EXCEL_DAY_ZERO):
        return moment.time()
    return moment.date() if text.endswith(" 00:00:00") else moment


def _xlsx_merges(z: zipfile.ZipFile, part: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """A sheet's merged ranges, ((row, column), (row, column)) 0-based, from the `<mergeCells>`
    after its cells (fastexcel does not report them); the part is unpacked a chunk at a time."""
    merges, tail = [], b""
    with z.open(part) as xml:
        while chunk := xml.read(2**20):
            text = tail + chunk
            end = text.rfind(b"<")   # a tag cut by the chunk's end is searched with the next chunk
            if b"mergeCell" in text:   # a plain search first: the regex is slow on 60 MB of cells
                merges += [m.groups() for m in _MERGE_REF.finditer(text, 0, end if end >= 0 else len(text))]
            tail = text[end:] if end >= 0 else b""
    merges += [m.groups() for m in _MERGE_REF.finditer(tail)]
    return [((int(r0) - 1, _column_number(c0) - 1),
             (int(r1 or r0) - 1, _column_number(c1 or c0) - 1))
            for c0, r0, c1, r1 in merges]


def _column_number(letters: bytes) -> int:
    """A1 column letters as a 1-based number (A: 1, AA: 27)."""
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


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
    try:
        rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
    except csv.Error as exc:   # e.g. one cell longer than csv.field_size_limit()
        raise UnreadableFile(f"{file_name}: not a readable CSV table ({exc}); "
                             f"a cell may be far too long or a quote left open") from exc
    return Sheet(file_name.rsplit(".", 1)[0], _columns(rows))


def _check_archive(content: bytes, file_name: str) -> None:
    """Refuse, before any reader unpacks it, a zipped workbook that would take more memory
    than a field file can need: too big unpacked, a part inflating like a zip bomb, a sheet
    reaching a cell far from its data (python-calamine allocates the whole rectangle up to
    it and aborts the process when it cannot), or a password (.ods keeps it in the manifest)."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        members = z.infolist()
        unpacked = sum(m.file_size for m in members)
        if unpacked > config.max_unpacked_bytes():
            raise UnreadableFile(f"{file_name}: the workbook unpacks to {unpacked / 1e6:,.0f} MB, more than the "
                                 f"{config.max_unpacked_bytes() / 1e6:,.0f} MB a file may hold; split it into smaller files")
        for m in members:
            if m.file_size > _SMALL_PART and m.file_size > config.max_zip_ratio() * max(m.compress_size, 1):
                raise UnreadableFile(f"{file_name}: part {m.filename} inflates {m.file_size / max(m.compress_size, 1):,.0f} "
                                     "times its packed size; not a workbook a spreadsheet program saved")
        names = {m.filename for m in members}
        if "META-INF/manifest.xml" in names and b"encryption-data" in z.read("META-INF/manifest.xml"):
            raise UnreadableFile(f"{file_name}: the workbook is password-protected; save it without a password and upload again")
        if {"xl/workbook.xml", "xl/_rels/workbook.xml.rels"} <= names:
            for sheet, part in _xlsx_sheet_parts(z).items():
                if part in names:
                    _check_extent(z, part, sheet, file_name)


def _xlsx_sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the zip part holding its cells (xl/worksheets/sheet1.xml)."""
    workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
    targets = {r.get("Id"): r.get("Target", "") for r in ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
    parts = {}
    for sheet in workbook.iter(f"{{{_XLSX_NS}}}sheet"):
        target = targets.get(sheet.get(f"{{{_XLSX_REL_NS}}}id"), "")
        parts[sheet.get("name")] = target[1:] if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    return parts


def _check_extent(z: zipfile.ZipFile, part: str, sheet: str, file_name: str) -> None:
    """A sheet's declared far corner (its `<dimension>`, at the top of the part), read
    without unpacking the rest of the part."""
    with z.open(part) as xml:
        found = _DIMENSION.search(xml.read(16384))
    if found:
        _check_corner(file_name, sheet, int(found.group(2)), _column_number(found.group(1)))


def _check_corner(file_name: str, sheet: str, rows: int, columns: int) -> None:
    """Refuse a sheet whose far corner makes more cells than a sheet may have: readers
    build the whole rectangle from A1 to it."""
    if rows * columns > config.max_sheet_cells():
        letters, rest = "", columns
        while rest:
            rest, digit = divmod(rest - 1, 26)
            letters = chr(ord("A") + digit) + letters
        raise UnreadableFile(f"{file_name}: sheet '{sheet}' reaches cell {letters}{rows}: {rows:,} rows x "
                             f"{columns:,} columns is more than the {config.max_sheet_cells():,} cells a sheet may have; "
                             "delete the stray cells far from the data (Ctrl+End in Excel shows the last one)")


def _columns(rows: list[list]) -> list[list]:
    """Rows of any lengths as the columns of a rectangular grid (short rows padded with "")."""
    width = max((len(r) for r in rows), default=0)
    return [list(column) for column in zip(*(r + [""] * (width - len(r)) if len(r) < width else r for r in rows))]


def _fill_merges(columns: list[list], merges) -> list[list]:
    """Copy a merged range's value into every cell it covers (group ids merged down a group)."""
    height = len(columns[0]) if columns else 0
    for (r0, c0), (r1, c1) in merges:
        if r0 >= height or c0 >= len(columns):
            continue
        value = columns[c0][r0]
        for c in range(c0, min(c1, len(columns) - 1) + 1):   # clipped to the data: A2:G1048576 is 7M cells
            column = columns[c]
            for r in range(r0, min(r1, height - 1) + 1):
                if column[r] in ("", None):
                    column[r] = value
    return columns


def _ods_merges(content: bytes, file_name: str) -> dict[str, list]:
    """Merged ranges of each sheet of an .ods file (calamine does not report them); on the
    way, each sheet's far corner is checked (`_check_corner`) before calamine reads it (its
    own guard only says it "cannot detect the file format")."""
    table, span_rows, span_cols, rep_rows, rep_cols = (
        f"{{{_ODS_NS}}}{n}" for n in ("table", "number-rows-spanned", "number-columns-spanned",
                                     "number-rows-repeated", "number-columns-repeated"))
    cell_tags = {f"{{{_ODS_NS}}}table-cell", f"{{{_ODS_NS}}}covered-table-cell"}
    out: dict[str, list] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as z, z.open("content.xml") as xml:
        row = col = 0
        name = None
        far_row = far_col = row_far_col = 0
        for event, el in ElementTree.iterparse(xml, events=("start", "end")):
            if event == "start" and el.tag == table:
                name, row, far_row, far_col = el.get(f"{{{_ODS_NS}}}name"), 0, 0, 0
                out[name] = []
            elif event == "start" and el.tag == f"{{{_ODS_NS}}}table-row":
                col = row_far_col = 0
            elif event == "end" and el.tag in cell_tags:
                rs, cs = int(el.get(span_rows, 1)), int(el.get(span_cols, 1))
                if rs > 1 or cs > 1:
                    out[name].append(((row, col), (row + rs - 1, col + cs - 1)))
                col += int(el.get(rep_cols, 1))
                if el.get(_ODS_VALUE_TYPE) or len(el):   # a cell with content
                    row_far_col = col
                el.clear()
            elif event == "end" and el.tag == f"{{{_ODS_NS}}}table-row":
                row += int(el.get(rep_rows, 1))
                if row_far_col:
                    far_row, far_col = row, max(far_col, row_far_col)
                el.clear()
            elif event == "end" and el.tag == table:
                _check_corner(file_name, name, far_row, far_col)
    return out
