"""The units metrics count, for one period: each fact is a frame with one row per unit
(an enrollment that ended, a participant as at the period's end, a savings member, ...)
and the columns metric definitions refer to.

Every fact row carries the `record_key` of the record it counts (a member: her first ledger
row's), so the engine can give each cell its contributors' key sum. Facts hold the spec's
definitions that are more than a filter (latest known status, first
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
    EMPLOYMENT_STATUSES,
    ENROLLMENT_STATUSES,
    NETWORK_ROLES,
    RECRUITER_RELATIONS,
    REFERRED_BY,
    SERVICE_STATUSES,
    SERVICE_TYPES,
)

SUSTAINED_DAYS = 180
MILESTONE_MONTHS = (3, 6, 12)   # follow-up cohorts: her status 3, 6 and 12 months after intake
MILESTONE_WINDOW_DAYS = 45      # a follow-up within 45 days of a milestone tells her status at it
KNOWN_STATUSES = tuple(s for s in EMPLOYMENT_STATUSES if s != "unknown")
# A woman's status at a milestone: found out of or in entertainment work, lost to follow-up
# (her window closed before her organization's data reaches, with no follow-up in it), or not
# yet due (the window is still open, or after the data's reach).
MILESTONE_OUTCOMES = ("out", "in", "lost", "not_due")
FURTHER_COURSE_TYPES = ("vocational", "apprenticeship", "higher_education")
# Activities belong to their own organization and site; they have no participant attributes.
# (Their audience is free text: a staff breakdown, never a dimension a donor's table takes.)
ACTIVITY_DIMENSIONS = ("organization", "site", "province", "activity_type")
# Network members and cases belong to their own organization and site too (a member need
# not be a registered participant; a case is not one woman).
NETWORK_DIMENSIONS = ("organization", "site", "province", "network", "role")
CASE_DIMENSIONS = ("organization", "site", "province", "case_type", "referred_by")
SERVICE_DIMENSIONS = PARTICIPANT_DIMENSIONS + ("service_type", "referred_by")
# Verdicts that close a case; a pending one does not.
FINAL_VERDICTS = ("convicted", "acquitted", "dismissed")


def in_period(dates: pd.Series, start, end) -> np.ndarray:
    """Whether each date is in [start, end] (no start: any date up to the end). A missing
    date is in no period. The one reading of "dated in the period" every view uses."""
    mask = dates.notna() & (dates <= end)
    return (mask & (dates >= start) if start is not None else mask).to_numpy(dtype=bool, copy=True)


def add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Each date `months` calendar months later, on the same day or the month's last
    (31 January + 1 month is 28 or 29 February), as `pd.DateOffset(months=...)` does."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    first = dates.astype("datetime64[M]")
    target = first + np.asarray(months).astype("timedelta64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    day = (dates - first.astype("datetime64[D]")).astype(np.int64)
    return (target.astype("datetime64[D]") + np.minimum(day, length - 1)).astype("datetime64[ns]")


def registrations(p: Prepared, start, end) -> pd.DataFrame:
    """Participants whose intake_date is in the period."""
    pidx = np.flatnonzero(in_period(p.participants["intake_date"], start, end))
    return pd.DataFrame({"pidx": pidx, "record_key": p.participants["record_key"].to_numpy()[pidx]})


def enrollment_ends(p: Prepared, start, end) -> pd.DataFrame:
    """Enrollments whose end_date is in the period (running ones have none)."""
    e = p.enrollments
    return e[in_period(e["end_date"], start, end)]


def enrollment_starts(p: Prepared, start, end) -> pd.DataFrame:
    """Enrollments whose start_date is in the period."""
    e = p.enrollments
    return e[in_period(e["start_date"], start, end)]


def life_skills_graduates(p: Prepared, start, end) -> pd.DataFrame:
    """Participants with a graduated life_skills enrollment ending in the period (her first
    such graduation), and whether a further course started after it, by the period's end."""
    e = p.enrollments
    pidx = e["pidx"].to_numpy()
    registered = pidx >= 0
    grads = e[registered & (e["course_type"] == "life_skills").to_numpy() & (e["status"] == "graduated").to_numpy()
              & in_period(e["end_date"], start, end)]
    grads = grads.sort_values(["pidx", "end_date"], kind="stable").drop_duplicates("pidx")
    # She progressed when her latest further course by the period's end started after it.
    further = registered & e["course_type"].isin(FURTHER_COURSE_TYPES).to_numpy() & (e["start_date"] <= end).to_numpy()
    latest_start = np.full(len(p.participants), np.iinfo(np.int64).min)
    np.maximum.at(latest_start, pidx[further], e["start_date"].to_numpy()[further].view(np.int64))
    ended = grads["end_date"].to_numpy().astype(e["start_date"].dtype).view(np.int64)
    return grads.assign(progressed=latest_start[grads["pidx"].to_numpy()] > ended)


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
    # Latest known status as a code of KNOWN_STATUSES (-1: no known follow-up).
    to_known = pd.Index(KNOWN_STATUSES).get_indexer(f["employment_status"].cat.categories)
    latest_code = np.full(n, -1, dtype=np.int64)
    latest_code[pidx[last]] = to_known[f["employment_status"].cat.codes.to_numpy()[upto][last]]

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
        "latest_status": pd.Categorical.from_codes(latest_code[registered], categories=KNOWN_STATUSES),
        "exit_followed_180d": (at_risk & followed)[registered],
        "sustained": (at_risk & followed & ~relapsed)[registered],
        "intake_date": p.participants["intake_date"].to_numpy()[registered],
        "first_exit": first_exit[registered],
        "last_known": last_known[registered],
        "record_key": p.participants["record_key"].to_numpy()[registered],
    })


