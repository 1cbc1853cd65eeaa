"""The intake path: field files in, clean tables and an issue report out.

read -> find each sheet's table and header -> drop identifiers -> clean each column ->
validate -> check references across the files of one load. Every data row ends up loaded
or in the issue report; nothing is silently dropped.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from xlsxwriter.utility import xl_col_to_name

from impact import config
from impact.memory import release_freed_memory

from impact.intake import isolated
from impact.intake.cleaning import as_text, clean_column, is_blank, object_array, parser_for
from impact.contract.frames import DTYPES, concat, typed
from impact.intake.layout import Layout, data_rows, find_layout, identifier_by_content
from impact.intake.load_report import DroppedColumn, FileResult, Issue, LoadResult, SheetReport
from impact.contract.tables import AMOUNT, BOOLEAN, TABLES
from impact.intake.reading import SPREADSHEET_SUFFIXES, Sheet, UnreadableFile, read_workbook

_TICKS = ("✓", "✔")


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], dict[str, str]]:
    """Files as given, and the spreadsheets inside folders (linked folders followed, each
    real folder once); and {path: one line} for what was skipped: a missing path, a link to
    nothing, a link loop, a folder named like a spreadsheet, a folder with no spreadsheet."""
    files: list[Path] = []
    skipped: dict[str, str] = {}
    for p in map(Path, paths):
        if p.is_dir():
            found = _spreadsheets_in(p, skipped)
            if not found:
                skipped.setdefault(str(p), f"{p}: no spreadsheet found (.xlsx, .xls, .ods or .csv)")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            skipped[str(p)] = f"{p}: {_why_not_a_file(p) if p.is_symlink() else 'no such file or folder'}"
    return files, skipped


def _spreadsheets_in(folder: Path, skipped: dict[str, str]) -> list[Path]:
    """The spreadsheets under a folder; what cannot be read as one is added to `skipped`."""
    found, seen = [], set()
    report = lambda path, why: skipped.setdefault(str(path), f"{path}: skipped: {why}")  # noqa: E731
    for root, folders, names in os.walk(folder, followlinks=True,
                                        onerror=lambda exc: report(exc.filename, exc.strerror.lower())):
        if os.path.realpath(root) in seen:
            report(root, "a link back to a folder already read")
            folders.clear()
            continue
        seen.add(os.path.realpath(root))
        for name in [f for f in folders if Path(f).suffix.lower() in SPREADSHEET_SUFFIXES]:
            report(Path(root, name), "a folder, not a spreadsheet")
            folders.remove(name)
        for name in sorted(names):
            path = Path(root, name)
            if path.suffix.lower() not in SPREADSHEET_SUFFIXES or name.startswith(("~$", ".")):
                continue
            if path.is_file():
                found.append(path)
            else:
                report(path, _why_not_a_file(path))
    return sorted(found)


def _why_not_a_file(path: Path) -> str:
    """Why a path that looks like a spreadsheet is none: a link to nothing, a link loop..."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link in a loop of links"
        return "a link to a file that does not exist" if path.is_symlink() else exc.strerror.lower()
    return "not a regular file"


def file_bytes(path: Path) -> bytes:
    """A file's bytes, or UnreadableFile in one line (no permission, gone meanwhile)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot be opened ({exc.strerror.lower()})") from exc


def load_files(paths: Iterable[str | Path], organization: str | None = None,
               known_participants: set[tuple[str, str]] | None = None) -> LoadResult:
    """Load files or folders from disk (see `load_contents`); anything skipped is an error."""
    files, skipped = expand_paths(paths)
    if skipped:
        raise UnreadableFile(next(iter(skipped.values())))
    return load_contents([(p.name, file_bytes(p)) for p in files], organization, known_participants)


def load_contents(files: list[tuple[str, bytes]], organization: str | None = None,
                  known_participants: set[tuple[str, str]] | None = None) -> LoadResult:
    """Load (file name, bytes) pairs without a store (the first unreadable one is an error).
    `known_participants` are (organization, participant_id) registered elsewhere, for the
    reference checks. With a store, `impact.intake.pipeline.ingest_files` is the whole pipeline."""
    result = LoadResult([isolated.read_file(name, content, organization) for name, content in files])
    return finish_load(result, known_participants)


def finish_load(result: LoadResult, known_participants: set[tuple[str, str]] | None = None) -> LoadResult:
    """What a load does once every file is read (`read_file`): check references across the
    files and against `known_participants`, then count each sheet's rows."""
    _check_references(result, set(known_participants or ()))
    for f in result.files:
        _recount(f)
    return result


