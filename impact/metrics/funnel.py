"""The path from first contact to a lasting exit, as steps of the metric table.

Each step is the catalog metric of the same name for the same selection, so the funnel never
contradicts the tiles: a count step is the metric's value, a rate step its numerator, shown
with the rate itself (of its own denominator, so never above 100%). The steps are not subsets
of one another: outreach counts are activity sums, registrations and course steps are what
happened in the period, the exits are stocks as at its end. A donor's funnel is the same rows
after disclosure control. Labels and notes are texts (`funnel_<step>`, `funnel_note_<step>`),
written by the presentation layer (`impact.present.charts.funnel`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from impact.metrics.catalog import Kind, metric

# step, the catalog metric it is
STEPS = (
    ("people_reached", "people_reached"),
    ("new_contacts", "new_contacts"),
    ("registered", "participants_registered"),
    ("enrolled", "enrollments_started"),
    ("graduated", "graduation_rate"),
    ("progressed_to_vocational", "vocational_progression"),
    ("exited_entertainment", "job_exit_rate"),
    ("exit_sustained_6m", "sustained_exit_6m"),
)
FUNNEL_KEYS = tuple(dict.fromkeys(key for _, key in STEPS))
REACH = "people_reached"   # the outreach sum, far larger than any step after it: a caption, not a bar


def funnel_steps(table: pd.DataFrame) -> pd.DataFrame:
    """The funnel of a metric table without breakdown (one row per metric; exact, or protected
    for a donor): step, metric, count (the value of a count, the numerator of a rate), share
    and of (a rate step's value and denominator), note (the engine's: no data, not reported
    yet, cannot be filtered by ...), and display / suppressed when the table has them."""
    rows = table.set_index("metric")
    keys = [key for _, key in STEPS]
    is_rate = np.array([metric(k).kind == Kind.RATE for k in keys])
    out = pd.DataFrame({"step": [s for s, _ in STEPS], "metric": keys})
    value = rows["value"].reindex(keys).to_numpy(dtype=float)
    out["count"] = np.where(is_rate, rows["numerator"].reindex(keys).to_numpy(dtype=float), value)
    out["share"] = np.where(is_rate, value, np.nan)
    out["of"] = np.where(is_rate, rows["denominator"].reindex(keys).to_numpy(dtype=float), np.nan)
    out["note"] = rows["note"].reindex(keys).fillna("").to_numpy()
    for column in ("display", "suppressed"):
        if column in rows:
            out[column] = rows[column].reindex(keys).to_numpy()
    return out
