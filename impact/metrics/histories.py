"""Participants' dated records arranged once per store version, so that a woman's status as at
any day is a binary search, not a pass over every record.

A selection asks for the participants' latest known status by its end, their first exit, the
follow-up nearest each milestone, their first life-skills graduation in its period and their
latest further course by its end (`impact.metrics.facts`). Sorted by participant and day (the
spreadsheet row breaking ties), her records up to a day are a prefix of her run, so each
question is one `searchsorted` per participant chosen. What does not depend on the selection's
end is computed here once: her first exit and the first follow-up in entertainment work from
180 days after it (a relapse, once it is dated by the end), and each organization's follow-up
days (how far its data reaches by the end), and each woman's milestone days and intake quarter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.contract.tables import EMPLOYMENT_STATUSES

KNOWN_STATUSES = tuple(s for s in EMPLOYMENT_STATUSES if s != "unknown")
SUSTAINED_DAYS = 180
FURTHER_COURSE_TYPES = ("vocational", "apprenticeship", "higher_education")
MILESTONE_MONTHS = (3, 6, 12)   # follow-up cohorts: her status 3, 6 and 12 months after intake
NEVER = np.iinfo(np.int64).max          # a day that never comes
_BIAS = np.int64(1 << 31)                # days since 1970 made non-negative inside a key
_SPAN = np.int64(1 << 32)


def day_number(value) -> np.int64:
    """A date or timestamp as days since 1970-01-01."""
    return np.datetime64(pd.Timestamp(value), "D").astype(np.int64)


def day_numbers(dates: np.ndarray) -> np.ndarray:
    """Dates (datetime64, none missing) as days since 1970-01-01."""
    return np.asarray(dates).astype("datetime64[D]").view(np.int64)


def add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Each date `months` calendar months later, on the same day or the month's last
    (31 January + 1 month is 28 or 29 February), as `pd.DateOffset(months=...)` does."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    first = dates.astype("datetime64[M]")
    target = first + np.asarray(months).astype("timedelta64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    day = (dates - first.astype("datetime64[D]")).astype(np.int64)
    return (target.astype("datetime64[D]") + np.minimum(day, length - 1)).astype("datetime64[ns]")


@dataclass(frozen=True)
class DatedRuns:
    """Records as one ascending key, participant << 32 | day (+ a bias), closed by a sentinel
    (a participant nobody is) so that every lookup lands on a record."""
    key: np.ndarray

    @classmethod
    def of(cls, pidx: np.ndarray, day: np.ndarray, participants: int) -> "DatedRuns":
        """From records already sorted by participant and day."""
        key = np.empty(len(pidx) + 1, dtype=np.int64)
        np.left_shift(pidx, 32, out=key[:-1], dtype=np.int64)
        key[:-1] += day                                             # the low 32 bits are 0: day + bias fills them
        key[:-1] += _BIAS
        key[-1] = np.int64(participants) << 32
        return cls(key)

    def at_or_before(self, pidx: np.ndarray, day) -> np.ndarray:
        """The position of the last record up to (participant, day) in key order: hers dated
        by then when she has one, else one of an earlier participant's, or -1."""
        return np.searchsorted(self.key, (pidx << 32) | (day + _BIAS), side="right") - 1

    def latest(self, pidx: np.ndarray, day) -> np.ndarray:
        """Each participant's latest record dated by `day` (on one day, the later row): its
        position, -1 where she has none."""
        last = self.at_or_before(pidx, day)
        return np.where((last >= 0) & (self.participant(last) == pidx), last, -1)

    def day(self, rows: np.ndarray) -> np.ndarray:
        return (self.key[rows] & (_SPAN - 1)) - _BIAS

    def participant(self, rows: np.ndarray) -> np.ndarray:
        return self.key[rows] >> 32