def cohort_milestones(p: Prepared, start, end) -> pd.DataFrame:
    """At-risk participants registered in the period, once per milestone (3, 6, 12 months after
    intake), with her intake quarter and her outcome at the milestone as at the period's end:
    once the milestone has passed by then, the known follow-up dated by then closest to it
    within 45 days (on a tie, the later; on one day, the later row) says out of or in entertainment work; with none she is lost to follow-up only when
    the window closed on or before her organization's latest follow-up by then (how far its
    data reaches), otherwise not yet due. Field workbooks arrive late, organization by
    organization: an open window, or one the data has not reached, is nobody's loss."""
    women = registrations(p, start, end)["pidx"].to_numpy()
    women = women[p.participants["at_risk"].to_numpy()[women]]
    upto = (p.followups["followup_date"] <= end).to_numpy()
    f_pidx = p.followups["pidx"].to_numpy()[upto]
    f_day = p.followups["followup_date"].to_numpy()[upto].astype("datetime64[D]").astype(np.int64)
    f_in = (p.followups["employment_status"] == "entertainment_work").to_numpy()[upto]
    organization = p.participants["organization"].cat.codes.to_numpy()
    never = np.iinfo(np.int64).min
    reach = np.full(len(p.participants["organization"].cat.categories), never)
    np.maximum.at(reach, organization[f_pidx], f_day)               # each organization's latest follow-up

    milestone = np.repeat(np.array(MILESTONE_MONTHS, dtype=np.int64), len(women))
    pidx = np.tile(women, len(MILESTONE_MONTHS))
    intake = p.participants["intake_date"].to_numpy()[pidx]
    due = add_months(intake, milestone).astype("datetime64[D]").astype(np.int64)
    # Follow-ups are sorted by participant, date and spreadsheet row, so one sorted key finds for
    # each milestone the last follow-up on or before it and the first day after it (its last
    # row: on one day the later row wins); the nearer of the two wins, on a tie the later. A
    # sentinel (a participant nobody is) closes the key so every lookup lands somewhere.
    span = np.int64(1 << 32)
    f_pidx, f_day, f_in = np.append(f_pidx, len(organization)), np.append(f_day, 0), np.append(f_in, False)
    key = f_pidx * span + f_day
    before = np.searchsorted(key, pidx * span + due, side="right") - 1
    after = np.searchsorted(key, key[before + 1], side="right") - 1
    far = np.iinfo(np.int64).max
    gap_before = np.where((before >= 0) & (f_pidx[before] == pidx), due - f_day[before], far)
    gap_after = np.where(f_pidx[after] == pidx, f_day[after] - due, far)
    nearest = np.where(gap_after <= gap_before, after, before)
    found = (np.minimum(gap_before, gap_after) <= MILESTONE_WINDOW_DAYS) \
        & (due <= np.datetime64(end, "D").astype(np.int64))         # once the milestone has passed
    closed = due + MILESTONE_WINDOW_DAYS <= reach[organization[pidx]]
    outcome = np.select([found & ~f_in[nearest], found & f_in[nearest], closed], [0, 1, 2], 3)
    quarters, labels = pd.factorize(pd.PeriodIndex(intake, freq="Q"))
    return pd.DataFrame({
        "pidx": pidx,
        "intake_quarter": pd.Categorical.from_codes(quarters, categories=labels.astype(str)),
        "milestone": milestone,
        "outcome": pd.Categorical.from_codes(outcome, categories=MILESTONE_OUTCOMES),
        "record_key": p.participants["record_key"].to_numpy()[pidx],
    })


