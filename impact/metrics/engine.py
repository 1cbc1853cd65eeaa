"""One engine for every metric of the catalog, any selection, any breakdown.

The output is one long table: metric, period start and end, the group's dimensions,
numerator, denominator, value and 95% interval. A ratio is always sum over sum within its
group, so group numerators and denominators add up to the total's. A rate with no
denominator is "no data" (NaN), never 0%. Asked for, each cell also gets its contributors'
key sums (`numerator_key`, `denominator_key`: the record keys of the rows its numerator and
its denominator count, summed mod KEY_MODULUS), which donor views' disclosure step consumes
(`impact.disclosure.donor_table`) and nobody is shown.
"""
from __future__ import annotations

import ast
import datetime as dt
import functools
import operator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impact.disclosure import KEY_COLUMNS, KEY_MODULUS
from impact.metrics.catalog import CATALOG, ROWS, Kind, Metric, metric
from impact.metrics.facts import FACTS, Fact
from impact.metrics.intervals import rate, ratio
from impact.metrics.prepared import PARTICIPANT_DIMENSIONS, Prepared

DIMENSIONS = PARTICIPANT_DIMENSIONS + ("course", "course_type", "group_type", "latest_status", "intake_quarter",
                                       "milestone", "activity_type", "service_type", "referred_by", "network", "role",
                                       "training", "case_type", "recruiter_relation")
TIME_GRAINS = {"month": "MS", "quarter": "QS", "year": "YS"}
METRIC_COLUMNS = ["metric", "kind", "numerator", "denominator", "value", "ci_low", "ci_high", "note"]
RESULT_COLUMNS = METRIC_COLUMNS[:2] + ["period_start", "period_end"] + METRIC_COLUMNS[2:]
# Notes of a row without a value.
NO_DATA = "no data"                        # a rate or amount without a denominator
NOT_REPORTED = "not reported yet"          # a period that starts after its data's latest record
CANNOT_FILTER = "cannot be filtered by "   # followed by the filters its fact cannot take


@dataclass(frozen=True)
class Selection:
    """A period [start, end], both inclusive (no start: from the first record; no end: today),
    and filters: dimension -> allowed values."""
    start: dt.date | None = None
    end: dt.date | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.filters) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"cannot filter by {', '.join(sorted(unknown))}; dimensions: {', '.join(DIMENSIONS)}")


def bounds(selection: Selection, today: dt.date | None = None) -> tuple[pd.Timestamp | None, pd.Timestamp]:
    """(start, end) of a selection as timestamps: no end is today; start None means from the
    first record (a flow then counts everything up to the end)."""
    end = pd.Timestamp(selection.end or today or dt.date.today())
    return (pd.Timestamp(selection.start) if selection.start else None), end


