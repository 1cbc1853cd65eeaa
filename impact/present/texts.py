"""Every label, title, tooltip and message of the dashboard in English and Khmer, from one
table (`texts.csv`: key, en, km), so a translation is one cell, not a code change."""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

TEXT_FILE = Path(__file__).with_name("texts.csv")


@lru_cache(maxsize=1)
def read_texts() -> dict[str, dict[str, str]]:
    with TEXT_FILE.open(encoding="utf-8") as f:
        return {row["key"]: {"en": row["en"], "km": row["km"]} for row in csv.DictReader(f)}


def text(key: str, lang: str = "en", default: str | None = None) -> str:
    """A text in the language asked for; English where the Khmer cell is still empty; `default`
    (when given) for a key the table does not have."""
    if default is not None and key not in read_texts():
        return default
    entry = read_texts()[key]
    return entry.get(lang) or entry["en"]


PROBLEM_PREFIX = "problem_"


@lru_cache(maxsize=1)
def _problem_patterns() -> list[tuple[re.Pattern, str]]:
    """(pattern of the English wording, key) of every `problem_` text: the loader words a
    problem in English, its `{placeholders}` standing for the values found. Longest wording
    first, so "one of {values} (could be {near})" wins over "one of {values}"."""
    found = []
    for key, entry in read_texts().items():
        if key.startswith(PROBLEM_PREFIX):
            parts = re.split(r"\{(\w+)\}", entry["en"])   # literal, name, literal, name, ...
            pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            found.append((len("".join(parts[::2])), re.compile(f"^{pattern}$"), key))
    return [(pattern, key) for _, pattern, key in sorted(found, key=lambda f: -f[0])]


def problem(wording: str, lang: str = "en") -> str:
    """A problem of the issue report in the reader's language: the loader's English wording
    matched against the `problem_` texts, its values put into the Khmer one; as it is when no
    text matches (a wording the table does not know yet)."""
    if lang == "en":
        return wording
    for pattern, key in _problem_patterns():
        found = pattern.match(wording)
        if found:
            return text(key, lang).format(**found.groupdict())
    return wording
