"""Outreach and awareness activities, summed: how many were held, how many people they reached
and how many new contacts they made, in total or by activity type, organization, site or
period.

Activities belong to their own organization and site and have no participant, so they take
only those filters and the site's province (`impact.metrics.facts.ACTIVITY_DIMENSIONS`, as the
engine's activity facts); with any other filter the summary is empty rather than every program's figure shown as one's.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from impact.metrics.facts import ACTIVITY_DIMENSIONS, activities
from impact.metrics.engine import TIME_GRAINS, Selection, bounds, filtered, grid, latest_record

ACTIVITY_COUNTS = ("activities", "people_reached", "new_contacts")


def activity_filters_left_out(selection: Selection) -> tuple[str, ...]:
    """The selection's filters activities cannot take (they have no participant attributes)."""
    return tuple(sorted(set(selection.filters) - set(ACTIVITY_DIMENSIONS)))


def activity_summary(prepared, selection: Selection = Selection(), by: str | None = None,
                     today: dt.date | None = None) -> pd.DataFrame:
    """Activities (rows of the activity log), people reached and new contacts of the activities
    dated in the period, in total or by activity_type, organization, site, or month / quarter /
    year (then with period_start, period_end and every period of the selection up to the log's
    latest record, 0 where none: the periods after it are not reported yet and left out).
    Empty when nothing matches, or when a filter cannot apply (`activity_filters_left_out`)."""
    start, end = bounds(selection, today)
    keys = ["period_start", "period_end"] if by in TIME_GRAINS else [by] if by else []
    if activity_filters_left_out(selection):
        return pd.DataFrame(columns=keys + list(ACTIVITY_COUNTS))
    a = filtered(prepared, activities(prepared, start, end), selection)
    a = a.assign(activities=1.0, people_reached=a["reached"])
    if a.empty:
        return pd.DataFrame(columns=keys + list(ACTIVITY_COUNTS))
    if by in TIME_GRAINS:   # periods after the activity log's latest record: not reported yet, not 0
        organizations = selection.filters.get("organization")
        reach = latest_record(prepared, "activities", {"organization": organizations} if organizations else {})
        periods = [(s, e) for s, e in grid(prepared, start, end, by) if s <= reach]
        step = pd.DatetimeIndex([e for _, e in periods]).searchsorted(a["activity_date"], side="left")
        out = a.groupby(step)[list(ACTIVITY_COUNTS)].sum().reindex(range(len(periods)), fill_value=0)
        return pd.DataFrame({"period_start": [s for s, _ in periods], "period_end": [e for _, e in periods],
                             **{c: out[c].to_numpy(dtype=float) for c in ACTIVITY_COUNTS}})
    if not by:
        return a[list(ACTIVITY_COUNTS)].sum().to_frame().T.astype(float)
    out = a.groupby(by, observed=True)[list(ACTIVITY_COUNTS)].sum().reset_index()
    out[by] = out[by].astype(object)
    return out.astype({c: float for c in ACTIVITY_COUNTS})