def grid(prepared: Prepared, start: pd.Timestamp | None, end: pd.Timestamp,
         grain: str | None) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The periods of a selection's bounds: from its start, or without one from the data's
    first date (the selection's end when there is no data)."""
    return periods(start if start is not None else (prepared.first_date or end), end, grain)


def periods(start: pd.Timestamp, end: pd.Timestamp, grain: str | None) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Calendar months, quarters or years covering [start, end], clipped to it."""
    if grain is None:
        return [(start, end)]
    step = pd.tseries.frequencies.to_offset(TIME_GRAINS[grain])
    begin = start.to_period(grain[0].upper()).start_time
    out = []
    while begin <= end:
        out.append((max(begin, start), min(begin + step - pd.Timedelta(days=1), end)))
        begin += step
    return out


def _dimension(prepared: Prepared, fact: pd.DataFrame, name: str) -> pd.Categorical:
    """A dimension's value for every row of a fact: its own column, or its participant's."""
    if name in fact.columns:
        return fact[name]
    source = prepared.participants[name].cat
    pidx = fact["pidx"].to_numpy()
    codes = np.append(source.codes.to_numpy(), -1)[pidx]   # pidx -1 (not registered) -> code -1
    return pd.Categorical.from_codes(codes, categories=source.categories)


def dimension_values(prepared: Prepared, dimension: str) -> list[str]:
    """Every value a dimension takes in the data (in any table with that column): the values a
    filter on it can match."""
    frames = (prepared.participants, prepared.enrollments, prepared.followups, prepared.services,
              prepared.savings, prepared.activities)
    return sorted({str(v) for frame in frames if dimension in frame.columns for v in frame[dimension].dropna().unique()})


def filters_left_out(selection: Selection, keys: tuple[str, ...]) -> tuple[str, ...]:
    """The selection's filters that some of these metrics cannot take (a program filter on
    network members: a network belongs to an organization and a site, not to a program)."""
    dimensions = set.intersection(*(set(FACTS[metric(k).fact].dimensions) for k in keys))
    return tuple(sorted(set(selection.filters) - dimensions))


def latest_record(prepared: Prepared, fact: str | None = None, filters: dict[str, tuple[str, ...]] | None = None,
                  until: dt.date | None = None) -> pd.Timestamp | None:
    """The latest date of a fact's records (of any fact's, without one) within filters
    (dimension -> values) and up to `until`. Field workbooks arrive weeks late, and not every
    organization's at once, so the months after it are not reported yet, rather than empty.
    A donor's is taken within her link's scope and period, so it says nothing of the rest."""
    dates = [d[d <= pd.Timestamp(until)] if until else d for d in _record_dates(prepared, fact, filters or {})]
    dates = [d.max() for d in dates]
    dates = [d for d in dates if pd.notna(d)]
    return max(dates) if dates else None


def first_record(prepared: Prepared, filters: dict[str, tuple[str, ...]]) -> pd.Timestamp | None:
    """The earliest date of any record within filters (dimension -> values): where the data of
    an organization, program or site begins."""
    dates = [d.min() for d in _record_dates(prepared, None, filters)]
    dates = [d for d in dates if pd.notna(d)]
    return min(dates) if dates else None


def _record_dates(prepared: Prepared, fact: str | None, filters: dict[str, tuple[str, ...]]) -> list[pd.Series]:
    """The record dates of a fact (of every fact, without one) within filters. A fact that
    cannot be filtered by them gives none: an activity belongs to a site, not to a program."""
    selection = Selection(filters=filters)
    return [filtered(prepared, getattr(prepared, spec.source[0]), selection)[spec.source[1]]
            for name, spec in FACTS.items() if fact in (None, name) and set(filters) <= set(spec.dimensions)]


def measure(fact: pd.DataFrame, expression: str | None) -> np.ndarray:
    """A catalog expression (a numerator or denominator) over a fact's rows, one float a row:
    the engine's evaluation, for the views made beside it (savings groups, services by type)."""
    if expression is None:
        return np.full(len(fact), np.nan)
    if expression == ROWS:
        return np.ones(len(fact))
    values = np.asarray(_evaluate(_parsed(expression), fact), dtype=float)
    return values if values.shape == (len(fact),) else np.full(len(fact), values)


_COMPARISONS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
                ast.Gt: operator.gt, ast.GtE: operator.ge}


@functools.cache
def _parsed(expression: str) -> ast.expr:
    return ast.parse(expression, mode="eval").body


def _evaluate(node: ast.expr, fact: pd.DataFrame):
    """A catalog expression (the syntax `impact.metrics.catalog` allows) over a fact's columns,
    as `DataFrame.eval` reads it, without its parser and resolvers on every call (those were
    most of a selection's time spent on its numerators and denominators)."""
    match node:
        case ast.Name(id=name):                            # a category as a Series (its codes compare)
            column = fact[name]
            return column if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()
        case ast.Constant(value=value):
            return value
        case ast.List(elts=items) | ast.Tuple(elts=items):
            return [_evaluate(item, fact) for item in items]
        case ast.Compare(left=left, ops=ops, comparators=rights):
            result, left = True, _evaluate(left, fact)
            for op, right in zip(ops, rights):
                right = _evaluate(right, fact)
                if isinstance(op, (ast.In, ast.NotIn)):
                    part = np.isin(left, right) if isinstance(left, np.ndarray) else left.isin(right)
                    part = ~part if isinstance(op, ast.NotIn) else part
                else:
                    part = _COMPARISONS[type(op)](left, right)
                result, left = result & part, right
            return result
        case ast.BoolOp(op=op, values=values):
            return _combined(op, [_evaluate(v, fact) for v in values])
        case ast.BinOp(left=left, op=op, right=right):
            return _combined(op, [_evaluate(left, fact), _evaluate(right, fact)])
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_evaluate(operand, fact)
        case ast.UnaryOp(operand=operand):                  # ~ and not
            return ~_evaluate(operand, fact)
    raise ValueError(f"a metric expression may not use {type(node).__name__}")


def _combined(op: ast.operator | ast.boolop, parts: list):
    return functools.reduce(operator.and_ if isinstance(op, (ast.And, ast.BitAnd)) else operator.or_, parts)


