"""The units metrics count, for one period: each fact is a frame with one row per unit
(an enrollment that ended, a participant as at the period's end, a savings member, ...)
and the columns metric definitions refer to.

Facts hold the spec's definitions that are more than a filter (latest known status, first
exit, sustained exit, net savings); the metric catalog then declares numerators and
denominators over them. Flows take the period's start and end, stocks only its end.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impact.metrics.prepared import PARTICIPANT_DIMENSIONS, Prepared
from impact.contract.tables import (
    ACTIVITY_TYPES,
    COURSE_TYPES,
    ENROLLMENT_STATUSES,
    SERVICE_STATUSES,
    SERVICE_TYPES,
)

SUSTAINED_DAYS = 180
FURTHER_COURSE_TYPES = ("vocational", "apprenticeship", "higher_education")
# Activities belong to their own organization and site; they have no participant attributes.
ACTIVITY_DIMENSIONS = ("organization", "site", "province")


def in_period(dates: pd.Series, start, end) -> np.ndarray:
    """Whether each date is in [start, end] (no start: any date up to the end). A missing
    date is in no period. The one reading of "dated in the period" every view uses."""
    mask = dates.notna() & (dates <= end)
    return (mask & (dates >= start) if start is not None else mask).to_numpy(dtype=bool, copy=True)


def registrations(p: Prepared, start, end) -> pd.DataFrame:
    """Participants whose intake_date is in the period."""
    mask = in_period(p.participants["intake_date"], start, end)
    return pd.DataFrame({"pidx": np.flatnonzero(mask)})


def enrollment_ends(p: Prepared, start, end) -> pd.DataFrame:
    """Enrollments whose end_date is in the period (running ones have none)."""
    e = p.enrollments
    return e[in_period(e["end_date"], start, end)]


def life_skills_graduates(p: Prepared, start, end) -> pd.DataFrame:
    """Participants with a graduated life_skills enrollment ending in the period (her first
    such graduation), and whether a further course started after it, by the period's end."""
    e = p.enrollments[p.enrollments["pidx"] >= 0]
    grads = e[(e["course_type"] == "life_skills") & (e["status"] == "graduated") & in_period(e["end_date"], start, end)]
    grads = grads.sort_values(["pidx", "end_date"], kind="stable").drop_duplicates("pidx")
    further = e[e["course_type"].isin(FURTHER_COURSE_TYPES) & (e["start_date"] <= end)][["pidx", "start_date"]]
    pairs = grads[["pidx", "end_date"]].merge(further, on="pidx")
    progressed = pairs.loc[pairs["start_date"] > pairs["end_date"], "pidx"].unique()
    return grads.assign(progressed=grads["pidx"].isin(progressed).to_numpy())


def participant_status(p: Prepared, start, end) -> pd.DataFrame:
    """Every participant registered by the period's end, with her known follow-ups up to it:
    latest known status, first exit, and whether the exit held from 180 days on."""
    n = len(p.participants)
    f = p.followups
    upto = (f["followup_date"] <= end).to_numpy()
    pidx = f["pidx"].to_numpy()[upto]
    dates = f["followup_date"].to_numpy()[upto]
    in_work = (f["employment_status"] == "entertainment_work").to_numpy()[upto]
    in_business = (f["employment_status"] == "own_business").to_numpy()[upto]

    last = np.flatnonzero(np.r_[pidx[1:] != pidx[:-1], True]) if len(pidx) else np.array([], dtype=int)
    known = np.zeros(n, dtype=bool)
    known[pidx[last]] = True
    last_known = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    last_known[pidx[last]] = dates[last]
    latest_out = np.zeros(n, dtype=bool)
    latest_out[pidx[last]] = ~in_work[last]
    own_business = np.zeros(n, dtype=bool)
    own_business[pidx[last]] = in_business[last]

    # First exit: the first known follow-up out of entertainment work (rows are date-sorted).
    out_rows = np.flatnonzero(~in_work)
    first_out = out_rows[np.r_[True, pidx[out_rows][1:] != pidx[out_rows][:-1]]] if len(out_rows) else out_rows
    first_exit = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    first_exit[pidx[first_out]] = dates[first_out]
    later = dates >= first_exit[pidx] + np.timedelta64(SUSTAINED_DAYS, "D")   # NaT compares False
    followed = np.zeros(n, dtype=bool)
    followed[pidx[later]] = True
    relapsed = np.zeros(n, dtype=bool)
    relapsed[pidx[later & in_work]] = True

    registered = np.flatnonzero((p.participants["intake_date"] <= end).to_numpy())
    at_risk = p.participants["at_risk"].to_numpy()
    return pd.DataFrame({
        "pidx": registered,
        "at_risk": at_risk[registered],
        "known": known[registered],
        "out_of_entertainment": latest_out[registered],
        "own_business": own_business[registered],
        "exit_followed_180d": (at_risk & followed)[registered],
        "sustained": (at_risk & followed & ~relapsed)[registered],
        "intake_date": p.participants["intake_date"].to_numpy()[registered],
        "first_exit": first_exit[registered],
        "last_known": last_known[registered],
    })


