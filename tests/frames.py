"""Clean tables from a few rows each, as `load_files` or the store hand them over, for tests
of the metrics and views that document a definition with a handful of women."""
from __future__ import annotations

import pandas as pd

from impact.frames import typed
from impact.prepared import Prepared, prepare
from impact.tables import TABLES


def clean_tables(defaults: dict[str, dict], **rows: list[dict]) -> dict[str, pd.DataFrame]:
    """Every stored column present with its dtype, and the spreadsheet row each came from."""
    out = {}
    for name in TABLES:
        records = [{**defaults.get(name, {}), **r} for r in rows.get(name, [])]
        frame = pd.DataFrame.from_records(records, index=range(len(records)))
        frame["source_sheet"] = name
        frame["source_row"] = range(2, len(records) + 2)
        out[name] = typed(frame, name)
    return out


def prepared(organization: str, **rows: list[dict]) -> Prepared:
    return prepare(clean_tables({name: {"organization": organization} for name in TABLES}, **rows))
