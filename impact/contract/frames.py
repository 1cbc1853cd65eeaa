"""The pandas shape of every table: one dtype per declared kind.

The loader builds its frames with `typed` and the store reads them back with it, so metrics
see one shape whether they read files or the store.
"""
from __future__ import annotations

import pandas as pd

from impact.contract.tables import (
    AMOUNT,
    BOOLEAN,
    CATEGORY,
    DATE,
    INTEGER,
    NUMBER,
    TABLES,
    TEXT,
    stored_columns,
)

# A participant is (organization, participant_id): the spec's identity of a woman.
PARTICIPANT_KEY = ["organization", "participant_id"]
# Where each row came from, kept so the dashboard can point back at the spreadsheet row.
SOURCE_COLUMNS = {"source_sheet": TEXT, "source_row": INTEGER}
DTYPES = {DATE: "datetime64[s]", INTEGER: "Int64", NUMBER: "Float64", AMOUNT: "Float64",
           BOOLEAN: "boolean", TEXT: "str", CATEGORY: "str"}


def column_kinds(table: str) -> dict[str, str]:
    """Kind of every column a data table stores (undeclared ones, i.e. organization, are text)."""
    declared = {c.name: c.kind for c in TABLES[table].columns}
    return {**{name: declared.get(name, TEXT) for name in stored_columns(table)}, **SOURCE_COLUMNS}


def typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The table's stored columns (missing ones empty), each with the dtype of its kind."""
    out = {}
    for col, kind in column_kinds(table).items():
        values = frame[col] if col in frame else pd.Series(None, index=frame.index, dtype=object)
        if kind == DATE:
            values = pd.to_datetime(values)
        elif kind in (INTEGER, NUMBER, AMOUNT):
            values = pd.to_numeric(values)
        out[col] = values.astype(DTYPES[kind])
    return pd.DataFrame(out, index=frame.index)


def merge_participants(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (organization, participant_id): a woman registered by several programs is
    one person. Earliest intake wins; other columns take the first known value in upload order."""
    if frame.empty or not frame.duplicated(PARTICIPANT_KEY).any():
        return frame
    groups = frame.groupby(PARTICIPANT_KEY, sort=False, dropna=False)
    merged = groups.first()
    merged["intake_date"] = groups["intake_date"].min()
    return merged.reset_index()[frame.columns]
