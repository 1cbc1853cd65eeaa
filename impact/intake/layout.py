"""Finding the table in a sheet: which contract table it is, where its header row is, what
each column means, and which rows below the header are data.

Sheets are recognized by their headers, whatever their name (a sheet name that names a
table only breaks ties), so a renamed or Khmer-named sheet still loads and an
instructions or pivot sheet is reported as "not a data sheet".
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from impact.contract import aliases
from impact.intake.cleaning import as_text, is_blank, split_currency
from impact.contract.tables import DATE, TABLES

HEADER_SEARCH_ROWS = 30
_PHONE = re.compile(r"(\+?855|0)\d{7,9}")
_LATIN_NAME = re.compile(r"[A-Z][a-z]+( [A-Z][a-z]+){1,3}")
_NOTE_START = re.compile(r"^(note|notes|source|\*|ចំណាំ|កំណត់សម្គាល់)", re.I)
_ID_COLUMNS = ("participant_id", "member_id", "group_id", "case_id")
# Cheap first test before the full comparison, since every data row is checked.
_TOTAL_PREFIXES = tuple({label[:2] for label in aliases.total_labels()})
# The same test on ASCII text, for Arrow: Python's whitespace in ASCII, then a prefix or the end.
_ASCII_BLANK_OR_TOTAL = (r"^[\t-\r\x1c-\x1f ]*($|"
                         + "|".join(re.escape(p) for p in _TOTAL_PREFIXES if p.isascii()) + ")")


@dataclass
class Layout:
    table: str
    header_row: int                                        # 0-based index into the grid
    columns: dict[int, str]                                # grid column -> canonical column
    headers: dict[int, str]                                # grid column -> header as written
    header_currency: dict[int, str] = field(default_factory=dict)
    dropped: dict[int, str] = field(default_factory=dict)  # grid column -> reason
    read_as: dict[int, str] = field(default_factory=dict)  # near-miss headers read as a column
    unsure: dict[int, tuple[str, ...]] = field(default_factory=dict)  # unread: columns it may mean


def _match_row(row: list, table: str, extra: dict[str, str] | None = None) -> dict[int, str]:
    """Grid column -> canonical column. `extra` (compact header -> column) is a source's own
    mapping, consulted first; it never makes a direct identifier header a column."""
    lookup = aliases.column_lookup(table)
    found: dict[int, str] = {}
    for i, cell in enumerate(row):
        if is_blank(cell) or not isinstance(cell, str):
            continue
        keys = aliases.header_keys(cell)
        own = extra if extra and not any(k in aliases.identifier_headers() for k in keys) else None
        names = [own.get(k) for k in (aliases.compact(cell), *keys)] if own else []
        for name in names + [lookup.get(k) for k in keys]:
            if name and name not in found.values():
                found[i] = name
                break
    return found


def find_layout(rows: list[list], sheet_name: str, extra: dict[str, dict[str, str]] | None = None
                ) -> Layout | None:
    """The best (table, header row) in the first rows of a sheet, or None for a sheet that
    is not data. A header must name at least two of a table's columns, one of them required.
    `extra` is the source's saved column mapping: table -> {compact header: column}."""
    named = aliases.table_names().get(aliases.compact(sheet_name))
    best, best_score = None, None
    for r, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if sum(1 for c in row if not is_blank(c)) < 2:
            continue
        for table in TABLES:
            matched = _match_row(row, table, (extra or {}).get(table))
            required = set(TABLES[table].required)
            if len(matched) < 2 or not required & set(matched.values()):
                continue
            # Most required columns, then most columns, then the sheet's name, then the
            # fewest cells left over (services and enrollments share participant_id and status).
            unmatched = sum(1 for c in row if not is_blank(c)) - len(matched)
            score = (len(required & set(matched.values())), len(matched), table == named, -unmatched)
            if best_score is None or score > best_score:
                best, best_score = (table, r, matched), score
    if best is None:
        return None
    table, r, matched = best
    header = rows[r]
    layout = Layout(table, r, matched, {i: as_text(c) for i, c in enumerate(header) if not is_blank(c)})
    unmatched: dict[int, list[aliases.NearHeader]] = {}
    for i, text in layout.headers.items():
        _, currency = split_currency(text)
        if currency:
            layout.header_currency[i] = currency
        if i in matched:
            continue
        keys = aliases.header_keys(text)
        identifier = next((aliases.identifier_headers()[k] for k in keys if k in aliases.identifier_headers()), None)
        if identifier:
            layout.dropped[i] = f"{identifier.replace('_', ' ')}: a direct identifier, never stored"
        elif not any(k in aliases.rownumber_headers() for k in keys):
            unmatched[i] = aliases.near_headers(text, table)
    if _lists_labels(rows, layout, unmatched, sheet_name):
        return None
    _read_near_misses(layout, unmatched)
    return layout


def _read_near_misses(layout: Layout, unmatched: dict[int, list[aliases.NearHeader]]) -> None:
    """Read a header that nearly names a free column (`Wrok setting`) as that column when no
    other header claims it too; leave the others unread, with the columns they may mean, so
    no contract column is ever dropped without a word."""
    taken = set(layout.columns.values())
    claims: dict[int, str] = {}
    for i, near in unmatched.items():
        close = [n for n in near if n.close]
        identifier = next((n for n in close if n.target == "identifier"), None)
        if identifier:   # privacy first: a near `Phone numbr` is never stored
            layout.dropped[i] = f"looks like '{identifier.alias}': a direct identifier, never stored"
            layout.unsure[i] = tuple(n.target for n in near if n.target != "identifier")
            continue
        free = [n.target for n in close if n.target not in taken]
        if len(free) == 1 and len(close) == 1:
            claims[i] = free[0]
    claimed = Counter(claims.values())
    for i, near in unmatched.items():
        if i in layout.dropped:
            continue
        if i in claims and claimed[claims[i]] == 1:
            layout.columns[i] = claims[i]
            layout.read_as[i] = claims[i]
            continue
        layout.unsure[i] = tuple(n.target for n in near if n.target != "identifier")
        layout.dropped[i] = f"not a column of the {layout.table} table: not stored"


