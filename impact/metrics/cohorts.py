"""Follow-up outcomes by intake cohort, and how long leaving entertainment work takes.

A stock rate such as job_exit_rate mixes women registered last month with women registered
three years ago. Donors and M&E officers also ask "of the women who came in a given quarter,
how many were out of entertainment work 3, 6 and 12 months later?", and "how long does it
take?". Both views use only at-risk women (`participant_status.at_risk`) and known
follow-ups (`Prepared.followups`), as the metric definitions do.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.metrics.facts import participant_status
from impact.metrics.intervals import rate, ratio
from impact.metrics.engine import Selection, bounds
from impact.present.formatting import quarters
from impact.metrics.subsets import registered_in
from impact.metrics.survival import kaplan_meier

WINDOW_DAYS = 45   # a follow-up within 45 days of a milestone tells her status at it


def _at_risk_registered(prepared, selection: Selection, today) -> pd.DataFrame:
    """participant_status as at the selection's end, for the at-risk women registered in the
    selection (period and filters)."""
    _, end = bounds(selection, today)
    status = participant_status(prepared, None, end)
    return status[np.isin(status["pidx"], registered_in(prepared, selection, today)) & status["at_risk"]]


def followup_cohorts(prepared, selection: Selection = Selection(), milestones=(3, 6, 12),
                     today: dt.date | None = None) -> pd.DataFrame:
    """At-risk women by intake quarter and milestone: her status m months after intake.

    A woman counts for milestone m when intake + m months is on or before the selection's
    end. Her status at m is the known follow-up closest to that date within ±45 days (on a
    tie, the later one), among follow-ups dated by the selection's end (as every stock is);
    with none she is lost to follow-up. share_out = out / (out + in) with its Wilson
    interval, NaN when nobody was found; share_lost = lost / participants.
    """
    _, end = bounds(selection, today)
    women = _at_risk_registered(prepared, selection, today)[["pidx", "intake_date"]]
    women = women.assign(cohort=quarters(women["intake_date"]))
    due = pd.concat([women.assign(milestone_months=m, due=women["intake_date"] + pd.DateOffset(months=m))
                     for m in milestones], ignore_index=True)
    due = due[due["due"] <= end].reset_index(names="row")

    f = prepared.followups[prepared.followups["followup_date"] <= end]
    near = due[["row", "pidx", "due"]].merge(f[["pidx", "followup_date", "employment_status"]], on="pidx")
    near["gap"] = (near["followup_date"] - near["due"]).abs()
    near = near[near["gap"] <= pd.Timedelta(days=WINDOW_DAYS)]
    near = near.sort_values(["row", "gap", "followup_date"], ascending=[True, True, False]) \
        .drop_duplicates("row")
    in_work = pd.Series(near["employment_status"].to_numpy() == "entertainment_work", index=near["row"])
    found_in_work = due["row"].map(in_work)                  # True / False / NaN when lost
    due["in"], due["out"] = found_in_work.eq(True), found_in_work.eq(False)

    out = due.groupby(["cohort", "milestone_months"], sort=True).agg(
        participants=("row", "size"), out_of_entertainment=("out", "sum"), in_entertainment=("in", "sum")
    ).reset_index()
    out["lost_to_followup"] = out["participants"] - out["out_of_entertainment"] - out["in_entertainment"]
    found = out["out_of_entertainment"] + out["in_entertainment"]
    out["share_out"], out["ci_low"], out["ci_high"] = rate(out["out_of_entertainment"], found)
    out["share_lost"] = ratio(out["lost_to_followup"], out["participants"])
    return out


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
    women = _at_risk_registered(prepared, selection, today)
    women = women[women["known"]]
    exited = women["first_exit"].notna().to_numpy()
    until = women["first_exit"].where(exited, women["last_known"])
    days = np.clip((until - women["intake_date"]).dt.days.to_numpy(dtype=float), 0, None)
    curve, summary = kaplan_meier(days, exited)
    summary["exits"] = summary.pop("events")
    return curve.rename(columns={"share": "share_still_in"}), summary
