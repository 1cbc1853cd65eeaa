"""Turning what field teams type into typed values, or a plain-words reason why not.

Each parser takes one raw cell (as the reader gives it: str, float, bool, date, datetime)
and returns the clean value, `None` for a blank, or raises `BadValue` with what was
expected. `clean_column` calls a parser once per distinct value, which is what makes a
100,000-row sheet fast: a date column has a few thousand distinct values, not 100,000.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rapidfuzz.distance import Levenshtein

from impact.contract import aliases
from impact.contract.tables import AMOUNT, BOOLEAN, CATEGORY, DATE, INTEGER, NUMBER, TABLES, TEXT

EXCEL_EPOCH = dt.date(1899, 12, 30)
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
MAX_TYPO_DISTANCE = 2

_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january", "មករា"), ("feb", "february", "កុម្ភៈ", "កុម្ភះ"), ("mar", "march", "មីនា"),
    ("apr", "april", "មេសា"), ("may", "ឧសភា"), ("jun", "june", "មិថុនា"),
    ("jul", "july", "កក្កដា"), ("aug", "august", "សីហា"), ("sep", "sept", "september", "កញ្ញា"),
    ("oct", "october", "តុលា"), ("nov", "november", "វិច្ឆិកា"), ("dec", "december", "ធ្នូ"),
), start=1) for m in names}
_MONTH_WORD = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_DATE_PATTERNS = (
    # ISO text, with an optional time part: year, month, day.
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"), "ymd"),
    # The Cambodian habit: day first.
    (re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})"), "dmy"),
    (re.compile(rf"(\d{{1,2}})[-\s]*({_MONTH_WORD})\.?[-\s,]*(\d{{4}})", re.I), "d_month_y"),
    (re.compile(rf"({_MONTH_WORD})\.?\s*(\d{{1,2}}),?\s+(\d{{4}})", re.I), "month_d_y"),
    (re.compile(rf"({_MONTH_WORD})\.?[-\s,]*(\d{{4}})", re.I), "month_y"),
    (re.compile(r"(\d{4})-(\d{1,2})"), "ym"),
)
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
_SEPARATORS = re.compile(r"(?<=\d)[,\s\u00a0\u202f'](?=\d{3}(\D|$))")


class BadValue(ValueError):
    """A cell that cannot be read as its column's type; the message says what was expected."""


