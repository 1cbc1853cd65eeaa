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

from impact.metrics.histories import KNOWN_STATUSES, MILESTONE_MONTHS, SUSTAINED_DAYS, day_number, day_numbers
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

MILESTONE_WINDOW_DAYS = 45      # a follow-up within 45 days of a milestone tells her status at it
# A woman's status at a milestone: found out of or in entertainment work, lost to follow-up
# (her window closed before her organization's data reaches, with no follow-up in it), or not
# yet due (the window is still open, or after the data's reach).
MILESTONE_OUTCOMES = ("out", "in", "lost", "not_due")
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


def in_period(dates, start, end) -> np.ndarray:
    """Whether each date is in [start, end] (no start: any date up to the end). A missing
    date is in no period. The one reading of "dated in the period" every view uses."""
    values = np.asarray(dates)
    high, low = _instant(end, values.dtype), (None if start is None else _instant(start, values.dtype))
    if high.dtype == values.dtype and low is not None and low.dtype == values.dtype:
        # One pass on the integers: a date before the start (or NaT, the smallest) wraps past the end.
        span = high.astype(np.int64) - low.astype(np.int64)
        if span < 0:
            return np.zeros(len(values), dtype=bool)
        return (values.view(np.int64) - low.astype(np.int64)).view(np.uint64) <= np.uint64(span)
    mask = values <= high                                           # NaT compares False
    if low is not None:
        mask &= values >= low
    return mask


def _instant(moment, dtype: np.dtype) -> np.datetime64:
    """A moment in the dates' own unit where it is exact there (no conversion of every date)."""
    instant = np.datetime64(pd.Timestamp(moment))
    if dtype.kind == "M" and instant.astype(dtype) == instant:
        return instant.astype(dtype)
    return instant


def chosen(pidx: np.ndarray, among: np.ndarray | None) -> np.ndarray | bool:
    """Whether each row's participant is among those a selection chose (a mask over pidx; every
    one without it). A row of nobody's (pidx -1) is never among them."""
    return True if among is None else np.append(among, False)[pidx]


