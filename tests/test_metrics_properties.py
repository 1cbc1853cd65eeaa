"""Properties every metric keeps on any data: random small tables (participants of two
organizations across three sites and three programs, with enrollments, follow-ups, savings,
services and activities dated over two years) and a random period.

1. A rate is within [0, 1] and within its own 95% interval.
2. A breakdown adds up: the groups' numerators and denominators (a count's values) sum to the
   whole selection's, by any one or two dimensions (site; program and site; ...). Broken down
   by month, quarter or year, only FLOW metrics add up: a stock is measured as at each
   sub-period's end (a woman who left work is counted again in every quarter after), so the
   quarters of a stock do not sum to anything; what holds for a stock is that its last
   sub-period, ending with the period, is the whole.
   One flow counts distinct women, each as at the period's end: vocational_progression. A
   woman who graduates from two life-skills courses in two quarters is in both quarters'
   denominators but once in the year's; and a graduate of January who starts sewing in March
   has progressed by the year's end but not by January's. Where no woman graduated twice, its
   denominators add up and its numerators add up to at most the whole's.
   The follow-up cohorts count women registered in the period, each at her milestones as at
   its end: the women add up (every milestone is due or not yet due), and a milestone not yet
   due at the end of a sub-period may be due by the period's end, never the other way round.
3. A rate or amount with a zero denominator is "no data" (NaN), never a number; a count never is.
4. A filter gives the row its breakdown gives.
5. A fact built over the participants a selection chooses is the fact built over everyone,
   filtered; a catalog expression reads as `DataFrame.eval` reads it.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impact.metrics.catalog import CATALOG, METRICS, ROWS, Kind, Timing
from impact.metrics.engine import Selection, _built, compute, filtered, measure
from impact.metrics.engine import periods as periods_of
from impact.metrics.facts import FACTS
from impact.metrics.prepared import prepare
from impact.contract.tables import (
    ACTIVITY_TYPES,
    COURSE_TYPES,
    EMPLOYMENT_STATUSES,
    REFERRAL_SOURCES,
    SERVICE_STATUSES,
    SERVICE_TYPES,
    WORK_SETTINGS,
)
from tests.frames import (
    activity,
    check,
    clean_tables,
    enrol,
    ledger,
    person,
    row,
    service,
)

ORGS = ("KWCD", "AFESIP")
SITES = ("Phnom Penh", "Siem Reap - Pouk", "Sihanoukville")
PROGRAMS = ("Night Outreach", "Empowerment Training", "Community Protection Network")
GROUP_TYPES = ("karaoke workers", "women in prostitution", None)
DAY0 = dt.date(2023, 1, 1)
SETTINGS = settings(max_examples=25, deadline=None)
pytestmark = pytest.mark.slow       # 25 field tables each, each prepared and computed

days = st.integers(0, 730)


def iso(day: int) -> str:
    return (DAY0 + dt.timedelta(days=day)).isoformat()


@st.composite
def field_tables(draw) -> dict[str, pd.DataFrame]:
    n = draw(st.integers(0, 12))
    people = []
    for i in range(n):
        people.append(person(
            f"P-{i}", iso(draw(days)), organization=draw(st.sampled_from(ORGS)),
            program=draw(st.sampled_from(PROGRAMS)), site=draw(st.sampled_from(SITES)),
            work_setting=draw(st.sampled_from(WORK_SETTINGS + (None,))),
            referral_source=draw(st.sampled_from(REFERRAL_SOURCES + (None,))),
            birth_year=draw(st.one_of(st.none(), st.integers(1975, 2010)))))
    # A woman registered again by another program or site (two registers loaded together).
    for original in draw(st.lists(st.sampled_from(people), max_size=2)) if people else []:
        people.append({**original, "intake_date": iso(draw(days)), "site": draw(st.sampled_from(SITES)),
                       "program": draw(st.sampled_from(PROGRAMS))})
    keys = [(p["organization"], p["participant_id"]) for p in people]
    who = st.sampled_from(keys) if keys else st.nothing()
    small = st.lists(who, max_size=20) if keys else st.just([])

    enrollments = []
    for org, pid in draw(small):
        start = draw(days)
        status = draw(st.sampled_from(("enrolled", "graduated", "dropped_out")))
        end = None if status == "enrolled" and draw(st.booleans()) else iso(start + draw(st.integers(0, 200)))
        enrollments.append(enrol(pid, draw(st.sampled_from(COURSE_TYPES)), iso(start), end, status, organization=org,
                                 course=draw(st.sampled_from(("Empowerment Training", "Sewing", "Beauty")))))
    followups = [check(pid, iso(draw(days)), draw(st.sampled_from(EMPLOYMENT_STATUSES)), organization=org)
                 for org, pid in draw(st.lists(who, max_size=30) if keys else st.just([]))]
    services = [service(pid, iso(draw(days)), draw(st.sampled_from(SERVICE_STATUSES)), organization=org,
                        service_type=draw(st.sampled_from(SERVICE_TYPES)))
                for org, pid in draw(small)]
    # Savings members: registered women, and members who are not (X-...).
    member = st.one_of(who, st.tuples(st.sampled_from(ORGS), st.sampled_from(("X-1", "X-2")))) if keys \
        else st.tuples(st.sampled_from(ORGS), st.sampled_from(("X-1", "X-2")))
    savings = [ledger(mid, iso(draw(days)), draw(st.sampled_from((0, 0.5, 2, 10))),
                      draw(st.sampled_from((None, 0, 0.5, 2))), organization=org,
                      group_type=draw(st.sampled_from(GROUP_TYPES)), group_id=draw(st.sampled_from(("G1", "G2"))))
               for org, mid in draw(st.lists(member, max_size=25))]
    counts = st.one_of(st.none(), st.integers(0, 40))
    activities = [activity(iso(draw(days)), draw(counts), draw(counts), site=draw(st.sampled_from(SITES)),
                           organization=draw(st.sampled_from(ORGS)),
                           activity_type=draw(st.sampled_from(ACTIVITY_TYPES)))
                  for _ in range(draw(st.integers(0, 8)))]
    return clean_tables(participants=people, enrollments=enrollments, followups=followups, services=services,
                        savings=savings, activities=activities)


@st.composite
def periods(draw) -> Selection:
    start = draw(days)
    end = start + draw(st.integers(0, 730 - start))
    return Selection(DAY0 + dt.timedelta(days=start), DAY0 + dt.timedelta(days=end))


def assert_close(a: float, b: float, what: str) -> None:
    assert np.isclose(a, b, rtol=1e-9, atol=1e-9), f"{what}: {a} != {b}"


def check_values(result: pd.DataFrame) -> None:
    """Properties 1 and 3 on every row of a result."""
    for r in result.itertuples():
        kind = METRICS[r.metric].kind
        if kind == Kind.COUNT:
            assert np.isnan(r.numerator) and np.isnan(r.denominator), r
            assert np.isfinite(r.value) and r.value >= 0 and r.note == "", r
            continue
        if not r.denominator > 0:
            assert r.denominator == 0, r
            assert np.isnan(r.value) and r.note == "no data", r
            assert np.isnan(r.ci_low) and np.isnan(r.ci_high), r
            continue
        assert r.note == "", r
        assert_close(r.value, r.numerator / r.denominator, r.metric)
        if kind == Kind.RATE:
            assert 0 <= r.numerator <= r.denominator, r
            assert 0 <= r.ci_low <= r.value <= r.ci_high <= 1, r
        else:
            assert kind == Kind.AMOUNT and np.isnan(r.ci_low), r


def assert_adds_up(parts: pd.DataFrame, whole: pd.DataFrame, label: str) -> None:
    """Property 2: the parts of every metric in `parts` sum to the whole's."""
    for key in parts["metric"].unique():
        part, total = parts[parts["metric"] == key], row(whole, key)
        if METRICS[key].kind == Kind.COUNT:
            assert_close(part["value"].sum(), total["value"], f"{key} by {label}")
        elif METRICS[key].kind == Kind.MEDIAN:   # medians do not add up; what they are of does
            assert_close(part["denominator"].sum(), total["denominator"], f"{key} denominator by {label}")
        else:
            assert_close(part["numerator"].sum(), total["numerator"], f"{key} numerator by {label}")
            assert_close(part["denominator"].sum(), total["denominator"], f"{key} denominator by {label}")