def compute(prepared: Prepared, selection: Selection = Selection(), by: tuple[str, ...] = (),
            keys: tuple[str, ...] | None = None, today: dt.date | None = None,
            cell_keys: bool = False) -> pd.DataFrame:
    """The long metric table for a selection, broken down by up to two dimensions and/or one
    time grain. Metrics that cannot be broken down by a requested dimension are left out;
    those that cannot take a filter come back as NaN with a note saying why. With
    `cell_keys`, the table has the cells' key sums too (for a donor's disclosure step only)."""
    grain = next((b for b in by if b in TIME_GRAINS), None)
    dims = [b for b in by if b not in TIME_GRAINS]
    if set(dims) - set(DIMENSIONS) or len(dims) > 2 or sum(b in TIME_GRAINS for b in by) > 1:
        raise ValueError(f"break down by at most two of {', '.join(DIMENSIONS)} and one of month, quarter, year")
    start, end = bounds(selection, today)
    metrics = [metric(k) for k in keys] if keys else list(CATALOG)
    parts: list[dict[str, np.ndarray]] = []
    chosen: dict[tuple[str, ...], np.ndarray] = {}   # participants chosen, per set of participant filters
    for i, (period_start, period_end) in enumerate(grid(prepared, start, end, grain)):
        # "All time" flows count everything up to the end, even rows dated before the first intake.
        flow_start = period_start if start is not None or i > 0 else None
        facts: dict[str, pd.DataFrame] = {}     # each fact built and filtered once per period
        for m in metrics:
            fact = FACTS[m.fact]
            if not set(dims) <= set(fact.dimensions):
                continue
            unfilterable = sorted(set(selection.filters) - set(fact.dimensions))
            if unfilterable:
                parts.append(_rows(m, {d: np.array([None], dtype=object) for d in dims}, period_start, period_end,
                                   np.array([np.nan]), np.array([np.nan]), note=CANNOT_FILTER + ", ".join(unfilterable)))
                continue
            if m.fact not in facts:
                facts[m.fact] = _built(prepared, fact, selection, flow_start, period_end, chosen)
            parts.append(_one(prepared, m, facts[m.fact], dims, period_start, period_end, cell_keys))
    columns = RESULT_COLUMNS[:4] + dims + RESULT_COLUMNS[4:] + (list(KEY_COLUMNS) if cell_keys else [])
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in columns})
    for column in ("period_start", "period_end"):
        out[column] = pd.to_datetime(out[column])
    return out


def reported(prepared: Prepared, table: pd.DataFrame, organizations=None) -> pd.DataFrame:
    """A metric table where every period that starts after the latest record of its metric's
    fact (for the organizations, all without them: `latest_record`) is "not reported yet":
    no value, no numerator or denominator, the note NOT_REPORTED. Field workbooks arrive
    weeks late, so such a period is unknown, not empty; a 0 there would read as a collapse,
    and a change since the period before as a loss. A fact without any record keeps its rows
    as they are (no data, or 0 for a count): there is no latest record to be after."""
    if table.empty:
        return table
    filters = {"organization": tuple(organizations)} if organizations else {}
    reach = {fact: latest_record(prepared, fact, filters) for fact in {metric(k).fact for k in table["metric"]}}
    limit = pd.to_datetime(table["metric"].map(lambda key: reach[metric(key).fact] or pd.NaT))
    after = (limit.notna() & (table["period_start"] > limit)).to_numpy()   # no records at all: no data
    if not after.any():
        return table
    out = table.copy()
    out.loc[after, ["numerator", "denominator", "value", "ci_low", "ci_high"]] = np.nan
    out.loc[after, "note"] = NOT_REPORTED
    return out


def reported_metrics(prepared: Prepared, selection: Selection = Selection(), by: tuple[str, ...] = (),
                     keys: tuple[str, ...] | None = None, today: dt.date | None = None,
                     cell_keys: bool = False) -> pd.DataFrame:
    """`compute`, with the periods after the data's reach for the selection's organizations
    marked "not reported yet" (`reported`): the table every view of the dashboard reads."""
    return reported(prepared, compute(prepared, selection, by, keys, today, cell_keys),
                    selection.filters.get("organization"))


def _built(prepared: Prepared, fact: Fact, selection: Selection, start, end,
           chosen: dict[tuple[str, ...], np.ndarray]) -> pd.DataFrame:
    """A fact for a period, passing the selection's filters. A fact of participants' rows is
    built over the participants the filters on their attributes choose (only their rows are
    read, `Fact.of_participants`); the filters on its rows' own columns apply to what it gives."""
    by_participant = {name: allowed for name, allowed in selection.filters.items()
                      if fact.of_participants and name in PARTICIPANT_DIMENSIONS and name not in fact.columns}
    if not by_participant:
        return filtered(prepared, fact.build(prepared, start, end), selection)
    names = tuple(sorted(by_participant))
    if names not in chosen:
        chosen[names] = participant_mask(prepared, np.arange(len(prepared.participants)), by_participant)
    own = {name: allowed for name, allowed in selection.filters.items() if name not in by_participant}
    return filtered(prepared, fact.build(prepared, start, end, among=chosen[names]), Selection(filters=own))