def registrations(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Participants whose intake_date is in the period."""
    pidx = np.flatnonzero(in_period(p.participants["intake_date"], start, end) & (True if among is None else among))
    return pd.DataFrame({"pidx": pidx, "record_key": p.participants["record_key"].to_numpy()[pidx]})


def enrollment_ends(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Enrollments whose end_date is in the period (running ones have none)."""
    e = p.enrollments
    return e[in_period(e["end_date"], start, end) & chosen(e["pidx"].to_numpy(), among)]


def enrollment_starts(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Enrollments whose start_date is in the period."""
    e = p.enrollments
    return e[in_period(e["start_date"], start, end) & chosen(e["pidx"].to_numpy(), among)]


def life_skills_graduates(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Participants with a graduated life_skills enrollment ending in the period (her first
    such graduation), and whether a further course started after it, by the period's end (both
    looked up in the courses arranged once per store version, `Prepared.course_history`)."""
    e, history = p.enrollments, p.course_history
    pidx = e["pidx"].to_numpy()
    rows = history.graduations
    rows = rows[in_period(e["end_date"].to_numpy()[rows], start, end) & chosen(pidx[rows], among)]
    rows = rows[np.r_[True, pidx[rows][1:] != pidx[rows][:-1]]] if len(rows) else rows   # her first
    # She progressed when her latest further course by the period's end started after it.
    who = pidx[rows].astype(np.int64)
    latest = history.further.latest(who, day_number(end))
    progressed = (latest >= 0) & (history.further.day(latest) > day_numbers(e["end_date"].to_numpy()[rows]))
    return e.take(rows).assign(progressed=progressed)


def _days_as_dates(days: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Day numbers as datetime64[ns], NaT where not present."""
    return np.where(present, days * np.int64(86_400_000_000_000), np.iinfo(np.int64).min).view("datetime64[ns]")


def participant_status(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Every participant registered by the period's end, with her known follow-ups up to it:
    latest known status, first exit, and whether the exit held from 180 days on (each a look-up
    in the follow-ups arranged once per store version, `Prepared.followup_history`)."""
    history = p.followup_history
    end_day = day_number(end)
    registered = np.flatnonzero(in_period(p.participants["intake_date"], None, end)
                                & (True if among is None else among))
    latest = history.latest(registered, end_day)
    known = latest >= 0
    status = np.where(known, history.status[latest], -1)
    last_day = history.day(latest)
    first_exit = history.first_exit[registered]
    exited = first_exit <= end_day
    followed = known & exited & (last_day - SUSTAINED_DAYS >= first_exit)
    sustained = followed & ~(history.relapse[registered] <= end_day)
    at_risk = p.participants["at_risk"].to_numpy()[registered]
    return pd.DataFrame({
        "pidx": registered,
        "at_risk": at_risk,
        "known": known,
        "out_of_entertainment": known & (status != KNOWN_STATUSES.index("entertainment_work")),
        "own_business": status == KNOWN_STATUSES.index("own_business"),
        "latest_status": pd.Categorical.from_codes(status, categories=KNOWN_STATUSES),
        "exit_followed_180d": at_risk & followed,
        "sustained": at_risk & sustained,
        "intake_date": p.participants["intake_date"].to_numpy()[registered],
        "first_exit": _days_as_dates(first_exit, exited),
        "last_known": _days_as_dates(last_day, known),
        "record_key": p.participants["record_key"].to_numpy()[registered],
    }, copy=False)


def _quarters(quarters: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Quarters (numbered from 1970's first) as codes of their labels ("2024Q1"), in time order."""
    codes, uniques = pd.factorize(quarters, sort=True)
    return codes, [f"{1970 + q // 4}Q{q % 4 + 1}" for q in uniques]


def cohort_milestones(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """At-risk participants registered in the period, once per milestone (3, 6, 12 months after
    intake), with her intake quarter and her outcome at the milestone as at the period's end:
    once the milestone has passed by then, the known follow-up dated by then closest to it
    within 45 days (on a tie, the later; on one day, the later row) says out of or in entertainment work; with none she is lost to follow-up only when
    the window closed on or before her organization's latest follow-up by then (how far its
    data reaches), otherwise not yet due. Field workbooks arrive late, organization by
    organization: an open window, or one the data has not reached, is nobody's loss."""
    women = registrations(p, start, end, among)["pidx"].to_numpy()
    women = women[p.participants["at_risk"].to_numpy()[women]]
    history = p.followup_history
    end_day = day_number(end)
    organization = p.participants["organization"].array
    reach = history.reach(len(organization.categories), end_day)      # each organization's latest follow-up

    # Looked up woman by woman (ascending keys: numpy's binary search reuses its last bound),
    # given milestone by milestone.
    milestone = np.tile(np.array(MILESTONE_MONTHS, dtype=np.int64), len(women))
    pidx = np.repeat(women, len(MILESTONE_MONTHS))
    due = history.milestone_due[women].ravel().astype(np.int64)
    # Her follow-ups are a sorted run of the history's key (participant, day, row): for each
    # milestone the last follow-up on or before it, and the last row of the first day after it
    # (dated by the end); the nearer of the two wins, on a tie the later. The key's sentinel
    # (a participant nobody is) closes it, so every lookup lands somewhere.
    before = history.at_or_before(pidx, due)
    after = np.searchsorted(history.key, history.key[before + 1], side="right") - 1
    far = np.iinfo(np.int64).max
    gap_before = np.where((before >= 0) & (history.participant(before) == pidx), due - history.day(before), far)
    after_day = history.day(after)
    gap_after = np.where((history.participant(after) == pidx) & (after_day <= end_day), after_day - due, far)
    nearest = np.where(gap_after <= gap_before, after, before)
    found = (np.minimum(gap_before, gap_after) <= MILESTONE_WINDOW_DAYS) & (due <= end_day)   # once it has passed
    in_work = history.status[nearest] == KNOWN_STATUSES.index("entertainment_work")
    closed = due + MILESTONE_WINDOW_DAYS <= reach[np.asarray(organization.codes, dtype=np.int64)[pidx]]
    outcome = np.select([found & ~in_work, found & in_work, closed], [0, 1, 2], 3)
    pidx, milestone, outcome = (a.reshape(-1, len(MILESTONE_MONTHS)).T.ravel() for a in (pidx, milestone, outcome))
    quarter = history.intake_quarter[pidx]
    return pd.DataFrame({
        "pidx": pidx,
        "intake_quarter": pd.Categorical.from_codes(*_quarters(quarter)),
        "milestone": milestone,
        "outcome": pd.Categorical.from_codes(outcome, categories=MILESTONE_OUTCOMES),
        "record_key": p.participants["record_key"].to_numpy()[pidx],
    }, copy=False)


def savers(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Savings members (organization, member_id) with ledger rows up to the period's end, with
    their net savings from the ledger's start and their group type as of their latest row. A
    member is the ledger's organization's even where she is not a registered participant."""
    s = p.savings
    upto = s["period"].searchsorted(end, side="right")             # sorted by period
    # A member's rows all carry her pidx: chosen or not, she is wholly.
    rows = np.arange(upto) if among is None else np.flatnonzero(chosen(s["pidx"].to_numpy()[:upto], among))
    pick = slice(None, upto) if among is None else rows             # a slice is a view: no copy of every row
    midx = s["midx"].to_numpy()[pick]
    # Each member's latest row (the last assignment wins), members in midx order.
    latest_row = np.full(midx.max() + 1 if len(rows) else 0, -1, dtype=np.int64)
    latest_row[midx] = rows
    latest = latest_row[latest_row >= 0]
    # Rounded: $0.10 + $0.20 - $0.30 is 5.55e-17 in floating point, and "above 0" must say no.
    net = np.round(np.bincount(midx, weights=s["net"].to_numpy()[pick]), 6)
    return pd.DataFrame({"pidx": s["pidx"].to_numpy()[latest], "organization": s["organization"].array.take(latest),
                         "net": net[s["midx"].to_numpy()[latest]], "group_type": s["group_type"].array.take(latest),
                         "record_key": s["member_key"].to_numpy()[latest]})


def services(p: Prepared, start, end, among=None) -> pd.DataFrame:
    """Services whose service_date is in the period."""
    return p.services[in_period(p.services["service_date"], start, end) & chosen(p.services["pidx"].to_numpy(), among)]


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
    records come from (how far its data reaches). A fact of participants' rows is built over
    the participants a selection chose (`among`, a mask over pidx): only their rows are read."""
    build: Callable[..., pd.DataFrame]
    dimensions: tuple[str, ...]
    columns: tuple[str, ...]
    source: tuple[str, str]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    of_participants: bool = False


ENROLLMENT_COLUMNS = ("pidx", "course", "course_type", "cohort", "start_date", "end_date", "status", "scholarship")
ENROLLMENT_CATEGORIES = {"course_type": COURSE_TYPES, "status": ENROLLMENT_STATUSES}

FACTS: dict[str, Fact] = {
    "registrations": Fact(registrations, PARTICIPANT_DIMENSIONS, ("pidx",), ("participants", "intake_date"),
                          of_participants=True),
    "enrollment_ends": Fact(enrollment_ends, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                            ENROLLMENT_COLUMNS, ("enrollments", "end_date"), ENROLLMENT_CATEGORIES, True),
    "enrollment_starts": Fact(enrollment_starts, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                              ENROLLMENT_COLUMNS, ("enrollments", "start_date"), ENROLLMENT_CATEGORIES, True),
    "life_skills_graduates": Fact(life_skills_graduates, PARTICIPANT_DIMENSIONS + ("course", "course_type"),
                                  ENROLLMENT_COLUMNS + ("progressed",), ("enrollments", "end_date"),
                                  ENROLLMENT_CATEGORIES, True),
    "participant_status": Fact(participant_status, PARTICIPANT_DIMENSIONS + ("latest_status",),
                               ("pidx", "at_risk", "known", "out_of_entertainment", "own_business", "latest_status",
                                "exit_followed_180d", "sustained", "intake_date", "first_exit", "last_known"),
                               ("followups", "followup_date"), {"latest_status": KNOWN_STATUSES}, True),
    "cohort_milestones": Fact(cohort_milestones, PARTICIPANT_DIMENSIONS + ("intake_quarter", "milestone"),
                              ("pidx", "intake_quarter", "milestone", "outcome"), ("participants", "intake_date"),
                              {"outcome": MILESTONE_OUTCOMES}, True),
    "savers": Fact(savers, PARTICIPANT_DIMENSIONS + ("group_type",), ("pidx", "organization", "net", "group_type"),
                   ("savings", "period"), of_participants=True),
    "services": Fact(services, SERVICE_DIMENSIONS,
                     ("pidx", "service_date", "service_type", "status", "amount", "referred_by"),
                     ("services", "service_date"),
                     {"service_type": SERVICE_TYPES, "status": SERVICE_STATUSES, "referred_by": REFERRED_BY}, True),
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
