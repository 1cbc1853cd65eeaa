"""The justice pathway beside the catalog's metrics: what became of the cases reported in a
period (reported → survivors rescued → charged → verdict → convicted), and how long a verdict
takes, as a Kaplan–Meier curve for staff and as a life table of counts a donor may see.

Both read the cases through the engine's own pieces (the `cases_reported` fact, its filters,
period bounds) and return rows in the engine's long shape (metric, kind, period, the step or
interval, numerator, denominator, value, interval, note), so a donor's view of them goes
through the same disclosure step as any metric table (`impact.access.protection.protected_rows`).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.disclosure import KEY_COLUMNS, KEY_MODULUS
from impact.metrics.catalog import Kind
from impact.metrics.engine import METRIC_COLUMNS, Selection, bounds, filtered
from impact.metrics.facts import FACTS, cases_reported
from impact.metrics.intervals import rate
from impact.metrics.survival import kaplan_meier

# Steps of the pathway: the cases_reported fact's column that says a case reached it by the
# period's end. The first step is a count; the others are shares of it (rates), so a step
# close to the cases reported ("all but 3 were charged") is protected as a small difference.
PATHWAY = (("reported", None), ("rescued", "rescued"), ("charged", "charged"),
           ("verdict", "verdict_reached"), ("convicted", "convicted"))
# The life table's intervals: their first day since the report (the last runs on).
INTERVAL_STARTS = (0, 91, 182, 365, 730, 1095)


def _left_out(selection: Selection) -> list[str]:
    """The selection's filters cases cannot take (a program, an age band: a case is not one woman)."""
    return sorted(set(selection.filters) - set(FACTS["cases_reported"].dimensions))


def _cases(prepared, selection: Selection, today: dt.date | None):
    """(start, end, cases reported in the selection with how far they went), or None when a
    filter cannot apply."""
    start, end = bounds(selection, today)
    if _left_out(selection):
        return None
    return start, end, filtered(prepared, cases_reported(prepared, start, end), selection)


