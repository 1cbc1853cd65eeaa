"""Scholarships: enrollments that started in a selection's period, and how many of them came
with a scholarship, by course or course type."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from impact.metrics.facts import FACTS, in_period
from impact.metrics.engine import Selection, bounds, filtered


def scholarships(prepared, selection: Selection = Selection(), by: str = "course",
                 today: dt.date | None = None) -> pd.DataFrame:
    """Enrollments that started in the period (participant, course and course-type filters
    applied), by course or course_type: how many, and how many with a scholarship (a blank
    scholarship cell is no)."""
    start, end = bounds(selection, today)
    e = prepared.enrollments
    e = e[in_period(e["start_date"], start, end)]
    e = filtered(prepared, e, selection, FACTS["enrollment_ends"].dimensions)
    if e.empty:
        return pd.DataFrame(columns=[by, "enrollments", "with_scholarship"])
    out = e.groupby(by, observed=True).agg(enrollments=("pidx", "size"), with_scholarship=("scholarship", "sum"))
    out = out.reset_index()
    out[by] = out[by].astype(object)
    return out.astype({"enrollments": int, "with_scholarship": int})
