"""Kaplan–Meier curves of time to an event with censoring, one way for every view: time to
leaving entertainment work (`impact.metrics.cohorts.time_to_exit`) and time from a case's
report to its verdict (`impact.metrics.justice.time_to_verdict`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

CURVE_COLUMNS = ["days", "share", "ci_low", "ci_high", "at_risk"]


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