BREAKDOWNS = ((), ("site",), ("program", "site"), ("organization",), ("quarter",), ("group_type",),
              ("course", "age_band"), ("work_setting", "referral_source"), ("course_type", "month"))


@SETTINGS
@given(tables=field_tables(), selection=periods(), by=st.sampled_from(BREAKDOWNS))
def test_rates_in_bounds_and_no_data_never_a_number(tables, selection, by):
    check_values(compute(prepare(tables), selection, by=by))


@SETTINGS
@given(tables=field_tables(), selection=periods(),
       by=st.sampled_from((("site",), ("program", "site"), ("organization",), ("age_band", "work_setting"),
                           ("referral_source",), ("group_type",), ("course",))))
def test_breakdowns_add_up_to_the_whole(tables, selection, by):
    """Every metric that has the dimensions: each fact row is in exactly one group (a woman not
    registered, e.g. a savings member, is in the group of no site rather than left out)."""
    prepared = prepare(tables)
    whole = compute(prepared, selection)
    assert list(whole["metric"]) == [m.key for m in CATALOG]
    parts = compute(prepared, selection, by=by)
    assert_adds_up(parts, whole, " and ".join(by))
    if "program" in by:       # activities have no program: left out of a breakdown by program
        assert not set(parts["metric"]) & {"people_reached", "new_contacts"}