def filtered(prepared: Prepared, fact: pd.DataFrame, selection: Selection,
             dimensions: tuple[str, ...] = DIMENSIONS) -> pd.DataFrame:
    """The rows of a fact (or of any table with a pidx) that pass the selection's filters on
    `dimensions`: by the row's own column where it has one (an activity's site, a ledger's
    organization), else by its participant's. Filters on other dimensions do not apply."""
    keep = np.ones(len(fact), dtype=bool)
    for name, allowed in selection.filters.items():
        if name not in dimensions:
            continue
        if name in fact.columns:
            keep &= fact[name].isin(allowed).to_numpy()
        else:
            keep &= participant_mask(prepared, fact["pidx"].to_numpy(), {name: allowed})
    return fact[keep]


def participant_mask(prepared: Prepared, pidx, filters: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Whether each pidx passes filters on participant attributes. An unregistered person
    (pidx -1) has no attributes: she passes only when there is no filter."""
    pidx = np.asarray(pidx, dtype=np.int64)
    keep = np.ones(len(pidx), dtype=bool)
    for name, allowed in filters.items():
        column = prepared.participants[name].cat
        ok = np.append(column.categories.isin(list(allowed)), False)   # code -1 -> False
        keep &= ok[np.append(column.codes.to_numpy(), -1)[pidx]]      # pidx -1 -> code -1
    return keep


def _one(prepared: Prepared, m: Metric, fact: pd.DataFrame, dims: list[str],
         period_start, period_end, with_keys: bool) -> dict[str, np.ndarray]:
    """One metric's rows; its cells' key sums only when asked for (a third of its sums)."""
    num, den = measure(fact, m.numerator), measure(fact, m.denominator)
    if m.kind == Kind.MEDIAN:
        return _median(prepared, m, fact, dims, period_start, period_end, num, den)
    sums = {"numerator": num, "denominator": den}
    if with_keys:
        record_keys = fact["record_key"].to_numpy(dtype=np.int64)
        # A row contributes to a cell's numerator (denominator) when it counts there: not 0, not NaN.
        sums |= {"numerator_key": np.where((num != 0) & ~np.isnan(num), record_keys, 0),
                 "denominator_key": np.where((den != 0) & ~np.isnan(den), record_keys, 0)}
    if dims:
        groups, sums = _grouped_sums(prepared, fact, dims, sums)
    else:
        groups, sums = {}, {c: np.array([np.nansum(v)]) for c, v in sums.items()}
    num, den = sums["numerator"].astype(float), sums["denominator"].astype(float)
    cell_keys = {c: sums[c].astype(np.int64) % KEY_MODULUS for c in KEY_COLUMNS} if with_keys else None
    if m.kind == Kind.COUNT:
        return _rows(m, groups, period_start, period_end, num, den, value=num, cell_keys=cell_keys)
    if m.kind == Kind.RATE:
        value, low, high = rate(num, den)
        return _rows(m, groups, period_start, period_end, num, den, value=value, interval=(low, high),
                     cell_keys=cell_keys)
    return _rows(m, groups, period_start, period_end, num, den, value=ratio(num, den), cell_keys=cell_keys)


def _grouped_sums(prepared: Prepared, fact: pd.DataFrame, dims: list[str],
                  sums: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each column summed per group of the dimensions' values (NaN counts 0): the groups that
    have rows, in the order of their values (a category's order; a missing value last), as
    pandas' `groupby(observed=True, dropna=False, sort=True)` gives them, with one
    `np.bincount` per column instead. Integer columns (key sums) are summed exactly."""
    group = np.zeros(len(fact), dtype=np.int64)
    labels = []
    for d in dims:
        values = _dimension(prepared, fact, d)
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes, uniques = np.asarray(pd.Categorical(values).codes, dtype=np.int64), values.dtype.categories
        else:
            codes, uniques = pd.factorize(values, sort=True)
        codes = np.where(codes < 0, len(uniques), codes)            # a missing value after every other
        group = group * (len(uniques) + 1) + codes
        labels.append(np.append(np.asarray(uniques, dtype=object), np.nan))
    size = int(np.prod([len(values) for values in labels]))
    if size <= max(4 * len(group), 1 << 16):                        # few enough groups: no sort
        present = np.flatnonzero(np.bincount(group, minlength=size))
        slot = np.zeros(size, dtype=np.int64)
        slot[present] = np.arange(len(present))
        group = slot[group]
    else:
        present, group = np.unique(group, return_inverse=True)
    out = {}
    for column, values in sums.items():
        if values.dtype.kind == "i":                                # exact: two halves of 31-bit keys
            high = np.bincount(group, weights=values >> 16, minlength=len(present)).astype(np.int64)
            low = np.bincount(group, weights=values & 0xFFFF, minlength=len(present)).astype(np.int64)
            out[column] = (high << 16) + low
        else:
            out[column] = np.bincount(group, weights=np.where(np.isnan(values), 0.0, values), minlength=len(present))
    groups = {}
    for d, values in zip(reversed(dims), reversed(labels)):
        groups[d] = values[present % len(values)]
        present = present // len(values)
    return {d: groups[d] for d in dims}, out


def _median(prepared: Prepared, m: Metric, fact: pd.DataFrame, dims: list[str], period_start, period_end,
            num: np.ndarray, den: np.ndarray) -> dict[str, np.ndarray]:
    """A median metric's rows: the median of the numerator over the units the denominator
    counts, per group, with that count as the denominator. A median is no sum: the numerator
    column stays empty."""
    table = pd.DataFrame({d: _dimension(prepared, fact, d) for d in dims}, index=None if dims else range(len(fact)))
    table["value"], table["denominator"] = num, den
    table = table[den > 0]
    if dims:
        table = table.groupby(dims, observed=True, dropna=False, sort=True) \
            .agg(value=("value", "median"), denominator=("denominator", "sum")).reset_index()
        groups = {d: table[d].astype(object).to_numpy() for d in dims}
        value, den = table["value"].to_numpy(dtype=float), table["denominator"].to_numpy(dtype=float)
    else:
        groups = {}
        value = np.array([np.median(table["value"]) if len(table) else np.nan])
        den = np.array([table["denominator"].sum()], dtype=float)
    return _rows(m, groups, period_start, period_end, np.full(len(den), np.nan), den, value=value)


def _rows(m: Metric, groups: dict[str, np.ndarray], period_start, period_end, num: np.ndarray, den: np.ndarray,
          value: np.ndarray | None = None, interval=None, note: str | None = None,
          cell_keys: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Result rows of one metric in one period, as columns (one frame is made at the end);
    without cell keys (no data to count), key sums 0."""
    n = len(num)
    cell_keys = cell_keys or {c: np.zeros(n, np.int64) for c in KEY_COLUMNS}
    value = np.full(n, np.nan) if value is None else np.asarray(value, dtype=float)
    low, high = (np.full(n, np.nan), np.full(n, np.nan)) if interval is None else interval
    counted = m.kind == Kind.COUNT
    return {"metric": np.full(n, m.key, dtype=object), "kind": np.full(n, m.kind.value, dtype=object),
            "period_start": np.full(n, period_start, dtype=object), "period_end": np.full(n, period_end, dtype=object),
            **groups,
            "numerator": np.full(n, np.nan) if counted else np.asarray(num, dtype=float),
            "denominator": np.full(n, np.nan) if counted else np.asarray(den, dtype=float),
            "value": value, "ci_low": np.asarray(low, dtype=float), "ci_high": np.asarray(high, dtype=float),
            "note": np.full(n, note, dtype=object) if note is not None else
            np.where(np.isnan(value), NO_DATA, "").astype(object), **cell_keys}


def as_metric_rows(frame: pd.DataFrame, key: str, dimension: str, numerator: str, denominator: str) -> pd.DataFrame:
    """A breakdown made outside the engine (per savings group, per service type) in the engine's
    long shape, so charts and disclosure take it as any metric: value = numerator /
    denominator (no data without a denominator), with the Wilson interval for a rate."""
    m = metric(key)
    num = frame[numerator].to_numpy(dtype=float)
    den = frame[denominator].to_numpy(dtype=float)
    value, low, high = rate(num, den) if m.kind == Kind.RATE else (ratio(num, den), *(np.full(len(frame), np.nan),) * 2)
    out = pd.DataFrame({dimension: frame[dimension].to_numpy(), "metric": key, "kind": m.kind.value,
                        "numerator": num, "denominator": den, "value": value, "ci_low": low, "ci_high": high})
    out["note"] = np.where(np.isnan(value), NO_DATA, "")
    return out[[dimension] + METRIC_COLUMNS]