def organization_of(file_name: str, chosen: str | None, column_cells: Counter) -> str:
    """The spec's order: the rows' organization column (its most frequent value; the cells
    come counted), the one chosen at upload, the file name's first part before `_`."""
    named: Counter = Counter()
    for cell, count in column_cells.items():
        if as_text(cell):
            named[as_text(cell)] += count
    if named:
        return named.most_common(1)[0][0]
    return chosen or Path(file_name).stem.split("_")[0]


def read_file(file_name: str, content: bytes, organization: str | None = None,
              mappings: dict[str, dict[str, dict[str, str]]] | None = None) -> FileResult:
    """One file (before the reference checks of `finish_load`). `mappings` are the saved
    column mappings of the sources of this file name, by organization (organization -> table ->
    {compact header: column}): the file's own are applied once its organization is known. A
    file read with mappings gets a sha256 of its bytes and the mappings, so re-reading the same
    bytes with a new mapping is a new version in the store, and the same bytes with the same
    mapping are unchanged."""
    sheets = read_workbook(content, file_name)
    release_freed_memory()   # the reader's parse buffers (a third of a big sheet's peak), before the cleaning's own
    layouts = [(s, find_layout(s.rows, s.name)) for s in sheets]
    result = FileResult(file_name, "", content, organization or organization_of(file_name, None, _organization_cells(layouts)))
    own = {table: m for table, m in (mappings or {}).get(result.organization, {}).items() if m}
    if own:   # only the header rows are looked at again, not the file
        layouts = [(s, find_layout(s.rows, s.name, own)) for s in sheets]
    digest = hashlib.sha256(content)
    if own:
        digest.update(json.dumps(own, sort_keys=True).encode())
    result.sha256 = digest.hexdigest()
    frames: dict[str, list[pd.DataFrame]] = {}
    for sheet, layout in layouts:
        if layout is None:
            result.sheets.append(SheetReport(sheet.name, None, sheet.hidden, note="not a data sheet"))
            continue
        report, frame = _read_sheet(result, sheet.name, sheet.columns, layout)
        report.hidden = sheet.hidden
        result.sheets.append(report)
        frames.setdefault(layout.table, []).append(frame)
    result.tables = {t: concat(fs) for t, fs in frames.items()}
    return result


def _organization_cells(layouts: list[tuple[Sheet, Layout | None]]) -> Counter:
    """The cells of the sheets' organization columns, counted (by pandas' hashing: one
    organization in 100,000 rows is one distinct value, not 100,000 Python steps)."""
    cells = Counter()
    for sheet, layout in layouts:
        for c in [c for c, name in (layout.columns if layout else {}).items() if name == "organization"]:
            counts = pd.Series(object_array(sheet.columns[c][layout.header_row + 1:])).value_counts(dropna=False)
            cells.update(counts.to_dict())
    return cells