@st.composite
def grains(draw) -> tuple[str, Selection]:
    """A time grain and a period of a few of its sub-periods (to keep the test quick)."""
    grain = draw(st.sampled_from(("month", "quarter", "year")))
    length = {"month": 150, "quarter": 450, "year": 730}[grain]
    start = draw(days)
    end = min(730, start + draw(st.integers(0, length)))
    return grain, Selection(DAY0 + dt.timedelta(days=start), DAY0 + dt.timedelta(days=end))


def graduated_life_skills_twice(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether a woman has two graduated life-skills enrollments. vocational_progression counts
    distinct graduates: she is one in the whole period but one in each sub-period she graduated
    in, so for her (and only her) that flow's sub-periods do not add up."""
    e = tables["enrollments"]
    grads = e[(e["course_type"] == "life_skills") & (e["status"] == "graduated")]
    return bool(grads.duplicated(["organization", "participant_id"]).any())


@SETTINGS
@given(tables=field_tables(), grain_and_period=grains())
def test_sub_periods_add_up_for_flows_and_the_last_one_is_the_stock(tables, grain_and_period):
    grain, selection = grain_and_period
    prepared = prepare(tables)
    whole = compute(prepared, selection)
    parts = compute(prepared, selection, by=(grain,))
    assert parts["period_start"].min() == pd.Timestamp(selection.start)
    assert parts["period_end"].max() == pd.Timestamp(selection.end)
    # Numerators that look to the period's end: a sub-period's looks to its own end.
    as_at_end = ("vocational_progression", "charge_rate", "cohort_exit_share", "cohort_lost_to_followup",
                 "cohort_not_yet_due")
    flows = [m.key for m in CATALOG if m.timing == Timing.FLOW and m.key not in as_at_end]
    assert_adds_up(parts[parts["metric"].isin(flows)], whole, grain)
    due, later = parts[parts["metric"] == "cohort_lost_to_followup"], parts[parts["metric"] == "cohort_not_yet_due"]
    assert_close(due["denominator"].sum() + later["value"].sum(),
                 row(whole, "cohort_lost_to_followup")["denominator"] + row(whole, "cohort_not_yet_due")["value"],
                 f"cohort women by {grain}")
    assert later["value"].sum() >= row(whole, "cohort_not_yet_due")["value"] - 1e-9
    by_the_end = ["vocational_progression", "charge_rate"]
    for key in by_the_end if not graduated_life_skills_twice(tables) else by_the_end[1:]:
        sub, total = parts[parts["metric"] == key], row(whole, key)
        assert_close(sub["denominator"].sum(), total["denominator"], f"{key} by {grain}")
        assert sub["numerator"].sum() <= total["numerator"] + 1e-9
    last = parts[parts["period_end"] == pd.Timestamp(selection.end)]
    for m in CATALOG:
        if m.timing == Timing.STOCK:
            a, b = row(last, m.key), row(whole, m.key)
            for column in ("numerator", "denominator", "value"):
                assert (np.isnan(a[column]) and np.isnan(b[column])) or np.isclose(a[column], b[column]), m.key


@SETTINGS
@given(tables=field_tables(), selection=periods(), site=st.sampled_from(SITES))
def test_a_filter_gives_the_row_of_its_breakdown(tables, selection, site):
    prepared = prepare(tables)
    filtered = compute(prepared, Selection(selection.start, selection.end, {"site": (site,)}))
    by_site = compute(prepared, selection, by=("site",))
    for m in CATALOG:
        got = row(filtered, m.key)
        group = by_site[(by_site["metric"] == m.key) & (by_site["site"] == site)]
        if group.empty:           # nothing at that site: zero, or no data
            assert (got["value"] == 0) if m.kind == Kind.COUNT else (got["denominator"] == 0), m.key
            continue
        for column in ("numerator", "denominator", "value"):
            a, b = got[column], group.iloc[0][column]
            assert (np.isnan(a) and np.isnan(b)) or np.isclose(a, b), (m.key, column)


def _everyone_then_filtered(prepared, name: str, selection: Selection, start, end) -> pd.DataFrame:
    """A fact built over every participant, then filtered: what a selection's fact must equal."""
    return filtered(prepared, FACTS[name].build(prepared, start, end), selection)


@SETTINGS
@given(tables=field_tables(), selection=periods(), site=st.sampled_from(SITES), grain=st.sampled_from(
    [None, "quarter"]))
def test_facts_built_over_the_chosen_participants_are_the_filtered_facts(tables, selection, site, grain):
    """A selection builds its participants' facts over the women its filters choose, from the
    records arranged once per store version (`impact.metrics.histories`); each must be, row
    for row, the fact built over everyone and then filtered, for every period."""
    prepared = prepare(tables)
    chosen = Selection(selection.start, selection.end, {"site": (site,), "program": PROGRAMS[:2]})
    start, end = pd.Timestamp(selection.start), pd.Timestamp(selection.end)
    for period_start, period_end in periods_of(start, end, grain):
        for name, fact in FACTS.items():
            if not {"site", "program"} <= set(fact.dimensions):
                continue
            ours = _built(prepared, fact, chosen, period_start, period_end, {})
            reference = _everyone_then_filtered(prepared, name, chosen, period_start, period_end)
            pd.testing.assert_frame_equal(ours.astype(object).reset_index(drop=True),
                                          reference.astype(object).reset_index(drop=True), obj=name)


@SETTINGS
@given(tables=field_tables(), selection=periods())
def test_catalog_expressions_read_as_dataframe_eval_reads_them(tables, selection):
    """The engine evaluates numerators and denominators itself (no `DataFrame.eval` parser per
    call); on every fact, each catalog expression gives what `DataFrame.eval` gives."""
    prepared = prepare(tables)
    start, end = pd.Timestamp(selection.start), pd.Timestamp(selection.end)
    facts = {name: fact.build(prepared, start, end) for name, fact in FACTS.items()}
    for m in CATALOG:
        for expression in (m.numerator, m.denominator):
            if expression in (None, ROWS):
                continue
            fact = facts[m.fact]
            expected = np.asarray(fact.eval(expression), dtype=float) if len(fact) else np.zeros(0)
            np.testing.assert_array_equal(measure(fact, expression), expected, err_msg=f"{m.key}: {expression}")