def savers(p: Prepared, start, end) -> pd.DataFrame:
    """Savings members (organization, member_id) with ledger rows up to the period's end, with
    their net savings from the ledger's start and their group type as of their latest row. A
    member is the ledger's organization's even where she is not a registered participant."""
    rows = p.savings["period"].searchsorted(end, side="right")   # sorted by period
    midx = p.savings["midx"].to_numpy()[:rows]
    # Each member's latest row (the last assignment wins), members in midx order.
    latest_row = np.full(midx.max() + 1 if rows else 0, -1, dtype=np.int64)
    latest_row[midx] = np.arange(rows)
    latest = latest_row[latest_row >= 0]
    # Rounded: $0.10 + $0.20 - $0.30 is 5.55e-17 in floating point, and "above 0" must say no.
    net = np.round(np.bincount(midx, weights=p.savings["net"].to_numpy()[:rows]), 6)
    s = p.savings
    return pd.DataFrame({"pidx": s["pidx"].to_numpy()[latest], "organization": s["organization"].array.take(latest),
                         "net": net[midx[latest]], "group_type": s["group_type"].array.take(latest),
                         "record_key": s["member_key"].to_numpy()[latest]})


def services(p: Prepared, start, end) -> pd.DataFrame:
    """Services whose service_date is in the period."""
    return p.services[in_period(p.services["service_date"], start, end)]


def activities(p: Prepared, start, end) -> pd.DataFrame:
    """Activities whose activity_date is in the period (they belong to their own site)."""
    return p.activities[in_period(p.activities["activity_date"], start, end)]


def _with_keys(fact: str) -> list[str]:
    """A fact's declared columns and the records' keys (for the cell-key noise of donors' cells)."""
    return [*FACTS[fact].columns, "record_key"]


def _active_members(p: Prepared, end) -> pd.DataFrame:
    """Member rows active at `end`: joined by then and not left before it."""
    n = p.network_members
    return n[((n["joined_date"] <= end) & ~(n["left_date"] < end)).to_numpy()]


def network_members(p: Prepared, start, end) -> pd.DataFrame:
    """Members active at the period's end, once per (organization, network, member_id) however
    many rows she has."""
    members = _active_members(p, end).drop_duplicates(["organization", "network", "member_id"], keep="last")
    return members[_with_keys("network_members")]


def network_groups(p: Prepared, start, end) -> pd.DataFrame:
    """Network groups (organization, network, group_id) with a member active at the period's
    end, at the site of the first of them."""
    members = _active_members(p, end)
    members = members[members["group_id"].notna().to_numpy()]
    return members.drop_duplicates(["organization", "network", "group_id"])[_with_keys("network_groups")]


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
                    )[_with_keys("cases_reported")]


def rescues(p: Prepared, start, end) -> pd.DataFrame:
    """Cases whose survivors were rescued in the period."""
    return p.cases[in_period(p.cases["rescue_date"], start, end)][_with_keys("rescues")]


def verdicts(p: Prepared, start, end) -> pd.DataFrame:
    """Final verdicts (convicted, acquitted, dismissed) dated in the period, with the days from
    report to verdict and the people convicted (at least one for a conviction that does not
    say how many)."""
    c = p.cases
    c = c[in_period(c["verdict_date"], start, end) & c["verdict"].isin(FINAL_VERDICTS).to_numpy()]
    convicted = (c["verdict"] == "convicted").to_numpy()
    return c.assign(days=(c["verdict_date"] - c["reported_date"]).dt.days.astype(float),
                    convictions=np.where(convicted, c["perpetrators_convicted"].fillna(1), 0.0)
                    )[_with_keys("verdicts")]


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
    "enrollment_starts": Fact(enrollment_starts, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                              ENROLLMENT_COLUMNS, ("enrollments", "start_date"), ENROLLMENT_CATEGORIES),
    "life_skills_graduates": Fact(life_skills_graduates, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                                  ENROLLMENT_COLUMNS + ("progressed",), ("enrollments", "end_date"),
                                  ENROLLMENT_CATEGORIES),
    "participant_status": Fact(participant_status, PARTICIPANT_DIMENSIONS + ("latest_status",),
                               ("pidx", "at_risk", "known", "out_of_entertainment", "own_business", "latest_status",
                                "exit_followed_180d", "sustained", "intake_date", "first_exit", "last_known"),
                               ("followups", "followup_date"), {"latest_status": KNOWN_STATUSES}),
    "cohort_milestones": Fact(cohort_milestones, PARTICIPANT_DIMENSIONS + ("intake_quarter", "milestone"),
                              ("pidx", "intake_quarter", "milestone", "outcome"), ("participants", "intake_date"),
                              {"outcome": MILESTONE_OUTCOMES}),
    "savers": Fact(savers, PARTICIPANT_DIMENSIONS + ("group_type",), ("pidx", "organization", "net", "group_type"),
                   ("savings", "period")),
    "services": Fact(services, SERVICE_DIMENSIONS,
                     ("pidx", "service_date", "service_type", "status", "amount", "referred_by"),
                     ("services", "service_date"),
                     {"service_type": SERVICE_TYPES, "status": SERVICE_STATUSES, "referred_by": REFERRED_BY}),
    "activities": Fact(activities, ACTIVITY_DIMENSIONS,
                       ("organization", "site", "province", "activity_type", "audience", "activity_date", "reached",
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
