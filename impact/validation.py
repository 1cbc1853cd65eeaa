"""Per-table validation schemas, generated from the declarations in `impact.tables`.

pandera checks the cleaned rows lazily, so one pass gives every failure as a table; each
failure becomes a line of the issue report in the field team's words.
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from impact.tables import TABLES

_PROBLEMS = {
    "not_nullable": "required: this cell is empty",
    "greater_than_or_equal_to(0)": "expected 0 or more",
}


def _order_check(start: str, end: str) -> pa.Check:
    return pa.Check(lambda df: df[end].isna() | df[start].isna() | (df[end] >= df[start]),
                    name=_order_name(start, end), error=_order_name(start, end))


def _order_name(start: str, end: str) -> str:
    return f"{end} is before {start}"


@lru_cache(maxsize=None)
def schema_for(table: str) -> pa.DataFrameSchema:
    declared = TABLES[table]
    columns = {}
    for col in declared.columns:
        checks = []
        if col.categories:
            checks.append(pa.Check.isin(col.categories))
        if col.non_negative:
            checks.append(pa.Check.ge(0))
        columns[col.name] = pa.Column(nullable=not col.required, checks=checks, required=False)
    return pa.DataFrameSchema(columns, checks=[_order_check(s, e) for s, e in declared.date_order])


def validation_problems(table: str, frame: pd.DataFrame) -> list[tuple[object, str, str]]:
    """(frame index, column, problem) for every failing cell of cleaned rows."""
    try:
        schema_for(table).validate(frame, lazy=True)
        return []
    except SchemaErrors as errors:
        cases = errors.failure_cases
    order_checks = {_order_name(s, e): e for s, e in TABLES[table].date_order}
    out = {}
    for case in cases.itertuples(index=False):
        if pd.isna(case.index):
            continue
        check, column = str(case.check), case.column
        if check in order_checks:
            column, problem = order_checks[check], f"expected a date on or after the start ({check})"
        elif check.startswith("isin"):
            problem = "expected one of " + ", ".join(TABLES[table].column(column).categories)
        else:
            problem = _PROBLEMS.get(check, check)
        out[(int(case.index), column)] = problem
    return [(index, column, problem) for (index, column), problem in out.items()]
