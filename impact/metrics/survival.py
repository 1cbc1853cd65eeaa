"""Time to an event with censoring, one way for every view: time to leaving entertainment
work (`impact.metrics.cohorts`) and time from a case's report to its verdict
(`impact.metrics.justice`). Staff see a Kaplan–Meier curve (`kaplan_meier`); a donor sees a
life table (`life_table`): per interval, the units still without the event at its start and
the events within it, as rows in the engine's long shape with their cell keys, so they go
through the donor's one disclosure step like any metric (a curve of exact steps would give
each exact event away).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from impact.disclosure import KEY_COLUMNS, KEY_MODULUS
from impact.metrics.catalog import Kind
from impact.metrics.engine import METRIC_COLUMNS
from impact.metrics.intervals import rate

CURVE_COLUMNS = ["days", "share", "ci_low", "ci_high", "at_risk"]
# The life table's intervals: their first day since the start (the last runs on).
INTERVAL_STARTS = (0, 91, 182, 365, 730, 1095)


def kaplan_meier(days: np.ndarray, observed: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """The survival function of `days` (the event's day where `observed`, else the day the
    unit was last seen without it).

    curve: days, share (still without the event), its 95% log-log interval (ci_low, ci_high),
    at_risk (units still followed and without the event just before that day); one row per
    distinct day, starting at day 0.
    summary: n, events, censored, median_days (first day the share is at or below one half;
    None when never reached) and its 95% interval median_ci_low / median_ci_high (the days
    where the interval's lower / upper bound first reach one half).
    """
    days, observed = np.asarray(days, dtype=float), np.asarray(observed, dtype=bool)
    summary = {"n": len(days), "events": int(observed.sum()), "censored": int((~observed).sum()),
               "median_days": None, "median_ci_low": None, "median_ci_high": None}
    if not len(days):
        return pd.DataFrame(columns=CURVE_COLUMNS, dtype=float), summary

    sf = stats.ecdf(stats.CensoredData(uncensored=days[observed], right=days[~observed])).sf
    with warnings.catch_warnings():   # undefined (NaN) where the curve is at 1 or 0: filled below
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(0.95, method="log-log")
    times = np.r_[0.0, sf.quantiles] if sf.quantiles[0] > 0 else sf.quantiles
    share = sf.evaluate(times)
    low = np.where(np.isnan(ci.low.evaluate(times)), share, ci.low.evaluate(times))
    high = np.where(np.isnan(ci.high.evaluate(times)), share, ci.high.evaluate(times))
    curve = pd.DataFrame({"days": times.astype(np.int64), "share": share, "ci_low": low, "ci_high": high,
                          "at_risk": len(days) - np.searchsorted(np.sort(days), times, side="left")})

    def first_day(values: np.ndarray) -> int | None:
        reached = np.flatnonzero(values <= 0.5 + 1e-12)
        return int(times[reached[0]]) if len(reached) else None

    summary.update(median_days=first_day(share), median_ci_low=first_day(low), median_ci_high=first_day(high))
    return curve, summary


def key_sums(keys: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """The cell keys of counts: per mask, the sum of the keys of the units it counts, mod KEY_MODULUS."""
    return np.array([int(keys[m].sum()) % KEY_MODULUS for m in masks], dtype=np.int64)


def engine_rows(metric: str, dimension: str, labels, counts: np.ndarray, bases: np.ndarray, kinds: list[str],
                start, end, note: str = "", count_keys: np.ndarray | None = None,
                base_keys: np.ndarray | None = None) -> pd.DataFrame:
    """Rows in the engine's long shape made beside it; a rate's value is counts / bases with
    its interval. Each row is its own figure (metric `<metric>:<label>`): steps and intervals
    are nested, not parts of a whole, so disclosure control looks for no sum to work a hidden
    one back from. The cell keys of counts and bases (the engine's `numerator_key`,
    `denominator_key`) come with them, so a donor's rows get their noise like any metric's."""
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


def life_table(metric: str, days: np.ndarray | None, observed: np.ndarray | None, keys: np.ndarray | None,
               start, end, note: str = "") -> pd.DataFrame:
    """Per interval since the start (0–90 days, 91–181, ...), the units still without the
    event at its start (denominator) and the events within it (numerator), as rates in the
    engine's shape with their cell keys. `days` None: no data, every row with `note`."""
    labels = [f"{a}–{b - 1}" for a, b in zip(INTERVAL_STARTS, INTERVAL_STARTS[1:])] + [f"{INTERVAL_STARTS[-1]}+"]
    kinds = [Kind.RATE.value] * len(labels)
    if days is None:
        nothing = np.full(len(labels), np.nan)
        return engine_rows(metric, "interval", labels, nothing, nothing, kinds, start, end, note=note)
    edges = np.r_[INTERVAL_STARTS, np.inf]
    waiting = [days >= a for a in edges[:-1]]
    events = [observed & (days >= a) & (days < b) for a, b in zip(edges[:-1], edges[1:])]
    return engine_rows(metric, "interval", labels, np.array([m.sum() for m in events], dtype=float),
                       np.array([m.sum() for m in waiting], dtype=float), kinds, start, end,
                       count_keys=key_sums(keys, events), base_keys=key_sums(keys, waiting))


def share_after(table: pd.DataFrame) -> np.ndarray:
    """The share still without the event at the end of each interval of a life table (exact
    or protected): the product of (1 - events / at risk) so far; no data from the first
    interval whose share is withheld or empty on."""
    return np.cumprod(1 - table["value"].to_numpy(dtype=float))