def is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def as_text(value: object) -> str:
    """A cell as the field team would read it (for the issue report)."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%d/%m/%Y")
    return str(value).strip()


def parse_text(value: object) -> str | None:
    if isinstance(value, bool):
        return str(value).upper()
    text = " ".join(aliases.khmer_digits_to_ascii(value if isinstance(value, str) else as_text(value)).split())
    return text or None


# A cell parse_text keeps as it is: ASCII, no whitespace but single inner spaces (nearly every
# id and free text). Python's str.split() also splits on \x1c-\x1f, hence the class.
_NOT_PLAIN_TEXT = r"[\t-\r\x1c-\x1f]|^ | $|  |^$"


def parse_texts(values: np.ndarray) -> np.ndarray:
    """`parse_text` of many distinct cells: the plain ones are found by Arrow at C speed and
    kept as they are, the others parsed one by one (a 100,000-row id column: 5 ms, not 60)."""
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return object_array([parse_text(v) for v in values])
    cells = pa.array(values, type=pa.string())
    plain = pc.and_(pc.string_is_ascii(cells), pc.invert(pc.match_substring_regex(cells, _NOT_PLAIN_TEXT)))
    out = values.copy()
    for i in np.flatnonzero(~plain.to_numpy(zero_copy_only=False)).tolist():
        out[i] = parse_text(values[i])
    return out


def _from_serial(serial: float) -> dt.date:
    if not 1 <= serial <= 2958465:   # Excel's own range of serial dates
        raise BadValue("a date (dd/mm/yyyy)")
    return EXCEL_EPOCH + dt.timedelta(days=int(serial))


def parse_date(value: object) -> dt.date | None:
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, bool):
        raise BadValue("a date (dd/mm/yyyy)")
    elif isinstance(value, (int, float)):
        day = _from_serial(value)
    else:
        day = _parse_date_text(aliases.khmer_digits_to_ascii(str(value)).strip())
    if not EARLIEST <= day <= LATEST:
        raise BadValue("a date between 1900 and 2100")
    return day


def _parse_date_text(text: str) -> dt.date:
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _from_serial(float(text))
    for pattern, order in _DATE_PATTERNS:
        m = pattern.fullmatch(text)
        if not m:
            continue
        g = m.groups()
        try:
            if order == "ymd":
                return dt.date(int(g[0]), int(g[1]), int(g[2]))
            if order == "dmy":
                year = int(g[2]) + (2000 if len(g[2]) == 2 else 0)
                return dt.date(year, int(g[1]), int(g[0]))
            if order == "d_month_y":
                return dt.date(int(g[2]), _MONTHS[g[1].lower()], int(g[0]))
            if order == "month_d_y":
                return dt.date(int(g[2]), _MONTHS[g[0].lower()], int(g[1]))
            if order == "month_y":
                return dt.date(int(g[1]), _MONTHS[g[0].lower()], 1)
            return dt.date(int(g[0]), int(g[1]), 1)
        except ValueError:
            raise BadValue("a real calendar date (dd/mm/yyyy)") from None
    raise BadValue("a date (dd/mm/yyyy)")


def split_currency(value: object) -> tuple[object, str | None]:
    """Take a currency mark out of a cell: ('៤០,០០០ ៛') -> ('៤០,០០០', 'KHR')."""
    if not isinstance(value, str):
        return value, None
    for mark, currency in aliases.currency_marks().items():
        if mark.lower() in value.lower():
            idx = value.lower().index(mark.lower())
            return value[:idx] + value[idx + len(mark):], currency
    return value, None


def parse_number(value: object) -> float | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise BadValue("a number")
    if isinstance(value, (int, float)):
        return _finite(float(value))
    text = aliases.khmer_digits_to_ascii(str(value)).strip().rstrip("%").strip()
    negative = text.startswith("(") and text.endswith(")")
    text = _SEPARATORS.sub("", text.strip("()").strip())
    if not _NUMBER.fullmatch(text):
        raise BadValue("a number")
    return _finite(-float(text) if negative else float(text))


def _finite(number: float) -> float:
    """Readers turn `inf`, `1e309` or a 400-digit number into infinity, which no sum survives."""
    if not math.isfinite(number):
        raise BadValue("a finite number")
    return number


def parse_integer(value: object) -> int | None:
    number = parse_number(value)
    if number is None:
        return None
    if not number.is_integer() or abs(number) > 2**53:   # beyond 2**53 floats are not whole numbers
        raise BadValue("a whole number")
    return int(number)


def parse_amount(value: object) -> tuple[float, str | None] | None:
    """An amount and the currency marked in its cell, if any."""
    rest, currency = split_currency(value)
    number = parse_number(rest)
    return None if number is None else (number, currency)


def parse_boolean(value: object) -> bool | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raw = str(value).strip()
    lookup = aliases.boolean_lookup()
    found = lookup.get(raw, lookup.get(aliases.compact(raw)))
    if found is None:
        raise BadValue("Yes or No")
    return found


def category_parser(table: str, column: str) -> Callable[[object], str | None]:
    """A parser for one category column: exact label, alias, or a typo within two letters
    of exactly one label; never a guess between two."""
    lookup = aliases.category_lookup(table, column)
    allowed = ", ".join(TABLES[table].column(column).categories)

    def parse(value: object) -> str | None:
        if is_blank(value):
            return None
        key = aliases.compact(as_text(value))
        if key in lookup:
            return lookup[key]
        near = {label for alias, label in lookup.items()
                if Levenshtein.distance(key, alias, score_cutoff=MAX_TYPO_DISTANCE) <= MAX_TYPO_DISTANCE}
        if len(near) == 1:
            return near.pop()
        if len(near) > 1:
            raise BadValue(f"one of {allowed} (could be {' or '.join(sorted(near))})")
        raise BadValue(f"one of {allowed}")
    return parse


def parser_for(table: str, column: str) -> Callable[[object], object]:
    kind = TABLES[table].column(column).kind
    if kind == CATEGORY:
        return category_parser(table, column)
    return {TEXT: parse_text, DATE: parse_date, INTEGER: parse_integer, NUMBER: parse_number,
            AMOUNT: parse_amount, BOOLEAN: parse_boolean}[kind]


def clean_column(values: Sequence, parse: Callable[[object], object], dtype: str | None = None
                 ) -> tuple[np.ndarray | pd.api.extensions.ExtensionArray, dict[int, str]]:
    """Parse a column, once per distinct value. Returns the clean values (an object array, or
    an array of `dtype`, typed once per distinct value too) and {index: problem}. Distinct
    values are found by pandas' hashing (C speed), not a Python loop."""
    cells = object_array(values)
    codes, uniques = pd.factorize(cells)   # None and NaN get code -1: parsed as blank, last
    if pd.api.types.infer_dtype(uniques, skipna=False) != "string" and any(
            u.__class__ is bool or (u.__class__ in (int, float) and u in (0, 1)) for u in uniques):
        types = set(map(type, values))
        if bool in types and types & {int, float}:   # True == 1.0 when hashed: keep them apart
            codes, uniques = _factorize_by_type(cells)
    clean = np.empty(len(uniques) + 1, dtype=object)
    errors = {}
    if parse is parse_text:   # never a problem: all at once
        clean[:-1], clean[-1] = parse_texts(np.asarray(uniques, dtype=object)), parse(None)
    else:
        problems = []
        for i, value in enumerate([*uniques, None]):
            try:
                clean[i], problem = parse(value), None
            except BadValue as exc:
                clean[i], problem = None, str(exc)
            problems.append(problem)
        failing = np.array([problem is not None for problem in problems])[codes]   # -1: the blank's
        errors = {i: problems[codes[i]] for i in np.flatnonzero(failing).tolist()}
    # code -1 (a blank) takes the last value, the blank's
    return (clean[codes] if dtype is None else pd.array(clean, dtype=dtype).take(codes)), errors


def object_array(values: Sequence) -> np.ndarray:
    """Cells as a one-dimensional object array (np.array would make a row of a cell that is a
    sequence, and guess a dtype)."""
    cells = np.empty(len(values), dtype=object)
    cells[:] = values
    return cells


def _factorize_by_type(cells: np.ndarray) -> tuple[np.ndarray, list]:
    index: dict[tuple[type, object], int] = {}
    codes = np.fromiter((index.setdefault((type(v), v), len(index)) for v in cells), dtype=np.intp,
                        count=len(cells))
    return codes, [v for _, v in index]
