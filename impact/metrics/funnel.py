"""The path from first contact to a lasting exit, as one funnel for a selection.

The first two steps are activity counts (people reached, new contacts: sums over outreach
records, not identified women); from "registered" on, every step counts women registered in
the period, each step a subset of the one before, except the exit steps, which follow the
at-risk women among the registered whatever courses they took. Every definition is the
facts' (`impact.metrics.facts`): registration, first life-skills graduation and progression,
latest known status and sustained exit, all as at the selection's end.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.metrics.facts import ACTIVITY_DIMENSIONS, life_skills_graduates, participant_status
from impact.metrics.intervals import ratio
from impact.metrics.engine import Selection, bounds, compute
from impact.metrics.prepared import PARTICIPANT_DIMENSIONS
from impact.metrics.subsets import registered_in

ACTIVITY_STEPS = ("people_reached", "new_contacts")
# step, and the step its conversion is measured against. Labels and notes are texts
# (`funnel_<step>`, `funnel_note_<step>` in impact/present/texts.csv), in English and Khmer, written
# by the presentation layer (`impact.present.charts.funnel`).
STEPS = (
    ("people_reached", None),
    ("new_contacts", "people_reached"),
    ("registered", "new_contacts"),
    ("enrolled", "registered"),
    ("graduated", "enrolled"),
    ("progressed_to_vocational", "graduated"),
    ("exited_entertainment", "registered"),
    ("exit_sustained_6m", "exited_entertainment"),
)


def funnel(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Columns step, count, conversion, conversion_of, at_risk, filters_left_out.

    conversion = count / the count of the step in conversion_of (the previous step, except
    "left entertainment work", which is measured against all registered because it is not a
    subset of the course steps); NaN when that count is 0. Filters: organization and site
    apply to the activity steps (activities have no other attributes), participant attributes
    to the women's steps; course, course type and group type filters do not apply to a
    funnel of people: `filters_left_out` names those a step did not take (a tuple). at_risk
    (on the exit steps) is how many at-risk women the exits are counted among.
    """
    _, end = bounds(selection, today)
    activity_filters = {k: v for k, v in selection.filters.items() if k in ACTIVITY_DIMENSIONS}
    activity = compute(prepared, Selection(selection.start, end.date(), activity_filters),
                       keys=ACTIVITY_STEPS).set_index("metric")["value"]

    women = registered_in(prepared, selection, today)
    e = prepared.enrollments[np.isin(prepared.enrollments["pidx"], women)]
    graduated = e.loc[(e["status"] == "graduated") & (e["end_date"] <= end), "pidx"]
    progressed = life_skills_graduates(prepared, None, end).query("progressed")["pidx"]
    status = participant_status(prepared, None, end)
    status = status[np.isin(status["pidx"], women) & status["at_risk"]]
    exited = status["known"] & status["out_of_entertainment"]
    counts = {
        "people_reached": activity["people_reached"], "new_contacts": activity["new_contacts"],
        "registered": len(women),
        "enrolled": e.loc[e["start_date"] <= end, "pidx"].nunique(),
        "graduated": graduated.nunique(),
        "progressed_to_vocational": int(np.isin(progressed, women).sum()),
        "exited_entertainment": int(exited.sum()),
        "exit_sustained_6m": int((exited & status["sustained"]).sum()),
    }

    out = pd.DataFrame(STEPS, columns=["step", "conversion_of"])
    out["count"] = out["step"].map(counts).astype(float)
    out["conversion"] = ratio(out["count"], out["conversion_of"].map(counts).astype(float))
    out["at_risk"] = np.where(out["step"] == "exited_entertainment", float(len(status)), np.nan)
    out["filters_left_out"] = [_left_out(step, selection) for step in out["step"]]
    return out[["step", "count", "conversion", "conversion_of", "at_risk", "filters_left_out"]]


def _left_out(step: str, selection: Selection) -> tuple[str, ...]:
    """The selection's filters a step cannot take."""
    applies = ACTIVITY_DIMENSIONS if step in ACTIVITY_STEPS else PARTICIPANT_DIMENSIONS
    return tuple(sorted(set(selection.filters) - set(applies)))