def _read_sheet(result: FileResult, sheet: str, grid: list[list], layout: Layout
                ) -> tuple[SheetReport, pd.DataFrame]:
    """One sheet's table, a column at a time: the rows below the header as object arrays,
    the data rows (`data_rows`) taken from each, then identifiers, cleaning and validation."""
    table, start = TABLES[layout.table], layout.header_row + 1
    header = [column[layout.header_row] for column in grid]
    below = [object_array(column[start:]) for column in grid]
    data = data_rows(below, header)
    report = SheetReport(sheet, table.name, header_row=start, rows_read=len(data),
                         rows_skipped=len(grid[0]) - 1 - len(data))
    excel_rows = (data + start + 1).tolist()
    issue = lambda k, col, value, problem: result.issues.append(  # noqa: E731
        Issue(result.file_name, sheet, excel_rows[k], col, as_text(value), problem))

    columns = [column[data] for column in below]
    raw = {c: columns[c] for c in set(layout.columns) | set(layout.dropped)}
    for c in list(layout.columns) + list(layout.dropped):
        found = identifier_by_content(raw[c], layout.columns.get(c))
        if found:
            layout.columns.pop(c, None)
            layout.read_as.pop(c, None)
            layout.unsure.pop(c, None)
            layout.dropped[c] = f"{found}: looks like a direct identifier, never stored"
    report.columns = {name: layout.headers[c] for c, name in layout.columns.items()}
    for c, reason in layout.dropped.items():
        result.dropped_columns.append(DroppedColumn(result.file_name, sheet, layout.headers[c], reason))
    for c in _headerless_columns(columns, layout):
        result.dropped_columns.append(DroppedColumn(
            result.file_name, sheet, f"column {xl_col_to_name(c)}", "no header: not stored"))
    _report_headers(result, sheet, layout, len(data))

    bad: set[int] = set()
    if any(n not in layout.columns.values() for n in table.required):
        bad.update(range(len(data)))   # one sheet-level issue says why (_report_headers)

    clean: dict[str, list] = {}
    for c, name in layout.columns.items():
        kind = table.column(name).kind
        # Typed here, once per distinct value; amounts and ticks are finished below, as objects.
        values, errors = clean_column(raw[c], parser_for(table.name, name),
                                      None if kind in (AMOUNT, BOOLEAN) else DTYPES[kind])
        for k, problem in errors.items():
            issue(k, layout.headers[c], raw[c][k], f"expected {problem}")
        bad.update(errors)
        clean[name] = values
    by_name = {name: c for c, name in layout.columns.items()}
    for name in [n for n in clean if table.column(n).kind == AMOUNT]:
        clean[name] = _to_usd(clean[name], clean.get("currency"), layout.header_currency.get(by_name[name]))
    for name in [n for n in clean if table.column(n).kind == BOOLEAN]:
        if any(isinstance(v, str) and v.strip() in _TICKS for v in raw[by_name[name]]):
            clean[name] = [False if v is None else v for v in clean[name]]   # in a ✓ column a blank is no

    clean["source_sheet"], clean["source_row"] = sheet, excel_rows
    frame = pd.DataFrame(clean, index=range(len(data)))
    organization = frame["organization"] if "organization" in frame else pd.Series(None, index=frame.index, dtype="str")
    frame = typed(frame.assign(organization=organization.fillna(result.organization)), table.name)
    # Imported here: rows are validated in the reader child, so the server never loads pandera (12 MiB).
    from impact.intake.validation import validation_problems
    invalid = validation_problems(table.name, frame)
    for k, name, problem in invalid:
        if k not in bad:   # a cell that could not be read is reported once, above
            c = by_name.get(name)
            issue(k, layout.headers[c] if c is not None else name, raw[c][k] if c is not None else "", problem)
    bad.update(k for k, _, _ in invalid)
    key = table.unique_id
    if key in by_name:
        for k, first in _duplicate_ids(frame, bad, key):
            issue(k, layout.headers[by_name[key]], frame.at[k, key],
                  f"{key} already registered in this sheet at row {excel_rows[first]}")
            bad.add(k)

    if not bad:
        return report, frame
    keep = np.ones(len(data), dtype=bool)
    keep[list(bad)] = False
    return report, frame[keep].reset_index(drop=True)


def _report_headers(result: FileResult, sheet: str, layout: Layout, rows: int) -> None:
    """Column- and sheet-level lines, first in every report: a header read as a near miss, a
    header that may be a contract column but was not read, a required column missing."""
    at = layout.header_row + 1
    read_from = {name: layout.headers[c] for c, name in layout.columns.items()}
    for c, name in layout.read_as.items():
        header = layout.headers[c]
        result.issues.append(Issue(result.file_name, sheet, at, header, header,
                                   f"read column '{header}' as {name}", "column"))
    for c, candidates in layout.unsure.items():
        header, free = layout.headers[c], [n for n in candidates if n not in read_from]
        if free and "identifier" in layout.dropped[c]:
            problem = (f"column '{header}' was not stored, as it looks like a direct identifier: "
                       f"if it is {' or '.join(free)}, rename the header")
        elif free:
            problem = f"column '{header}' was not read: is it {' or '.join(free)}? Map it on the Data page"
        elif candidates:
            problem = f"column '{header}' was not read: {candidates[0]} is read from column '{read_from[candidates[0]]}'"
        else:
            continue
        result.issues.append(Issue(result.file_name, sheet, at, header, header, problem, "column"))
    for name in [n for n in TABLES[layout.table].required if n not in read_from]:
        result.issues.append(Issue(result.file_name, sheet, at, name, "",
                                   f"the sheet has no {name} column, which is required, so its rows "
                                   f"were not loaded ({rows:,})", "sheet"))


