"""Every label, title, tooltip and message of the dashboard in English and Khmer, from one
table (`texts.csv`: key, en, km), so a translation is one cell, not a code change."""
from __future__ import annotations

import csv
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