@dataclass(frozen=True)
class FollowupHistory(DatedRuns):
    status: np.ndarray         # code in KNOWN_STATUSES of each follow-up (sentinel: -1)
    first_exit: np.ndarray     # per participant: day of her first follow-up out of entertainment work, or NEVER
    relapse: np.ndarray        # per participant: first day in entertainment work 180+ days after it, or NEVER
    reach_days: tuple[np.ndarray, ...]   # per organization code: its follow-ups' distinct days, ascending
    milestone_due: np.ndarray  # per participant and milestone (MILESTONE_MONTHS): the day it falls due
    intake_quarter: np.ndarray   # per participant: her intake's calendar quarter, numbered from 1970's first

    @classmethod
    def of(cls, followups: pd.DataFrame, registered: pd.DataFrame) -> "FollowupHistory":
        """From the prepared follow-ups (known ones, sorted by participant, date and row) and
        participants (their organization and intake date)."""
        organization, participants = registered["organization"].array, len(registered)
        intake = registered["intake_date"].to_numpy()
        milestone_due = np.empty((participants, len(MILESTONE_MONTHS)), dtype=np.int32)
        for i, months in enumerate(MILESTONE_MONTHS):                # one at a time: a third of the temporaries
            milestone_due[:, i] = day_numbers(add_months(intake, np.full(participants, months)))
        intake_quarter = (intake.astype("datetime64[M]").astype(np.int64) // 3).astype(np.int32)
        dated = followups["followup_date"].notna().to_numpy()
        dated = slice(None) if dated.all() else dated               # the columns themselves: no copy
        pidx = followups["pidx"].to_numpy()[dated]
        day = day_numbers(followups["followup_date"].to_numpy()[dated])
        categories = followups["employment_status"].cat
        to_known = pd.Index(KNOWN_STATUSES).get_indexer(categories.categories).astype(np.int8)
        status = to_known[categories.codes.to_numpy()[dated]]
        in_work = status == KNOWN_STATUSES.index("entertainment_work")

        first_exit = np.full(participants, NEVER)
        out = np.flatnonzero(~in_work)[::-1]          # reversed: the earliest row's assignment is the last
        first_exit[pidx[out]] = day[out]
        exit_day = first_exit[pidx]
        relapsing = in_work & (exit_day != NEVER) & (day - SUSTAINED_DAYS >= exit_day)
        del exit_day
        relapse = np.full(participants, NEVER)
        rows = np.flatnonzero(relapsing)[::-1]
        relapse[pidx[rows]] = day[rows]

        codes = organization.codes[pidx]
        first = day.min() if len(day) else 0
        seen = np.zeros((len(organization.categories), day.max() - first + 1 if len(day) else 0), dtype=bool)
        seen[codes, day - first] = True                              # no sort of every follow-up
        reach_days = tuple(np.flatnonzero(row) + first for row in seen)
        return cls(DatedRuns.of(pidx, day, participants).key, np.append(status, np.int8(-1)), first_exit, relapse,
                   reach_days, milestone_due, intake_quarter)

    def reach(self, organizations: int, end_day: np.int64) -> np.ndarray:
        """Each organization's latest follow-up day by `end_day` (of any participant): how far
        its data reaches then; the minimum int64 where it has none."""
        out = np.full(organizations, np.iinfo(np.int64).min)
        for code, days in enumerate(self.reach_days):
            at = np.searchsorted(days, end_day, side="right")
            if at:
                out[code] = days[at - 1]
        return out


@dataclass(frozen=True)
class CourseHistory:
    graduations: np.ndarray    # enrollment rows of registered participants' graduated life-skills courses
                               # with an end date, sorted by participant, end date and row
    further: DatedRuns         # start days of registered participants' further courses (vocational,
                               # apprenticeship, higher education), by participant

    @classmethod
    def of(cls, enrollments: pd.DataFrame, participants: int) -> "CourseHistory":
        pidx = enrollments["pidx"].to_numpy().astype(np.int64)
        course_type, status = enrollments["course_type"], enrollments["status"]
        ended, started = enrollments["end_date"].to_numpy(), enrollments["start_date"].to_numpy()
        rows = np.flatnonzero((pidx >= 0) & _among(course_type, ("life_skills",)) & _among(status, ("graduated",))
                              & ~np.isnat(ended))
        rows = rows[np.lexsort((rows, ended[rows], pidx[rows]))]
        further = np.flatnonzero((pidx >= 0) & _among(course_type, FURTHER_COURSE_TYPES) & ~np.isnat(started))
        starts = day_numbers(started[further])
        order = np.lexsort((starts, pidx[further]))
        return cls(rows, DatedRuns.of(pidx[further][order], starts[order], participants))


def _among(column: pd.Series, values: tuple[str, ...]) -> np.ndarray:
    """Whether each value of a category column is one of `values`, on its codes (blank: no)."""
    return np.append(column.cat.categories.isin(values), False)[column.cat.codes.to_numpy()]