def _headerless_columns(columns: list[np.ndarray], layout: Layout) -> list[int]:
    """Grid columns with values in data rows but no header: reported, never silently ignored."""
    return [c for c, values in enumerate(columns)
            if c not in layout.headers and not all(map(is_blank, values))]


def _to_usd(amounts: np.ndarray, currencies: np.ndarray | None, header_currency: str | None) -> pd.Series:
    """A mark in the cell wins, then the row's currency column, then the header's mark."""
    parsed = pd.Series(amounts, dtype=object)
    known = parsed.notna()
    number = pd.Series(np.nan, index=parsed.index)
    number[known] = [p[0] for p in parsed[known]]
    currency = pd.Series([p[1] for p in parsed[known]], index=parsed.index[known], dtype=object)
    currency = currency.reindex(parsed.index)
    if currencies is not None:
        currency = currency.fillna(pd.Series(currencies, dtype=object))
    khr = currency.fillna(header_currency or "USD") == "KHR"
    return number.where(~khr, number / config.khr_per_usd())


def _duplicate_ids(frame: pd.DataFrame, bad: set[int], key: str) -> list[tuple[int, int]]:
    """(row, first row) for an id (a participant, a case) registered twice in one sheet: the
    first counts."""
    ok = frame[["organization", key]].drop(index=list(bad))
    repeated = ok.duplicated()
    if not repeated.any():   # the usual sheet: no lookup of first rows to build
        return []
    first = ok[~repeated].reset_index().set_index(["organization", key])["index"]
    dupes = ok[repeated]
    return [(k, int(first[(o, p)])) for k, o, p in zip(dupes.index, dupes["organization"], dupes[key])]


def _check_references(result: LoadResult, known: set[tuple[str, str]]) -> None:
    """Enrollments, follow-ups and services must name a participant registered by the same
    organization, in this load or already in the store."""
    if not any(TABLES[t].references_participants for f in result.files for t in f.tables):
        return   # a participants register alone: nothing to check
    known |= {key for f in result.files if "participants" in f.tables
              for key in zip(f.tables["participants"]["organization"].tolist(),
                             f.tables["participants"]["participant_id"].tolist())}
    for f in result.files:
        headers = {s.sheet: s.columns for s in f.sheets}
        for name in [t for t in f.tables if TABLES[t].references_participants]:
            frame = f.tables[name]
            keys = zip(frame["organization"].tolist(), frame["participant_id"].tolist())
            missing = [k for k, key in enumerate(keys) if key not in known]
            for k in missing:
                sheet = frame.at[k, "source_sheet"]
                f.issues.append(Issue(f.file_name, sheet, int(frame.at[k, "source_row"]),
                                      headers[sheet]["participant_id"], frame.at[k, "participant_id"],
                                      f"not a registered participant of {frame.at[k, 'organization']}"))
            f.tables[name] = frame.drop(index=missing).reset_index(drop=True)


def _recount(f: FileResult) -> None:
    loaded = Counter()
    for frame in f.tables.values():
        loaded.update(frame["source_sheet"].value_counts().to_dict())
    for s in f.sheets:
        if s.table:
            s.rows_loaded = loaded.get(s.sheet, 0)
            s.rows_rejected = s.rows_read - s.rows_loaded
    sheets = [s.sheet for s in f.sheets]
    f.issues.sort(key=lambda i: (i.scope == "cell", sheets.index(i.sheet), i.row))
