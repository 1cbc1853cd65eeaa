"""Per-table validation schemas, generated from the declarations in `impact.contract.tables`.

pandera checks the cleaned rows lazily, so one pass gives every failure as a table; each check
carries its message for the field team (`error=`), which becomes a line of the issue report.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from impact.contract.tables import TABLES

# pandera's own check for an empty required cell, which takes no message of ours.
_REQUIRED = {"not_nullable": "required: this cell is empty"}


def _order_problem(start: str, end: str) -> str:
    return f"expected a date on or after the start ({end} is before {start})"


@lru_cache(maxsize=None)
def schema_for(table: str) -> pa.DataFrameSchema:
    declared = TABLES[table]
    columns = {}
    for col in declared.columns:
        checks = []
        if col.categories:
            checks.append(pa.Check.isin(col.categories, error="expected one of " + ", ".join(col.categories)))
        if col.non_negative:
            checks.append(pa.Check.ge(0, error="expected 0 or more"))
        columns[col.name] = pa.Column(nullable=not col.required, checks=checks, required=False)
    order = [pa.Check(lambda df, s=s, e=e: df[e].isna() | df[s].isna() | (df[e] >= df[s]), error=_order_problem(s, e))
             for s, e in declared.date_order]
    return pa.DataFrameSchema(columns, checks=order)


def validation_problems(table: str, frame: pd.DataFrame) -> list[tuple[object, str, str]]:
    """(frame index, column, problem) for every failing cell of cleaned rows."""
    try:
        schema_for(table).validate(frame, lazy=True)
        return []
    except SchemaErrors as errors:
        cases = errors.failure_cases
    # A row-level order check fails on the row: the report points at its end column.
    order_columns = {_order_problem(s, e): e for s, e in TABLES[table].date_order}
    out = {}
    for case in cases.itertuples(index=False):
        if pd.isna(case.index):
            continue
        check = str(case.check)
        out[(int(case.index), order_columns.get(check, case.column))] = _REQUIRED.get(check, check)
    return [(index, column, problem) for (index, column), problem in out.items()]