def savers(p: Prepared, start, end) -> pd.DataFrame:
    """Savings members (organization, member_id) with ledger rows up to the period's end, with
    their net savings from the ledger's start and their group type as of their latest row. A
    member is the ledger's organization's even where she is not a registered participant."""
    s = p.savings.iloc[: p.savings["period"].searchsorted(end, side="right")]   # sorted by period
    latest = s.drop_duplicates("midx", keep="last").sort_values("midx")
    # Rounded: $0.10 + $0.20 - $0.30 is 5.55e-17 in floating point, and "above 0" must say no.
    net = np.round(np.bincount(s["midx"].to_numpy(), weights=s["net"].to_numpy()), 6)
    return pd.DataFrame({"pidx": latest["pidx"].to_numpy(), "organization": latest["organization"].to_numpy(),
                         "net": net[latest["midx"].to_numpy()], "group_type": latest["group_type"].to_numpy()})


def services(p: Prepared, start, end) -> pd.DataFrame:
    """Services whose service_date is in the period."""
    return p.services[in_period(p.services["service_date"], start, end)]


def activities(p: Prepared, start, end) -> pd.DataFrame:
    """Activities whose activity_date is in the period (they belong to their own site)."""
    return p.activities[in_period(p.activities["activity_date"], start, end)]


@dataclass(frozen=True)
class Fact:
    """A fact as data: how to build it for a period, the dimensions it can be filtered and
    broken down by, the columns metric expressions may name (with the values a category
    column takes, so a misspelt literal is caught too), and the table and date column its
    records come from (how far its data reaches)."""
    build: Callable[[Prepared, object, object], pd.DataFrame]
    dimensions: tuple[str, ...]
    columns: tuple[str, ...]
    source: tuple[str, str]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)


ENROLLMENT_COLUMNS = ("pidx", "course", "course_type", "cohort", "start_date", "end_date", "status", "scholarship")
ENROLLMENT_CATEGORIES = {"course_type": COURSE_TYPES, "status": ENROLLMENT_STATUSES}

FACTS: dict[str, Fact] = {
    "registrations": Fact(registrations, PARTICIPANT_DIMENSIONS, ("pidx",), ("participants", "intake_date")),
    "enrollment_ends": Fact(enrollment_ends, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                            ENROLLMENT_COLUMNS, ("enrollments", "end_date"), ENROLLMENT_CATEGORIES),
    "life_skills_graduates": Fact(life_skills_graduates, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                                  ENROLLMENT_COLUMNS + ("progressed",), ("enrollments", "end_date"),
                                  ENROLLMENT_CATEGORIES),
    "participant_status": Fact(participant_status, PARTICIPANT_DIMENSIONS,
                               ("pidx", "at_risk", "known", "out_of_entertainment", "own_business",
                                "exit_followed_180d", "sustained", "intake_date", "first_exit", "last_known"),
                               ("followups", "followup_date")),
    "savers": Fact(savers, PARTICIPANT_DIMENSIONS + ("group_type",), ("pidx", "organization", "net", "group_type"),
                   ("savings", "period")),
    "services": Fact(services, PARTICIPANT_DIMENSIONS, ("pidx", "service_date", "service_type", "status", "amount"),
                     ("services", "service_date"), {"service_type": SERVICE_TYPES, "status": SERVICE_STATUSES}),
    "activities": Fact(activities, ACTIVITY_DIMENSIONS,
                       ("organization", "site", "province", "activity_type", "activity_date", "reached",
                        "new_contacts"),
                       ("activities", "activity_date"), {"activity_type": ACTIVITY_TYPES}),
}