def _key_sums(keys: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """The cell keys of counts: per mask, the sum of the keys of the cases it counts, mod KEY_MODULUS."""
    return np.array([int(keys[m].sum()) % KEY_MODULUS for m in masks], dtype=np.int64)


def _shaped(metric: str, dimension: str, labels, counts: np.ndarray, bases: np.ndarray, kinds: list[str],
            start, end, note: str = "", count_keys: np.ndarray | None = None,
            base_keys: np.ndarray | None = None) -> pd.DataFrame:
    """Rows in the engine's long shape; a rate's value is counts / bases with its interval.
    Each row is its own figure (metric `<metric>:<label>`): steps and intervals are nested,
    not parts of a whole, so disclosure control looks for no sum to work a hidden one back from.
    The cell keys of counts and bases (engine's `numerator_key`, `denominator_key`) come
    with them, so a donor's rows get their noise like any metric's."""
    value, low, high = rate(counts, bases)
    is_count = np.array(kinds) == Kind.COUNT
    out = pd.DataFrame({dimension: list(labels), "metric": [f"{metric}:{label}" for label in labels], "kind": kinds,
                        "numerator": np.where(is_count, np.nan, counts), "denominator": np.where(is_count, np.nan, bases),
                        "value": np.where(is_count, counts, value), "ci_low": np.where(is_count, np.nan, low),
                        "ci_high": np.where(is_count, np.nan, high)})
    out["note"] = note or np.where(np.isnan(out["value"]), "no data", "")
    out.insert(3, "period_start", pd.Timestamp(start) if start is not None else pd.NaT)
    out.insert(4, "period_end", pd.Timestamp(end))
    zeros = np.zeros(len(out), dtype=np.int64)
    out["numerator_key"] = zeros if count_keys is None else count_keys
    out["denominator_key"] = zeros if base_keys is None else base_keys
    return out[[dimension, "metric", "kind", "period_start", "period_end"] + METRIC_COLUMNS[2:] + list(KEY_COLUMNS)]


def case_pathway(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """One row per step: the cases reported in the period (a count), then of them those whose
    survivors were rescued, in which a suspect was charged, that reached a final verdict
    (convicted, acquitted, dismissed) and that ended in a conviction by the period's end (rates
    of the cases reported). With a filter cases cannot take, every value is no data, with a note."""
    found = _cases(prepared, selection, today)
    steps = [s for s, _ in PATHWAY]
    kinds = [Kind.COUNT.value] + [Kind.RATE.value] * (len(PATHWAY) - 1)
    if found is None:
        nothing = np.full(len(steps), np.nan)
        start, end = bounds(selection, today)
        return _shaped("case_pathway", "step", steps, nothing, nothing, kinds, start, end,
                       note=f"cannot be filtered by {', '.join(_left_out(selection))}")
    start, end, cases = found
    every = np.ones(len(cases), dtype=bool)
    masks = [every] + [cases[column].to_numpy(dtype=bool) for _, column in PATHWAY[1:]]
    counts = np.array([float(m.sum()) for m in masks])
    keys = cases["record_key"].to_numpy(dtype=np.int64)
    return _shaped("case_pathway", "step", steps, counts, np.full(len(steps), float(len(cases))), kinds, start, end,
                   count_keys=_key_sums(keys, masks), base_keys=_key_sums(keys, [every] * len(steps)))


def _report_to_verdict(prepared, selection: Selection, today: dt.date | None):
    """(days, verdict reached, record keys) for the cases reported in the selection: days to
    the final verdict, or to the period's end for a case still waiting (censored)."""
    found = _cases(prepared, selection, today)
    if found is None:
        return None
    _, end, cases = found
    dates = prepared.cases.loc[cases.index]   # the fact keeps the cases' index
    reached = cases["verdict_reached"].to_numpy(dtype=bool)
    until = dates["verdict_date"].where(reached, end)
    return (np.clip((until - dates["reported_date"]).dt.days.to_numpy(dtype=float), 0, None), reached,
            cases["record_key"].to_numpy(dtype=np.int64))


def time_to_verdict(prepared, selection: Selection = Selection(),
                    today: dt.date | None = None) -> tuple[pd.DataFrame, dict]:
    """Kaplan–Meier estimate of the days from a case's report to its final verdict, for the
    cases reported in the selection; a case without one by the period's end is censored then.
    (curve, summary) as `impact.metrics.survival.kaplan_meier`, the share being the cases
    still waiting; a filter cases cannot take gives an empty curve."""
    found = _report_to_verdict(prepared, selection, today)
    days, reached = found[:2] if found is not None else (np.array([]), np.array([], dtype=bool))
    curve, summary = kaplan_meier(days, reached)
    summary["verdicts"] = summary.pop("events")
    return curve.rename(columns={"share": "share_waiting"}), summary


def verdict_life_table(prepared, selection: Selection = Selection(),
                       today: dt.date | None = None) -> pd.DataFrame:
    """The time to verdict as a life table: per interval since the report (0–90 days, 91–181,
    ...), the cases still waiting at its start (denominator) and the verdicts within it
    (numerator), a rate in the engine's shape, so a donor sees protected counts (or none) and
    the curve drawn from them; `waiting_after` chains the intervals' shares."""
    found = _report_to_verdict(prepared, selection, today)
    start, end = bounds(selection, today)
    labels = [f"{a}–{b - 1}" for a, b in zip(INTERVAL_STARTS, INTERVAL_STARTS[1:])] + [f"{INTERVAL_STARTS[-1]}+"]
    kinds = [Kind.RATE.value] * len(labels)
    if found is None:
        nothing = np.full(len(labels), np.nan)
        return _shaped("verdict_life_table", "interval", labels, nothing, nothing, kinds, start, end,
                       note=f"cannot be filtered by {', '.join(_left_out(selection))}")
    days, reached, keys = found
    edges = np.r_[INTERVAL_STARTS, np.inf]
    waiting = [days >= a for a in edges[:-1]]
    verdicts = [reached & (days >= a) & (days < b) for a, b in zip(edges[:-1], edges[1:])]
    return _shaped("verdict_life_table", "interval", labels, np.array([m.sum() for m in verdicts], dtype=float),
                   np.array([m.sum() for m in waiting], dtype=float), kinds, start, end,
                   count_keys=_key_sums(keys, verdicts), base_keys=_key_sums(keys, waiting))


def waiting_after(table: pd.DataFrame) -> np.ndarray:
    """The share of cases still waiting for a verdict at the end of each interval of a life
    table (exact or protected): the product of (1 - verdicts / waiting) so far; no data from
    the first interval whose share is withheld or empty on."""
    return np.cumprod(1 - table["value"].to_numpy(dtype=float))

