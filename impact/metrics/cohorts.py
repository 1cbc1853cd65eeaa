"""Follow-up outcomes by intake cohort, and how long leaving entertainment work takes.

A stock rate such as job_exit_rate mixes women registered last month with women registered
three years ago. Donors and M&E officers also ask "of the women who came in a given quarter,
how many were out of entertainment work 3, 6 and 12 months later?", and "how long does it
take?". The cohorts are rows of the metric table (the cohort_* metrics over the
`cohort_milestones` fact, by intake_quarter and milestone), so a donor gets them protected;
`cohort_cells` lays those rows out one cell per quarter and milestone. Both views use only
at-risk women and known follow-ups, as the metric definitions do.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.metrics.engine import Selection, bounds, filtered
from impact.metrics.facts import in_period, participant_status
from impact.metrics.prepared import PARTICIPANT_DIMENSIONS
from impact.metrics.survival import kaplan_meier, life_table

COHORT_KEYS = ("cohort_exit_share", "cohort_lost_to_followup", "cohort_not_yet_due")
COHORT_BY = ("intake_quarter", "milestone")
CELL_COUNTS = ("out_of_entertainment", "in_entertainment", "lost_to_followup", "not_yet_due")


def cohort_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """The cohort metrics' rows (by intake_quarter and milestone; exact, or protected for a
    donor) as one cell each: out_of_entertainment, in_entertainment (found in it: the exit
    share's denominator minus its numerator), lost_to_followup, due (found or lost),
    not_yet_due, share_out with its interval, share_lost, and suppressed (any count of the
    cell withheld). Cells with nobody registered are left out."""
    columns = ["intake_quarter", "milestone", "participants", *CELL_COUNTS, "due", "share_out", "ci_low", "ci_high",
               "share_lost", "suppressed"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    wide = rows.pivot_table(index=list(COHORT_BY), columns="metric", aggfunc="first", dropna=False,
                            values=["numerator", "denominator", "value", "ci_low", "ci_high"]
                            + (["suppressed"] if "suppressed" in rows else []))
    exit_, lost, later = COHORT_KEYS

    def get(field, key):
        return wide[(field, key)].astype(float) if (field, key) in wide else pd.Series(np.nan, index=wide.index)
    out = pd.DataFrame(index=wide.index)
    out["out_of_entertainment"] = get("numerator", exit_)
    out["in_entertainment"] = get("denominator", exit_) - get("numerator", exit_)
    out["lost_to_followup"] = get("numerator", lost)
    out["due"] = get("denominator", lost)
    out["not_yet_due"] = get("value", later)
    out["participants"] = out["due"] + out["not_yet_due"]
    out["share_out"], out["ci_low"], out["ci_high"] = get("value", exit_), get("ci_low", exit_), get("ci_high", exit_)
    out["share_lost"] = get("value", lost)
    out["suppressed"] = wide["suppressed"].fillna(False).astype(bool).any(axis=1) if "suppressed" in rows else False
    out = out.reset_index()
    out = out[(out["participants"] > 0) | out["suppressed"]]
    return out.sort_values(list(COHORT_BY)).reset_index(drop=True)[columns]


def _at_risk_registered(prepared, selection: Selection, today) -> pd.DataFrame:
    """The participant_status fact as at the selection's end, for the at-risk women registered
    in its period who pass its filters."""
    start, end = bounds(selection, today)
    status = filtered(prepared, participant_status(prepared, None, end), selection, PARTICIPANT_DIMENSIONS)
    return status[status["at_risk"].to_numpy() & in_period(status["intake_date"], start, end)]


def time_to_exit(prepared, selection: Selection = Selection(),
                 today: dt.date | None = None) -> tuple[pd.DataFrame, dict]:
    """Kaplan–Meier estimate of the days from intake to first exit.

    Population: at-risk women registered in the selection with a known follow-up by its end.
    Event: her first exit (`participant_status.first_exit`); otherwise censored at her last
    known follow-up. Days before intake (a follow-up dated before registration) count as 0.

    curve: days, share_still_in (the survival function), its 95% log-log interval
    (ci_low, ci_high), at_risk (women still followed and in work just before that day); one
    row per distinct day, starting at day 0.
    summary: n, exits, censored, median_days (first day the share still in is at or below
    one half; None when never reached) and its 95% interval median_ci_low / median_ci_high
    (the days where the interval's lower / upper bound first reach one half).
    """
    days, exited, _ = _intake_to_exit(prepared, selection, today)
    curve, summary = kaplan_meier(days, exited)
    summary["exits"] = summary.pop("events")
    return curve.rename(columns={"share": "share_still_in"}), summary


def _intake_to_exit(prepared, selection: Selection, today: dt.date | None):
    """(days, exited, record keys) of the women `time_to_exit` follows: days from intake to her
    first exit, or to her last known follow-up (censored)."""
    women = _at_risk_registered(prepared, selection, today)
    women = women[women["known"]]
    exited = women["first_exit"].notna().to_numpy()
    until = women["first_exit"].where(exited, women["last_known"])
    days = np.clip((until - women["intake_date"]).dt.days.to_numpy(dtype=float), 0, None)
    return days, exited, women["record_key"].to_numpy(dtype=np.int64)


def exit_life_table(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """The time to exit as a life table (`impact.metrics.survival.life_table`): per interval
    since intake, the women still in entertainment work and followed at its start and the
    exits within it, so a donor sees protected counts (or none) and the curve drawn from them."""
    start, end = bounds(selection, today)
    return life_table("exit_life_table", *_intake_to_exit(prepared, selection, today), start, end)
