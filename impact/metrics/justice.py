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

from impact.metrics.catalog import Kind
from impact.metrics.engine import Selection, bounds, filtered
from impact.metrics.facts import FACTS, cases_reported
from impact.metrics.survival import engine_rows, kaplan_meier, key_sums, life_table

# Steps of the pathway: the cases_reported fact's column that says a case reached it by the
# period's end. The first step is a count; the others are shares of it (rates), so a step
# close to the cases reported ("all but 3 were charged") is protected as a small difference.
PATHWAY = (("reported", None), ("rescued", "rescued"), ("charged", "charged"),
           ("verdict", "verdict_reached"), ("convicted", "convicted"))


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
        return engine_rows("case_pathway", "step", steps, nothing, nothing, kinds, start, end,
                           note=f"cannot be filtered by {', '.join(_left_out(selection))}")
    start, end, cases = found
    every = np.ones(len(cases), dtype=bool)
    masks = [every] + [cases[column].to_numpy(dtype=bool) for _, column in PATHWAY[1:]]
    counts = np.array([float(m.sum()) for m in masks])
    keys = cases["record_key"].to_numpy(dtype=np.int64)
    return engine_rows("case_pathway", "step", steps, counts, np.full(len(steps), float(len(cases))), kinds, start, end,
                       count_keys=key_sums(keys, masks), base_keys=key_sums(keys, [every] * len(steps)))


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
    """The time to verdict as a life table (`impact.metrics.survival.life_table`): per interval
    since the report, the cases still waiting at its start and the verdicts within it, so a
    donor sees protected counts (or none) and the curve drawn from them."""
    found = _report_to_verdict(prepared, selection, today)
    start, end = bounds(selection, today)
    if found is None:
        return life_table("verdict_life_table", None, None, None, start, end,
                          note=f"cannot be filtered by {', '.join(_left_out(selection))}")
    return life_table("verdict_life_table", *found, start, end)