def _lists_labels(rows: list[list], layout: Layout, unmatched: dict[int, list[aliases.NearHeader]],
                  sheet_name: str) -> bool:
    """A drop-down list sheet (`Lists`, `Dropdowns`, `Lookup`: one column of labels per list)
    names columns in its header but holds no data: no date and no id column, and it is named as
    a list, or its lists are of different lengths with each label once."""
    kinds = {c.name: c.kind for c in TABLES[layout.table].columns}
    named = set(layout.columns.values()) | {n.target for near in unmatched.values() for n in near}
    if any(kinds.get(n) == DATE or n.endswith("_id") for n in named):
        return False
    if aliases.compact(sheet_name) in aliases.list_sheet_names():
        return True
    lists = [[as_text(row[c]) for row in rows[layout.header_row + 1:] if not is_blank(row[c])]
             for c in layout.columns]
    return len({len(labels) for labels in lists}) > 1 and all(len(set(x)) == len(x) for x in lists)


def identifier_by_content(values: list, canonical: str | None) -> str | None:
    """'phone' or 'name' when a column's cells look like phone numbers or people's names,
    so an identifier under an innocent header (or typed into the id column) is never stored."""
    sample = [as_text(v) for v in itertools.islice((v for v in values if not is_blank(v)), 500)]
    if len(sample) < 3:
        return None
    share = lambda pred: sum(1 for v in sample if pred(v)) / len(sample)  # noqa: E731
    if share(lambda v: bool(_PHONE.fullmatch(re.sub(r"[\s\-.()]", "", v)))) >= 0.5:
        return "phone"
    distinct = len(set(sample)) / len(sample)
    if canonical in _ID_COLUMNS or (canonical is None and distinct > 0.8):
        if share(lambda v: bool(_LATIN_NAME.fullmatch(v))) >= 0.5:
            return "name"
        if canonical in _ID_COLUMNS and share(lambda v: " " in v and not any(ch.isdigit() for ch in v)) >= 0.5:
            return "name"
    return None


def data_rows(columns: list[np.ndarray], header: list) -> np.ndarray:
    """Indexes of the rows (cells from `columns`, below `header`) that `classify_row` calls
    data, found a column at a time: only a row that could be something else (few cells
    filled, a first cell that may be a total label, a first column like the header's) is
    looked at on its own."""
    height = len(columns[0]) if columns else 0
    if not height:
        return np.arange(0)
    filled = np.array([(column != "") & (column != None) for column in columns])  # noqa: E711 (elementwise)
    first_column = np.argmax(filled, axis=0)
    firsts = columns[0].copy()   # each row's first cell not "" (whitespace alone: looked at)
    for c in np.unique(first_column[first_column > 0]).tolist():
        firsts[first_column == c] = columns[c][first_column == c]
    maybe_total = blank_or_total_prefix(firsts)
    key = next((c for c, cell in enumerate(header) if not _blank(cell)), 0)
    look = (filled.sum(axis=0) <= 3) | maybe_total | (columns[key] == header[key])
    other = [k for k in np.flatnonzero(look).tolist() if classify_row([c[k] for c in columns], header) is not None]
    keep = np.ones(height, dtype=bool)
    keep[other] = False
    return np.flatnonzero(keep)


def blank_or_total_prefix(cells: np.ndarray) -> np.ndarray:
    """Which cells are text that is blank or starts like a total label (a cheap first test,
    on every data row's first cell): ASCII text by Arrow at C speed, other cells one by one."""
    def one(cell) -> bool:
        return cell.__class__ is str and (not cell.strip() or cell.lstrip().lower().startswith(_TOTAL_PREFIXES))
    if pd.api.types.infer_dtype(cells, skipna=False) != "string":
        return np.fromiter(map(one, cells), dtype=bool, count=len(cells))
    text = pa.array(cells, type=pa.string())
    found = pc.match_substring_regex(text, _ASCII_BLANK_OR_TOTAL, ignore_case=True).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(~pc.string_is_ascii(text).to_numpy(zero_copy_only=False)).tolist():
        found[i] = one(cells[i])
    return found


def classify_row(row: list, header: list) -> str | None:
    """Why a row below the header is not data ('blank', 'total', 'note', 'repeated header'),
    or None for a data row. A row with more than three cells filled is never blank or a note,
    whatever its other cells hold: `data_rows` relies on this to look at few rows on their own."""
    if len(row) - row.count("") - row.count(None) > 3:
        first = next((c for c in row if not _blank(c)), "")
        filled_count = 2    # at least: never a note
    else:
        filled = [c for c in row if not _blank(c)]
        if not filled:
            return "blank"
        first, filled_count = filled[0], len(filled)
    if first.__class__ is str and first.lstrip().lower().startswith(_TOTAL_PREFIXES):
        key = aliases.compact(first)
        if key in aliases.total_labels() or key.startswith(("total", "grandtotal", "សរុប")):
            return "total"
    if filled_count == 1 and first.__class__ is str and (
            _NOTE_START.match(first.strip()) or len(first.split()) >= 3):
        return "note"
    if row == header:
        return "repeated header"
    return None


def _blank(cell: object) -> bool:
    return cell == "" or cell is None or (cell.__class__ is str and not cell.strip())
