"""Header, sheet-name and label matching driven by the alias table (`aliases.csv`).

Field teams write the same header a dozen ways (`Intake Date (dd/mm/yyyy)`, `ថ្ងៃចូល`,
`Participant ID*`). Everything is compared on a *compact key*: lower case, Khmer
subscripts unified, footnote marks, punctuation and spaces removed. Adding an alias is
one line in the CSV.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz.distance import DamerauLevenshtein

from impact.contract.tables import TABLES

ALIAS_FILE = Path(__file__).with_name("aliases.csv")

_KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")
_BRACKETS = re.compile(r"[(\[{（]([^)\]}）]*)[)\]}）]")
# Khmer coeng-da and coeng-ta are typed interchangeably (ផ្តល់ / ផ្ដល់).
_COENG_DA, _COENG_TA = "\u17d2\u178a", "\u17d2\u178f"
_WORD_BREAK = re.compile(r"[\s_\-/.,:;]+")


def khmer_digits_to_ascii(text: str) -> str:
    return text if text.isascii() else text.translate(_KHMER_DIGITS)


def compact(text: object) -> str:
    """The comparison key: letters, marks and decimal digits only, lower case. Footnote marks
    (¹ ² †‡§¶*#), punctuation and spaces are not part of it: `Work setting ¹` is work setting."""
    s = unicodedata.normalize("NFC", str(text)).replace(_COENG_DA, _COENG_TA).lower()
    s = khmer_digits_to_ascii(s)
    return "".join(ch for ch in s if _is_key_char(unicodedata.category(ch)))


def _is_key_char(category: str) -> bool:
    return category[0] in "LM" or category == "Nd"


@lru_cache(maxsize=4096)
def header_keys(header: str) -> tuple[str, ...]:
    """Keys a header may match: the text without bracketed parts (units, formats), then
    each bracketed part, so `ថ្ងៃចុះឈ្មោះ (Intake Date)` matches on either language. A
    bracketed number (`Program (1)`) is a footnote mark, not a key. Cached: the header search
    asks it of every cell of a sheet's first rows once per table."""
    keys = [compact(_BRACKETS.sub(" ", header))]
    keys += [compact(part) for part in _BRACKETS.findall(header)]
    return tuple(k for i, k in enumerate(keys) if k and not (i and k.isdigit()))


def header_words(header: object) -> tuple[str, ...]:
    """The words of a header without its bracketed parts, sorted, to recognise the same words
    in another order (`Date of intake` / `Intake date`)."""
    text = _BRACKETS.sub(" ", unicodedata.normalize("NFC", str(header)))
    return tuple(sorted(w for w in (compact(part) for part in _WORD_BREAK.split(text)) if w))


@dataclass(frozen=True)
class Alias:
    kind: str     # table, column, value, boolean, currency, total, rownumber, identifier, listsheet
    name: str     # the contract name it stands for
    scope: str    # tables (space separated) for columns, column for values, * for any
    alias: str


@lru_cache(maxsize=1)
def read_aliases() -> tuple[Alias, ...]:
    with ALIAS_FILE.open(encoding="utf-8") as f:
        return tuple(Alias(**row) for row in csv.DictReader(f))


def _keyed(kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in read_aliases():
        if a.kind == kind:
            out[compact(a.alias)] = a.name
    return out


@lru_cache(maxsize=1)
def table_names() -> dict[str, str]:
    """Compact sheet name -> table."""
    return {**_keyed("table"), **{compact(t): t for t in TABLES}}


@lru_cache(maxsize=None)
def column_lookup(table: str) -> dict[str, str]:
    """Compact header -> canonical column of `table`."""
    out = {compact(c): c for c in TABLES[table].column_names}
    for a in read_aliases():
        if a.kind == "column" and (a.scope == "*" or table in a.scope.split()) \
                and a.name in TABLES[table].column_names:
            out.setdefault(compact(a.alias), a.name)
    return out


@lru_cache(maxsize=None)
def category_lookup(table: str, column: str) -> dict[str, str]:
    """Compact label -> category for one column (labels are per column: the same Khmer
    word is `enrolled` in enrollments.status and `studying` in employment_status)."""
    categories = TABLES[table].column(column).categories
    out = {compact(c): c for c in categories}
    for a in read_aliases():
        if a.kind == "value" and a.scope in (column, f"{table}.{column}") and a.name in categories:
            out[compact(a.alias)] = a.name
    if column == "currency":
        out.update(_keyed("currency"))
    return out


@lru_cache(maxsize=1)
def boolean_lookup() -> dict[str, bool]:
    out = {k: v == "yes" for k, v in _keyed("boolean").items()}
    # ✓ and ✔ are symbols, which compact() removes: keep them by their raw text.
    out.update({a.alias: a.name == "yes" for a in read_aliases()
                if a.kind == "boolean" and not compact(a.alias)})
    return out


@lru_cache(maxsize=1)
def currency_marks() -> dict[str, str]:
    """Raw marks ($, ៛, KHR, រៀល, ...) -> currency, longest first for searching in cells."""
    marks = {a.alias: a.name for a in read_aliases() if a.kind == "currency"}
    marks.update({"USD": "USD", "KHR": "KHR"})
    return dict(sorted(marks.items(), key=lambda kv: -len(kv[0])))


@lru_cache(maxsize=1)
def identifier_headers() -> dict[str, str]:
    return _keyed("identifier")


@lru_cache(maxsize=1)
def total_labels() -> frozenset[str]:
    return frozenset(_keyed("total"))


@lru_cache(maxsize=1)
def list_sheet_names() -> frozenset[str]:
    """Names of the sheets behind Excel's drop-down lists (`Lists`, `Dropdowns`, `Lookup`)."""
    return frozenset(_keyed("listsheet"))


@lru_cache(maxsize=1)
def rownumber_headers() -> frozenset[str]:
    return frozenset(_keyed("rownumber"))


def aliases_by_name() -> dict[tuple[str, str], list[str]]:
    """(kind, name) -> aliases in file order; the first Khmer one is the preferred label."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in read_aliases():
        out[(a.kind, a.name)].append(a.alias)
    return out


@dataclass(frozen=True)
class NearHeader:
    """A contract column (or a direct identifier) that a header nearly names."""
    target: str       # a column of the table, or "identifier" for names, phones, ids
    alias: str        # the name or alias it is near, as written in aliases.csv
    close: bool       # near enough to read the column as it, when it is the only one


def _edits_allowed(key: str) -> int:
    """Typos tolerated in a header key of this length: none in a short one (`No` is not `ID`)."""
    return 0 if len(key) < 4 else 1 if len(key) < 8 else 2


@lru_cache(maxsize=None)
def _header_targets(table: str) -> tuple[tuple[str, tuple[str, ...], str, str], ...]:
    """(compact key, sorted words, target, alias) of every name a header of `table` may mean."""
    names = [(c, c.replace("_", " ")) for c in TABLES[table].column_names]
    names += [(a.name, a.alias) for a in read_aliases() if a.kind == "column"
              and (a.scope == "*" or table in a.scope.split()) and a.name in TABLES[table].column_names]
    names += [("identifier", a.alias) for a in read_aliases() if a.kind == "identifier"]
    return tuple((compact(alias), header_words(alias), target, alias) for target, alias in names
                 if compact(alias))


def near_headers(header: object, table: str) -> list[NearHeader]:
    """The columns of `table` a header that matched none nearly names, nearest first: within
    two edits (fewer for short headers), the same words in another order, or a header cut
    short (`Work sett.`). Only `close` ones may be read without asking."""
    key, words = (header_keys(str(header)) or ("",))[0], header_words(header)
    if not key:
        return []
    best: dict[str, tuple[int, NearHeader]] = {}
    for alias_key, alias_words, target, alias in _header_targets(table):
        distance = DamerauLevenshtein.distance(key, alias_key, score_cutoff=3)
        reordered = len(words) > 1 and words == alias_words
        cut_short = len(key) >= 4 and alias_key.startswith(key)
        if distance > 2 and not (reordered or cut_short):
            continue
        close = reordered or distance <= _edits_allowed(min(key, alias_key, key=len))
        rank = (0 if close else 1, distance)
        if target not in best or rank < best[target][0]:
            best[target] = (rank, NearHeader(target, alias, close))
    return [near for _, near in sorted(best.values(), key=lambda item: item[0])]
