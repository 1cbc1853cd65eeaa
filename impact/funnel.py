"""The path from first contact to a lasting exit, as one funnel for a selection.

The first two steps are activity counts (people reached, new contacts: sums over outreach
records, not identified women); from "registered" on, every step counts women registered in
the period, each step a subset of the one before, except the exit steps, which follow the
at-risk women among the registered whatever courses they took. Every definition is the
facts' (`impact.facts`): registration, first life-skills graduation and progression,
latest known status and sustained exit, all as at the selection's end.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.facts import life_skills_graduates, participant_status
from impact.metrics import Selection, compute
from impact.prepared import PARTICIPANT_DIMENSIONS
from impact.subsets import bounds, registered_in

ACTIVITY_FILTERS = ("organization", "site")
# step, label, the step its conversion is measured against, note
STEPS = (
    ("people_reached", "People reached", None,
     "activity count: people reached by outreach and awareness, not distinct women"),
    ("new_contacts", "New contacts", "people_reached",
     "activity count: people newly connected at activities, not distinct women"),
    ("registered", "Registered", "new_contacts",
     "women registered in the period; from here on the same women, as at the period's end"),
    ("enrolled", "Enrolled in a course", "registered", ""),
    ("graduated", "Graduated a course", "enrolled", ""),
    ("progressed_to_vocational", "Went on to vocational training", "graduated",
     "graduated a life-skills course, then started a vocational, apprenticeship or higher-education course"),
    ("exited_entertainment", "Left entertainment work", "registered",
     ("at-risk women among the registered whose latest known status is out of entertainment work; "
      "compared with all registered, not with the course steps")),
    ("exit_sustained_6m", "Exit sustained 6 months", "exited_entertainment",
     "exit followed up at least 180 days later and held; exits not yet followed that long do not count"),
)


def funnel(prepared, selection: Selection = Selection(), today: dt.date | None = None) -> pd.DataFrame:
    """Columns step, label, count, conversion, conversion_of, note.

    conversion = count / the count of the step in conversion_of (the previous step, except
    "left entertainment work", which is measured against all registered because it is not a
    subset of the course steps); NaN when that count is 0. Filters: organization and site
    apply to the activity steps (activities have no other attributes), participant attributes
    to the women's steps; course, course type and group type filters do not apply to a
    funnel of people, and the notes say which filters were left out.
    """
    _, end = bounds(selection, today)
    activity_filters = {k: v for k, v in selection.filters.items() if k in ACTIVITY_FILTERS}
    activity = compute(prepared, Selection(selection.start, end.date(), activity_filters),
                       keys=("people_reached", "new_contacts")).set_index("metric")["value"]

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

    out = pd.DataFrame(STEPS, columns=["step", "label", "conversion_of", "note"])
    out["count"] = out["step"].map(counts).astype(float)
    base = out["conversion_of"].map(counts).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["conversion"] = np.where(base > 0, out["count"] / base, np.nan)
    out.loc[out["step"] == "exited_entertainment", "note"] += f" ({len(status)} at-risk women registered)"
    out["note"] = [_with_unapplied(note, step, selection) for note, step in zip(out["note"], out["step"])]
    return out[["step", "label", "count", "conversion", "conversion_of", "note"]]


def _with_unapplied(note: str, step: str, selection: Selection) -> str:
    applies = ACTIVITY_FILTERS if step in ("people_reached", "new_contacts") else PARTICIPANT_DIMENSIONS
    left_out = sorted(set(selection.filters) - set(applies))
    extra = f"not filtered by {', '.join(left_out)}" if left_out else ""
    return "; ".join(x for x in (note, extra) if x)
