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

from impact.metrics.prepared import PARTICIPANT_DIMENSIONS, TRAINING, Prepared
from impact.contract.tables import (
    ACTIVITY_TYPES,
    CASE_TYPES,
    COURSE_TYPES,
    ENROLLMENT_STATUSES,
    NETWORK_ROLES,
    RECRUITER_RELATIONS,
    REFERRED_BY,
    SERVICE_STATUSES,
    SERVICE_TYPES,
)

SUSTAINED_DAYS = 180
FURTHER_COURSE_TYPES = ("vocational", "apprenticeship", "higher_education")
# Activities belong to their own organization and site; they have no participant attributes.
# (Their audience is free text: a staff breakdown, never a dimension a donor's table takes.)
ACTIVITY_DIMENSIONS = ("organization", "site", "activity_type")
# Network members and cases belong to their own organization and site too (a member need
# not be a registered participant; a case is not one woman).
NETWORK_DIMENSIONS = ("organization", "site", "network", "role")
CASE_DIMENSIONS = ("organization", "site", "case_type", "referred_by")
SERVICE_DIMENSIONS = PARTICIPANT_DIMENSIONS + ("service_type", "referred_by")
# Verdicts that close a case; a pending one does not.
FINAL_VERDICTS = ("convicted", "acquitted", "dismissed")


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


def _active_members(p: Prepared, end) -> pd.DataFrame:
    """Member rows active at `end`: joined by then and not left before it."""
    n = p.network_members
    return n[((n["joined_date"] <= end) & ~(n["left_date"] < end)).to_numpy()]


def network_members(p: Prepared, start, end) -> pd.DataFrame:
    """Members active at the period's end, once per (organization, network, member_id) however
    many rows she has."""
    members = _active_members(p, end).drop_duplicates(["organization", "network", "member_id"], keep="last")
    return members[list(FACTS["network_members"].columns)]


def network_groups(p: Prepared, start, end) -> pd.DataFrame:
    """Network groups (organization, network, group_id) with a member active at the period's
    end, at the site of the first of them."""
    members = _active_members(p, end)
    members = members[members["group_id"].notna().to_numpy()]
    return members.drop_duplicates(["organization", "network", "group_id"])[list(FACTS["network_groups"].columns)]


def cases_reported(p: Prepared, start, end) -> pd.DataFrame:
    """Cases reported in the period, and how far each went by the period's end: survivors
    rescued, a suspect charged, a verdict, a conviction; and whether the recruiter's relation
    to the survivors is known, and known to them."""
    c = p.cases[in_period(p.cases["reported_date"], start, end)]
    by_end = {name: in_period(c[f"{name}_date"], None, end) for name in ("rescue", "charged", "verdict")}
    final = by_end["verdict"] & c["verdict"].isin(FINAL_VERDICTS).to_numpy()
    relation = c["recruiter_relation"].astype(object)
    known = relation.isin([r for r in RECRUITER_RELATIONS if r != "unknown"]).to_numpy()
    return c.assign(rescued=by_end["rescue"], charged=by_end["charged"], verdict_reached=final,
                    convicted=final & (c["verdict"] == "convicted").to_numpy(),
                    relation_known=known, recruiter_known=known & (relation != "stranger").to_numpy()
                    )[list(FACTS["cases_reported"].columns)]


def rescues(p: Prepared, start, end) -> pd.DataFrame:
    """Cases whose survivors were rescued in the period."""
    return p.cases[in_period(p.cases["rescue_date"], start, end)][list(FACTS["rescues"].columns)]


def verdicts(p: Prepared, start, end) -> pd.DataFrame:
    """Final verdicts (convicted, acquitted, dismissed) dated in the period, with the days from
    report to verdict and the people convicted (at least one for a conviction that does not
    say how many)."""
    c = p.cases
    c = c[in_period(c["verdict_date"], start, end) & c["verdict"].isin(FINAL_VERDICTS).to_numpy()]
    convicted = (c["verdict"] == "convicted").to_numpy()
    return c.assign(days=(c["verdict_date"] - c["reported_date"]).dt.days.astype(float),
                    convictions=np.where(convicted, c["perpetrators_convicted"].fillna(1), 0.0)
                    )[list(FACTS["verdicts"].columns)]


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
    "services": Fact(services, SERVICE_DIMENSIONS,
                     ("pidx", "service_date", "service_type", "status", "amount", "referred_by"),
                     ("services", "service_date"),
                     {"service_type": SERVICE_TYPES, "status": SERVICE_STATUSES, "referred_by": REFERRED_BY}),
    "activities": Fact(activities, ACTIVITY_DIMENSIONS,
                       ("organization", "site", "activity_type", "audience", "activity_date", "reached",
                        "new_contacts"),
                       ("activities", "activity_date"), {"activity_type": ACTIVITY_TYPES}),
    "network_members": Fact(network_members, NETWORK_DIMENSIONS + ("training",),
                            ("organization", "site", "network", "role", "sector", "trained", "training", "pidx"),
                            ("network_members", "joined_date"), {"role": NETWORK_ROLES, "training": TRAINING}),
    "network_groups": Fact(network_groups, ("organization", "site", "network"),
                           ("organization", "site", "network", "group_id"), ("network_members", "joined_date")),
    "cases_reported": Fact(cases_reported, CASE_DIMENSIONS + ("recruiter_relation",),
                           ("organization", "site", "case_type", "referred_by", "recruiter_relation", "rescued",
                            "charged", "verdict_reached", "convicted", "relation_known", "recruiter_known"),
                           ("cases", "reported_date"), {"case_type": CASE_TYPES, "referred_by": REFERRED_BY}),
    "rescues": Fact(rescues, CASE_DIMENSIONS, ("organization", "site", "case_type", "survivors", "minors"),
                    ("cases", "rescue_date"), {"case_type": CASE_TYPES}),
    "verdicts": Fact(verdicts, CASE_DIMENSIONS, ("organization", "site", "case_type", "days", "convictions"),
                     ("cases", "verdict_date"), {"case_type": CASE_TYPES}),
}
