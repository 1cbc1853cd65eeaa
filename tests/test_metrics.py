"""Every metric definition of the field-data contract (spec, "Metrics"), pinned by a test.

The tests double as documentation: each one builds a few rows of the clean tables inline
(`clean_tables` fills the columns a test does not care about and types them exactly as the
loader and the store do), prepares them and reads one figure. The programs' own figures are
reproduced the stronger way: raw ledgers and registers are written as real workbooks and go
through `load_files` (currency marks, merged cells, text dates) before any metric is computed.

Where the spec leaves a choice open, the test that settles it says so in its docstring.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.metrics.catalog import CATALOG, METRICS, Issue, Kind, Metric, Timing, validate_catalog
from impact.metrics.facts import FACTS
from impact.metrics.intervals import wilson_interval
from impact.intake.parsing import load_files
from impact.metrics.engine import DIMENSIONS, RESULT_COLUMNS, Selection, compute
from impact.metrics.prepared import prepare
from impact.contract.tables import INDICATORS, TABLES
from tests import frames
from tests.frames import ORG, activity, check, clean_tables, enrol, fraction, ledger, person, row, service
from tests.workbooks import PARTICIPANT_HEADER, write_xlsx

# The "Metrics" section of the contract (shared/field-data-spec.md), copied into the repository.
SPEC = Path(__file__).resolve().parent / "data" / "spec-metrics.md"
def metrics(tables: dict[str, pd.DataFrame], start=None, end=None, by=(), keys=None, **filters) -> pd.DataFrame:
    """`compute` over clean tables; dates as ISO text, filters as keyword arguments."""
    selection = Selection(pd.Timestamp(start).date() if start else None, pd.Timestamp(end).date() if end else None,
                          {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in filters.items()})
    return compute(prepare(tables), selection, by=tuple(by), keys=tuple(keys) if keys else None)


# --- participants_registered ------------------------------------------------------------------

def test_registered_counts_intakes_in_the_period_both_bounds_inclusive():
    t = clean_tables(participants=[
        person("P-1", "2023-12-31"),            # the day before: out
        person("P-2", "2024-01-01"),            # first day: in
        person("P-3", "2024-03-15"),
        person("P-4", "2024-06-30"),            # last day: in
        person("P-5", "2024-07-01"),            # the day after: out
    ])
    r = row(metrics(t, "2024-01-01", "2024-06-30"), "participants_registered")
    assert r["value"] == 3
    assert r["kind"] == Kind.COUNT
    # A count has no numerator or denominator, and no interval.
    assert all(math.isnan(r[c]) for c in ("numerator", "denominator", "ci_low", "ci_high"))
    assert r["note"] == ""


def test_registered_counts_each_woman_once_and_an_id_per_organization():
    """A participant is (organization, participant_id): registered by two programs she is one
    woman (the earliest intake and the first registration's program and site stand), while the
    same code in another organization is another woman."""
    t = clean_tables(participants=[
        person("P-1", "2024-02-01", program="Night Outreach"),
        person("P-1", "2024-05-01", program="Empowerment Training"),
        person("P-1", "2024-03-01", organization="AFESIP"),
        person("P-2", "2024-04-01", program="Empowerment Training"),
    ])
    assert row(metrics(t, "2024-01-01", "2024-12-31"), "participants_registered")["value"] == 3
    by_program = metrics(t, "2024-01-01", "2024-12-31", by=["program"], keys=["participants_registered"])
    assert row(by_program, "participants_registered", program="Night Outreach")["value"] == 2
    assert row(by_program, "participants_registered", program="Empowerment Training")["value"] == 1
    # Her intake is her first registration: not registered again in May.
    assert row(metrics(t, "2024-04-15", "2024-12-31"), "participants_registered")["value"] == 0


def test_a_woman_registered_twice_is_one_woman_for_every_metric():
    """Duplicated registrations (two programs' registers loaded together) neither double her in
    a denominator nor hide her follow-ups."""
    t = clean_tables(participants=[person("P-1", "2024-01-05"), person("P-1", "2024-02-05", program="Empowerment Training")],
                     followups=[check("P-1", "2024-03-01", "alternative_employment")])
    result = metrics(t, "2024-01-01", "2024-12-31")
    assert fraction(row(result, "followup_coverage")) == (1, 1)
    assert fraction(row(result, "job_exit_rate")) == (1, 1)


# --- graduation_rate ----------------------------------------------------------------------------

def test_graduation_rate_counts_enrollments_that_ended_in_the_period():
    t = clean_tables(
        participants=[person(f"P-{i}", "2023-06-01") for i in range(1, 10)],
        enrollments=[
            enrol("P-1", end="2024-03-31", status="graduated"),
            enrol("P-2", end="2024-12-31", status="graduated"),      # ends on the last day: in
            enrol("P-3", end="2024-05-20", status="dropped_out"),
            enrol("P-4", start="2024-02-01", status="enrolled"),      # running: in no denominator
            enrol("P-5", end="2025-01-15", status="graduated"),      # ends after the period
            enrol("P-6", start="2023-07-01", end="2023-12-31", status="graduated"),  # before it
            enrol("P-7", end="2024-06-30", status="graduated", course_type="vocational", course="Sewing"),
            enrol("P-8", start="2023-09-01", status="enrolled"),      # still running from last year
            enrol("P-9", end="2024-08-31", status="enrolled"),        # an end date but neither outcome
        ])
    r = row(metrics(t, "2024-01-01", "2024-12-31"), "graduation_rate")
    assert fraction(r) == (3, 4)
    assert r["value"] == 0.75 and r["kind"] == Kind.RATE
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(tuple(float(x) for x in wilson_interval(3, 4)))
    sewing = row(metrics(t, "2024-01-01", "2024-12-31", course="Sewing"), "graduation_rate")
    assert fraction(sewing) == (1, 1)


def test_graduation_rate_with_only_running_enrollments_is_no_data_not_zero():
    t = clean_tables(participants=[person("P-1")], enrollments=[enrol("P-1", status="enrolled")])
    r = row(metrics(t, "2024-01-01", "2024-12-31"), "graduation_rate")
    assert fraction(r) == (0, 0)
    assert math.isnan(r["value"]) and math.isnan(r["ci_low"]) and math.isnan(r["ci_high"])
    assert r["note"] == "no data"


# --- vocational_progression ---------------------------------------------------------------------

def test_vocational_progression_follows_life_skills_graduates_of_the_period():
    """Settled here: "after that graduation" is strictly after (a further course starting on the
    graduation day does not count); any further enrollment counts whatever its own status; a
    woman who graduated life skills twice in the period is one graduate, and a further course
    after her first graduation of the period counts."""
    t = clean_tables(
        participants=[person(p, "2023-01-01") for p in "ABCDEFGHI"],
        enrollments=[
            enrol("A", end="2024-03-01", status="graduated"), enrol("A", "vocational", start="2024-04-01"),
            enrol("B", end="2024-03-01", status="graduated"), enrol("B", "vocational", start="2024-01-01"),  # before
            enrol("C", end="2024-05-01", status="graduated"), enrol("C", "vocational", start="2025-01-10"),  # too late
            enrol("D", end="2024-05-01", status="dropped_out"), enrol("D", "vocational", start="2024-06-01"),
            enrol("E", start="2023-01-10", end="2023-11-30", status="graduated"),
            enrol("E", "vocational", start="2024-02-01"),                                    # graduated last year
            enrol("F", end="2024-06-01", status="graduated"), enrol("F", "apprenticeship", start="2024-06-01"),  # same day
            enrol("G", end="2024-06-01", status="graduated"),
            enrol("G", "higher_education", start="2024-09-01", end="2024-10-01", status="dropped_out"),
            enrol("H", end="2024-02-01", status="graduated"), enrol("H", end="2024-08-01", status="graduated"),
            enrol("H", "vocational", start="2024-05-01"),
            enrol("I", status="enrolled"),                                                    # still in life skills
        ])
    r = row(metrics(t, "2024-01-01", "2024-12-31"), "vocational_progression")
    assert fraction(r) == (3, 6)        # A, G, H of A, B, C, F, G, H
    # A flow: C graduated in 2024 and started in January 2025, within this longer period.
    assert fraction(row(metrics(t, "2024-01-01", "2025-01-31"), "vocational_progression")) == (4, 6)
    # As at the end of June: all six had graduated, G's course had not started yet.
    assert fraction(row(metrics(t, "2024-01-01", "2024-06-30"), "vocational_progression")) == (2, 6)


# --- job_exit_rate and followup_coverage -------------------------------------------------------

def exit_tables() -> dict[str, pd.DataFrame]:
    return clean_tables(
        participants=[
            person("P-1", work_setting="karaoke"), person("P-2", work_setting="brothel"),
            person("P-3", work_setting="massage"), person("P-4", work_setting="beer_garden"),
            person("P-5", work_setting="other_entertainment"), person("P-6"), person("P-7"),
            person("N-1", work_setting="none"), person("N-2", work_setting="returning_migrant"),
            person("N-3", work_setting=None),
            person("L-1", "2024-07-01"),               # registered after the period's end
        ],
        followups=[
            check("P-1", "2024-01-20", "entertainment_work"), check("P-1", "2024-05-02", "alternative_employment"),
            check("P-2", "2024-02-10", "alternative_employment"),
            check("P-2", "2024-07-15", "entertainment_work"),     # after the end: ignored
            check("P-3", "2024-03-03", "entertainment_work"),
            check("P-3", "2024-06-01", "unknown"),                # unknown: not a known follow-up
            check("P-4", "2024-04-04", "unknown"),
            check("P-6", "2024-04-01", "studying"), check("P-6", "2024-04-01", "entertainment_work"),
            check("P-7", "2024-04-01", "entertainment_work"), check("P-7", "2024-04-01", "not_working"),
            check("N-1", "2024-03-01", "alternative_employment"),
            check("N-2", "2024-03-01", "entertainment_work"),
            check("N-3", "2024-03-01", "own_business"),
            check("L-1", "2024-06-20", "alternative_employment"),
        ])


def test_job_exit_rate_latest_known_status_among_at_risk_women_as_at_the_end():
    """Two checks on the same day: the later spreadsheet row wins (P-6 is back in entertainment
    work, P-7 is out)."""
    r = row(metrics(exit_tables(), "2024-01-01", "2024-06-30"), "job_exit_rate")
    assert fraction(r) == (3, 5)        # P-1, P-2, P-7 out of P-1, P-2, P-3, P-6, P-7
    assert r["kind"] == Kind.RATE


def test_followup_coverage_counts_at_risk_women_with_a_known_followup():
    r = row(metrics(exit_tables(), "2024-01-01", "2024-06-30"), "followup_coverage")
    assert fraction(r) == (5, 7)        # P-4 (only unknown) and P-5 (none) are not covered


def test_exit_and_coverage_are_stocks_the_period_start_does_not_matter():
    """Stocks: follow-ups before the period's start count; only the end matters."""
    whole = metrics(exit_tables(), "2020-01-01", "2024-06-30")
    june = metrics(exit_tables(), "2024-06-01", "2024-06-30")
    for key in ("job_exit_rate", "followup_coverage"):
        assert fraction(row(june, key)) == fraction(row(whole, key))
    # Later, P-2's July check (back in entertainment work) and L-1's registration count.
    later = metrics(exit_tables(), "2024-01-01", "2024-07-31")
    assert fraction(row(later, "job_exit_rate")) == (3, 6)
    assert fraction(row(later, "followup_coverage")) == (6, 8)


def test_same_day_followups_the_later_row_wins_in_either_order():
    for statuses, out in ((("studying", "entertainment_work"), 0), (("entertainment_work", "studying"), 1)):
        t = clean_tables(participants=[person("P-1")],
                         followups=[check("P-1", "2024-03-01", s) for s in statuses])
        assert fraction(row(metrics(t, "2024-01-01", "2024-12-31"), "job_exit_rate")) == (out, 1)


# --- sustained_exit_6m --------------------------------------------------------------------------

def test_sustained_exit_six_months_after_the_first_exit():
    """Day 180 counts (2024 is a leap year: 1 January + 180 days is 29 June). A relapse before
    day 180 does not matter, as the definition only looks from the 180th day on; a relapse on
    or after it does. Without a known follow-up from day 180 on she is in no denominator."""
    out, work = "alternative_employment", "entertainment_work"
    t = clean_tables(
        participants=[person(p, "2023-06-01") for p in
                      ("S1", "S2", "S3", "S4", "S5", "S7", "S8", "S9", "S10")]
        + [person("S6", "2023-06-01", work_setting="none")],
        followups=[
            check("S1", "2024-01-01", out), check("S1", "2024-06-29", out),                 # exactly day 180
            check("S2", "2024-01-01", out), check("S2", "2024-03-01", work),               # relapse before day 180
            check("S2", "2024-07-15", out),
            check("S3", "2024-01-01", out), check("S3", "2024-07-01", out),
            check("S3", "2024-09-01", work),                                               # relapse after day 180
            check("S4", "2024-01-01", out), check("S4", "2024-06-28", out),                 # day 179 only
            check("S5", "2023-12-01", work), check("S5", "2024-02-01", "studying"),        # first exit: 1 February
            check("S5", "2024-07-31", "own_business"),                                     # day 181
            check("S6", "2024-01-01", out), check("S6", "2024-07-01", out),                 # not at risk
            check("S7", "2024-01-01", out), check("S7", "2024-08-01", "unknown"),          # unknown is not known
            check("S8", "2024-10-01", out), check("S8", "2025-04-15", out),                 # after the end
            check("S9", "2024-01-01", out), check("S9", "2024-07-01", out),
            check("S9", "2025-02-01", work),                                               # relapse after the end
            check("S10", "2024-01-01", out), check("S10", "2024-06-29", work),             # relapse on day 180
        ])
    r = row(metrics(t, "2024-01-01", "2024-12-31"), "sustained_exit_6m")
    assert fraction(r) == (4, 6)        # S1, S2, S5, S9 of S1, S2, S3, S5, S9, S10
    # As at the end of June only S1 and S10 have a follow-up 180 days on.
    assert fraction(row(metrics(t, "2024-01-01", "2024-06-30"), "sustained_exit_6m")) == (1, 2)


def test_sustained_exit_counts_from_the_first_exit_not_a_later_one():
    """Out in January, back in March, out again in May: her first exit is January, so a
    follow-up in early August (day 213 after January, day 92 after May) is the six-month check."""
    t = clean_tables(participants=[person("P-1", "2023-06-01")], followups=[
        check("P-1", "2024-01-01", "not_working"), check("P-1", "2024-03-01", "entertainment_work"),
        check("P-1", "2024-05-01", "studying"), check("P-1", "2024-08-01", "studying")])
    assert fraction(row(metrics(t, "2024-01-01", "2024-12-31"), "sustained_exit_6m")) == (1, 1)


# --- business_starts ----------------------------------------------------------------------------

def test_business_starts_latest_known_status_own_business_at_risk_or_not():
    t = clean_tables(
        participants=[person("B1"), person("B2", work_setting="none"), person("B3"), person("B4"),
                      person("B5"), person("B6", "2025-01-05"), person("B7")],
        followups=[
            check("B1", "2024-05-01", "own_business"),
            check("B2", "2024-05-01", "own_business"),                                            # not at risk
            check("B3", "2024-03-01", "own_business"), check("B3", "2024-09-01", "alternative_employment"),
            check("B4", "2024-03-01", "own_business"), check("B4", "2024-09-01", "unknown"),      # still own
            check("B5", "2025-02-01", "own_business"),                                            # after the end
            check("B6", "2024-12-01", "own_business"),                                            # registered later
            check("B7", "2024-03-01", "own_business"), check("B7", "2025-03-01", "entertainment_work"),
        ])
    r = row(metrics(t, "2024-01-01", "2024-12-31"), "business_starts")
    assert r["value"] == 4 and r["kind"] == Kind.COUNT      # B1, B2, B4, B7
    assert math.isnan(r["numerator"]) and math.isnan(r["denominator"])


# --- savings_rate and savings_per_member -------------------------------------------------------

def test_savings_net_from_the_ledger_start_up_to_the_period_end():
    """A stock: deposits from before the period count, ledger rows after its end do not. Net
    exactly 0 is not saving."""
    t = clean_tables(savings=[
        ledger("M-1", "2023-10-01", 10), ledger("M-1", "2024-02-01", 0, 4),       # net 6: saver
        ledger("M-2", "2024-01-01", 5), ledger("M-2", "2024-03-01", 0, 5),        # net exactly 0: not
        ledger("M-3", "2024-01-01", 0), ledger("M-3", "2024-07-01", 20),          # deposit after the end
        ledger("M-4", "2024-05-01", 3), ledger("M-4", "2024-08-01", 0, 3),        # withdrawal after the end
        ledger("M-5", "2024-08-01", 7),                                           # joined after the end
    ])
    result = metrics(t, "2024-06-01", "2024-06-30")
    rate = row(result, "savings_rate")
    assert fraction(rate) == (2, 4)
    per_member = row(result, "savings_per_member")
    assert fraction(per_member) == (9, 4)          # 6 + 0 + 0 + 3 dollars over 4 members
    assert per_member["value"] == 2.25
    assert per_member["kind"] == "amount"
    assert math.isnan(per_member["ci_low"])        # an amount has no interval


def test_savings_members_are_organization_and_member_id():
    """The same member_id in two organizations is two members; one member in two groups of one
    organization is one member (broken down by group type, she is in her latest row's group)."""
    t = clean_tables(savings=[
        ledger("M-1", "2024-01-01", 5),
        ledger("M-1", "2024-01-01", 0, organization="AFESIP"),
        ledger("M-2", "2024-01-01", 4, group_id="G1"),
        ledger("M-2", "2024-03-01", 0, 4, group_id="G2", group_type="women in prostitution"),
    ])
    result = metrics(t, "2024-01-01", "2024-06-30")
    assert fraction(row(result, "savings_rate")) == (1, 3)
    by_org = metrics(t, "2024-01-01", "2024-06-30", by=["organization"], keys=["savings_rate"])
    assert fraction(row(by_org, "savings_rate", organization=ORG)) == (1, 2)
    assert fraction(row(by_org, "savings_rate", organization="AFESIP")) == (0, 1)
    by_type = metrics(t, "2024-01-01", "2024-06-30", by=["group_type"], keys=["savings_rate"])
    assert fraction(row(by_type, "savings_rate", group_type="karaoke workers")) == (1, 2)
    assert fraction(row(by_type, "savings_rate", group_type="women in prostitution")) == (0, 1)


def test_unregistered_savings_members_keep_their_organization():
    """member_id is a participant_id only where the member is registered; a member who is not
    still belongs to her ledger's organization (and to no site)."""
    t = clean_tables(participants=[person("M-1", site="Siem Reap - Pouk")],
                     savings=[ledger("M-1", "2024-01-01", 5), ledger("X-9", "2024-01-01", 5)])
    only_org = metrics(t, "2024-01-01", "2024-06-30", organization=ORG)
    assert fraction(row(only_org, "savings_rate")) == (2, 2)
    by_site = metrics(t, "2024-01-01", "2024-06-30", by=["site"], keys=["savings_rate"])
    assert fraction(row(by_site, "savings_rate", site="Siem Reap - Pouk")) == (1, 1)
    assert by_site["denominator"].sum() == 2       # the unregistered member is in a group of her own


# --- referral_completion_rate -------------------------------------------------------------------

def test_referral_completion_pending_is_in_no_denominator():
    t = clean_tables(participants=[person("P-1")], services=[
        service("P-1", "2024-02-01", "completed"), service("P-1", "2024-03-01", "completed"),
        service("P-1", "2024-06-30", "completed"), service("P-1", "2024-04-01", "declined"),
        service("P-1", "2024-04-02", "pending"), service("P-1", "2024-05-02", "pending"),
        service("P-1", "2023-12-31", "declined"), service("P-1", "2024-07-01", "declined"),
    ])
    assert fraction(row(metrics(t, "2024-01-01", "2024-06-30"), "referral_completion_rate")) == (3, 4)
    pending_only = metrics(t, "2024-04-02", "2024-05-31")
    r = row(pending_only, "referral_completion_rate")
    assert fraction(r) == (0, 0) and math.isnan(r["value"]) and r["note"] == "no data"


# --- people_reached and new_contacts ------------------------------------------------------------

def test_activity_sums_blank_is_zero_and_activities_keep_their_own_site():
    t = clean_tables(
        participants=[person("P-1", site="Phnom Penh")],
        activities=[
            activity("2024-01-05", 40, 6), activity("2024-02-05", None, 3), activity("2024-03-05", 25, None),
            activity("2024-02-10", 100, None, site="Sihanoukville", activity_type="radio_callin"),
            activity("2023-12-31", 500, 50), activity("2024-04-01", 500, 50),
        ])
    result = metrics(t, "2024-01-01", "2024-03-31")
    assert row(result, "people_reached")["value"] == 165
    assert row(result, "new_contacts")["value"] == 9
    by_site = metrics(t, "2024-01-01", "2024-03-31", by=["site"], keys=["people_reached", "new_contacts"])
    assert row(by_site, "people_reached", site="Phnom Penh")["value"] == 65
    assert row(by_site, "people_reached", site="Sihanoukville")["value"] == 100   # no participant there
    assert row(by_site, "new_contacts", site="Sihanoukville")["value"] == 0
    # Activities have no program: broken down by program they are left out.
    assert "people_reached" not in set(metrics(t, "2024-01-01", "2024-03-31", by=["program"])["metric"])


def test_counts_are_zero_not_no_data():
    r = row(metrics(clean_tables(), "2024-01-01", "2024-12-31"), "new_contacts")
    assert r["value"] == 0 and r["note"] == ""


# --- whose site ---------------------------------------------------------------------------------

def test_enrollments_followups_services_and_savers_belong_to_the_registration_site():
    """Sites of the records themselves play no part: every participant-based row is counted at
    the site where she was registered."""
    pp, sr = "Phnom Penh", "Siem Reap - Pouk"
    t = clean_tables(
        participants=[person("A", site=pp), person("B", site=sr), person("C", site=sr)],
        enrollments=[enrol("A", end="2024-03-01", status="graduated"), enrol("B", end="2024-03-01", status="graduated"),
                     enrol("C", end="2024-03-01", status="dropped_out")],
        followups=[check("A", "2024-04-01", "studying"), check("B", "2024-04-01", "entertainment_work")],
        services=[service("A", "2024-02-01", "declined"), service("C", "2024-02-01", "completed")],
        savings=[ledger("A", "2024-02-01", 0), ledger("B", "2024-02-01", 10), ledger("C", "2024-02-01", 2)],
        activities=[activity("2024-02-01", 30, 3, site=pp)],
    )
    r = metrics(t, "2024-01-01", "2024-06-30", by=["site"])
    assert fraction(row(r, "graduation_rate", site=pp)) == (1, 1)
    assert fraction(row(r, "graduation_rate", site=sr)) == (1, 2)
    assert fraction(row(r, "job_exit_rate", site=pp)) == (1, 1)
    assert fraction(row(r, "job_exit_rate", site=sr)) == (0, 1)
    assert fraction(row(r, "followup_coverage", site=sr)) == (1, 2)
    assert fraction(row(r, "referral_completion_rate", site=pp)) == (0, 1)
    assert fraction(row(r, "referral_completion_rate", site=sr)) == (1, 1)
    assert fraction(row(r, "savings_rate", site=pp)) == (0, 1)
    assert fraction(row(r, "savings_rate", site=sr)) == (2, 2)
    assert fraction(row(r, "savings_per_member", site=sr)) == (12, 2)
    assert row(r, "people_reached", site=pp)["value"] == 30
    assert sr not in set(r.loc[r["metric"] == "people_reached", "site"])


# --- the result table: no data, breakdowns, periods, filters ---------------------------------

def small_tables() -> dict[str, pd.DataFrame]:
    pp, sr = "Phnom Penh", "Siem Reap - Pouk"
    return clean_tables(
        participants=[
            person("A", "2024-01-10", site=pp, program="Night Outreach", birth_year=2007),
            person("B", "2024-02-10", site=pp, program="Empowerment Training", birth_year=2000,
                   referral_source="hotline", work_setting="none"),
            person("C", "2024-02-20", site=sr, program="Night Outreach", birth_year=1985),
            person("D", "2024-04-05", site=sr, program="Empowerment Training", birth_year=None),
        ],
        enrollments=[enrol("A", end="2024-02-01", status="graduated"), enrol("B", end="2024-05-01", status="dropped_out"),
                     enrol("C", end="2024-05-15", status="graduated", course="Sewing", course_type="vocational")],
        followups=[check("A", "2024-02-15", "entertainment_work"), check("A", "2024-05-15", "studying"),
                   check("C", "2024-03-01", "own_business")],
        services=[service("A", "2024-01-20", "completed"), service("C", "2024-04-20", "declined")],
        savings=[ledger("A", "2024-01-01", 3), ledger("C", "2024-04-01", 0)],
        activities=[activity("2024-01-05", 10, 1), activity("2024-05-05", 20, 2, site=sr)],
    )


def test_result_columns_and_one_row_per_metric():
    r = metrics(small_tables(), "2024-01-01", "2024-06-30")
    assert list(r.columns) == RESULT_COLUMNS
    assert list(r["metric"]) == [m.key for m in CATALOG]
    assert set(r["kind"]) == {"count", "rate", "amount", "median"}


def test_a_rate_with_no_denominator_is_no_data_never_zero():
    r = metrics(small_tables(), "2023-01-01", "2023-06-30")    # before anything happened
    for m in CATALOG:
        got = row(r, m.key)
        if m.kind == Kind.COUNT:
            assert got["value"] == 0 and got["note"] == "", m.key
        else:
            assert math.isnan(got["value"]) and got["note"] == "no data", m.key
            assert got["denominator"] == 0, m.key


def test_breakdown_by_one_dimension():
    r = metrics(small_tables(), "2024-01-01", "2024-06-30", by=["program"])
    assert list(r.columns) == RESULT_COLUMNS[:4] + ["program"] + RESULT_COLUMNS[4:]
    assert row(r, "participants_registered", program="Night Outreach")["value"] == 2
    assert fraction(row(r, "graduation_rate", program="Night Outreach")) == (2, 2)
    assert fraction(row(r, "graduation_rate", program="Empowerment Training")) == (0, 1)
    assert row(r, "graduation_rate", program="Empowerment Training")["value"] == 0   # a real 0%


def test_breakdown_by_two_dimensions_and_by_age_band():
    r = metrics(small_tables(), "2024-01-01", "2024-06-30", by=["program", "site"], keys=["participants_registered"])
    counts = {(g.program, g.site): g.value for g in r.itertuples()}
    assert counts == {("Empowerment Training", "Phnom Penh"): 1, ("Empowerment Training", "Siem Reap - Pouk"): 1,
                      ("Night Outreach", "Phnom Penh"): 1, ("Night Outreach", "Siem Reap - Pouk"): 1}
    bands = metrics(small_tables(), "2024-01-01", "2024-06-30", by=["age_band"], keys=["participants_registered"])
    assert {g.age_band: g.value for g in bands.itertuples()} == {
        "under 18": 1, "18-24": 1, "35+": 1, "not recorded": 1}


def test_breakdown_by_month_quarter_and_year():
    t = small_tables()
    months = metrics(t, "2024-01-01", "2024-03-31", by=["month"], keys=["participants_registered", "job_exit_rate"])
    registered = months[months["metric"] == "participants_registered"]
    assert list(registered["period_start"].dt.strftime("%m-%d")) == ["01-01", "02-01", "03-01"]
    assert list(registered["period_end"].dt.strftime("%m-%d")) == ["01-31", "02-29", "03-31"]
    assert list(registered["value"]) == [1, 2, 0]
    # A stock, month by month as at each month's end: A is known in work from February, C out
    # (own business) from March.
    exits = months[months["metric"] == "job_exit_rate"]
    assert [fraction(e) for _, e in exits.iterrows()] == [(0, 0), (0, 1), (1, 2)]
    quarters = metrics(t, "2024-01-01", "2024-06-30", by=["quarter"], keys=["participants_registered", "job_exit_rate"])
    assert row(quarters, "participants_registered", period_start="2024-04-01")["value"] == 1
    assert fraction(row(quarters, "job_exit_rate", period_end="2024-06-30")) == (2, 2)
    # Periods are clipped to the selection.
    years = metrics(t, "2023-07-01", "2024-03-31", by=["year"], keys=["participants_registered"])
    assert [(s.date(), e.date()) for s, e in zip(years["period_start"], years["period_end"])] == [
        (dt.date(2023, 7, 1), dt.date(2023, 12, 31)), (dt.date(2024, 1, 1), dt.date(2024, 3, 31))]
    assert list(years["value"]) == [0, 3]
    by_both = metrics(t, "2024-01-01", "2024-06-30", by=["quarter", "site"], keys=["participants_registered"])
    assert row(by_both, "participants_registered", period_start="2024-01-01", site="Phnom Penh")["value"] == 2


def test_filters():
    t = small_tables()
    r = metrics(t, "2024-01-01", "2024-06-30", site="Siem Reap - Pouk")
    assert row(r, "participants_registered")["value"] == 2
    assert fraction(row(r, "graduation_rate")) == (1, 1)
    assert row(r, "people_reached")["value"] == 20
    both = metrics(t, "2024-01-01", "2024-06-30", site=["Phnom Penh", "Siem Reap - Pouk"], program="Night Outreach")
    assert row(both, "participants_registered")["value"] == 2
    assert row(metrics(t, "2024-01-01", "2024-06-30", referral_source="hotline"),
               "participants_registered")["value"] == 1
    assert row(metrics(t, "2024-01-01", "2024-06-30", work_setting="none"), "participants_registered")["value"] == 1
    assert row(metrics(t, "2024-01-01", "2024-06-30", age_band="under 18"), "participants_registered")["value"] == 1
    assert row(metrics(t, "2024-01-01", "2024-06-30", organization="AFESIP"), "participants_registered")["value"] == 0


def test_a_filter_a_metric_cannot_take_is_said_not_ignored():
    """Settled here: course is a filter of the enrollment metrics and group type of the savings
    ones; the others cannot take them and come back as no value, with a note saying why
    (never the unfiltered figure)."""
    r = metrics(small_tables(), "2024-01-01", "2024-06-30", group_type="karaoke workers")
    assert fraction(row(r, "savings_rate")) == (1, 2)
    other = row(r, "job_exit_rate")
    assert math.isnan(other["value"]) and other["note"] == "cannot be filtered by group_type"
    r = metrics(small_tables(), "2024-01-01", "2024-06-30", course="Sewing")
    assert fraction(row(r, "graduation_rate")) == (1, 1)
    assert row(r, "people_reached")["note"] == "cannot be filtered by course"


def test_unknown_filters_and_dimensions_raise():
    with pytest.raises(ValueError, match="cannot filter by colour"):
        Selection(filters={"colour": ("red",)})
    p = prepare(small_tables())
    for by in (("colour",), ("site", "program", "organization"), ("month", "quarter")):
        with pytest.raises(ValueError):
            compute(p, Selection(dt.date(2024, 1, 1), dt.date(2024, 6, 30)), by=by)
    with pytest.raises(KeyError):
        compute(p, Selection(dt.date(2024, 1, 1), dt.date(2024, 6, 30)), keys=("happiness",))


def test_wilson_interval_of_the_karaoke_savers():
    low, high = wilson_interval(114, 124)
    assert float(low) == pytest.approx(0.8579, abs=1e-4)
    assert float(high) == pytest.approx(0.9556, abs=1e-4)
    assert all(math.isnan(float(x)) for x in wilson_interval(0, 0))
    low, high = wilson_interval(0, 5)
    assert float(low) == 0 and 0 < float(high) < 1
    low, high = wilson_interval(5, 5)
    assert 0 < float(low) < 1 and float(high) == 1


def test_a_ratio_is_sum_over_sum_never_an_average_of_group_ratios():
    t = clean_tables(participants=[person("A", site="Phnom Penh"), person("B", site="Siem Reap - Pouk"),
                                   person("C", site="Siem Reap - Pouk"), person("D", site="Siem Reap - Pouk")],
                     savings=[ledger("A", "2024-01-01", 10), ledger("B", "2024-01-01", 1),
                              ledger("C", "2024-01-01", 1), ledger("D", "2024-01-01", 0)])
    r = row(metrics(t, "2024-01-01", "2024-06-30"), "savings_per_member")
    assert r["value"] == 3.0                     # 12 / 4, not the mean of 10 and 2/3


# --- the catalog ----------------------------------------------------------------------------------

def spec_metrics() -> dict[str, str]:
    """key -> flow/stock, from the spec's Metrics table."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| (\w+) \| (flow|stock) \|", section, flags=re.M))


EXPECTED_KEYS = {"participants_registered", "graduation_rate", "vocational_progression", "job_exit_rate",
                 "followup_coverage", "sustained_exit_6m", "business_starts", "savings_rate",
                 "savings_per_member", "referral_completion_rate", "people_reached", "new_contacts",
                 "network_members", "network_groups", "network_referrals", "cases_reported", "survivors_rescued",
                 "charge_rate", "perpetrators_convicted", "known_recruiter_rate", "days_to_verdict"}


# Metrics of the dashboard's views beyond the spec's table: funnel, status mix and cohort steps.
VIEW_KEYS = {"enrollments_started", "at_risk_followed", "cohort_exit_share", "cohort_lost_to_followup",
             "cohort_not_yet_due"}


def test_catalog_covers_the_contract_metrics_and_the_target_indicators():
    assert set(METRICS) == EXPECTED_KEYS | VIEW_KEYS
    assert EXPECTED_KEYS == set(INDICATORS)


def test_catalog_is_the_spec_metrics_table():
    """Each catalog metric is in the spec's table, a flow or a stock as it says, and every
    metric of the spec's table is in the catalog."""
    timing = spec_metrics()
    assert EXPECTED_KEYS == set(timing)
    assert {m.key: m.timing for m in CATALOG if m.key in EXPECTED_KEYS}.items() <= timing.items()


def test_catalog_kinds():
    counts = {m.key for m in CATALOG if m.kind == Kind.COUNT}
    assert counts == {"participants_registered", "business_starts", "people_reached", "new_contacts",
                      "enrollments_started", "at_risk_followed", "cohort_not_yet_due",
                      "network_members", "network_groups", "network_referrals", "cases_reported",
                      "survivors_rescued", "perpetrators_convicted"}
    assert METRICS["savings_per_member"].kind == "amount"
    assert METRICS["days_to_verdict"].kind == "median" and not METRICS["days_to_verdict"].higher_is_better
    assert {m.timing for m in CATALOG} == {Timing.FLOW, Timing.STOCK}
    for m in CATALOG:
        assert m.label and m.label_km and m.question and m.question_km and m.description


def test_the_catalog_validates_clean():
    assert validate_catalog() == []


def test_validate_catalog_reports_every_problem_not_the_first():
    good = METRICS["graduation_rate"]

    def entry(**change) -> Metric:
        return Metric(**{**vars(good), "key": "x", **change})

    bad = [({"fact": "dreams"}, "unknown fact 'dreams'"), ({"label": "", "label_km": ""}, "label, label_km missing"),
           ({"question": ""}, "question missing"), ({"description": ""}, "description missing"),
           ({"kind": "ratio"}, "unknown kind 'ratio'"), ({"timing": "sometimes"}, "unknown timing 'sometimes'"),
           ({"kind": Kind.COUNT}, "a count has no denominator"), ({"denominator": None}, "a rate needs a denominator")]
    for change, message in bad:
        issues = [str(i) for i in validate_catalog((entry(**change),))]
        assert len(issues) == 1 and issues[0].startswith(f"x: {message}"), change
    issues = validate_catalog(CATALOG + (good,) + tuple(entry(**change) for change, _ in bad))
    assert Issue("graduation_rate", "the key is used more than once") in issues
    assert len(issues) == 1 + len(bad) + 1            # "x" is a duplicate too: nothing stops at the first


def test_validate_catalog_catches_a_typo_in_an_expression():
    """A misspelt column, a misspelt category value and an expression that is not one are all
    reported against the fact's declared columns, before any page computes with them."""
    good = METRICS["graduation_rate"]
    typo = Metric(**{**vars(good), "key": "typo", "numerator": "stauts == 'graduated'",
                     "denominator": "status in ['graduated', 'droped_out']"})
    messages = [i.message for i in validate_catalog((typo,))]
    assert len(messages) == 2
    assert "names 'stauts', not a column of the fact" in messages[0]
    assert "'droped_out' is not a value of status" in messages[1]
    broken = Metric(**{**vars(good), "key": "broken", "numerator": "status ==", "denominator": "__import__('os')"})
    messages = [i.message for i in validate_catalog((broken,))]
    assert messages[0] == "cannot read 'status =='" and "uses Call" in messages[1]


def test_every_fact_has_the_columns_it_declares():
    """The declared columns are the ones a fact's frame has, so validating against them is
    validating against what `DataFrame.eval` will see."""
    data = frames.prepared("NGO", participants=[dict(participant_id="P1", intake_date="2024-01-15")])
    for name, fact in FACTS.items():
        built = fact.build(data, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31"))
        assert tuple(c for c in built.columns if c != "record_key") == fact.columns, name
        assert "record_key" in built, name          # each unit's key, for the noise of donors' cells


def test_dimensions_are_the_spec_filters():
    """Organization, program, site (and its province), age band, work setting, referral source,
    course, group type; the period is the Selection's dates. Beyond them, the views' own
    breakdowns: a woman's latest known status (status mix), her intake quarter and the months
    after it (cohorts); for activities, services, networks and cases also activity type,
    service type, referred by, network, role, training, case type and recruiter relation."""
    assert set(DIMENSIONS) == {"organization", "program", "site", "province", "age_band", "work_setting",
                               "referral_source", "course", "course_type", "group_type",
                               "latest_status", "intake_quarter", "milestone", "activity_type", "service_type",
                               "referred_by", "network", "role", "training", "case_type", "recruiter_relation"}


# --- the programs' own figures, from raw workbooks -------------------------------------------

SAVINGS_HEADER = ["Group ID", "Group Type", "Member ID", "Month", "Deposit", "Withdrawal", "Currency"]


def savings_sheet(group: str, group_type: str, people: list[tuple[str, str]], currency: str) -> tuple[list, list]:
    """A group's ledger as facilitators lay it out: a title, six monthly rows per member, the
    group id merged down the whole group and each member id merged down her six rows, a Total
    row. `people` are (member_id, kind): "saver" (deposits $1.50 a month, takes out $0.50 in
    April: $8.50 by June; in July the cycle's share-out pays her $9, her savings with interest),
    "zero" (never deposits), "even" (takes out in June exactly what she put in in January) or
    "july" (her only deposit comes after the period). Amounts are written the way `currency`
    says: "៛" in the cell, "KHR" in the currency column, or dollars."""
    def amount(usd: float | None):
        if usd is None:
            return None
        if currency == "៛":
            return f"{usd * 4000:,.0f} ៛"
        return usd * 4000 if currency == "KHR" else usd
    plan = {"saver": ([1.5] * 6 + [0], {3: 0.5, 6: 9}), "zero": ([0] * 6, {}),
            "even": ([2] + [0] * 5, {5: 2}), "july": ([0] * 6 + [5], {})}
    rows = [[f"{group} savings ledger 2024"], SAVINGS_HEADER]
    merges = []
    for member, kind in people:
        deposits, withdrawals = plan[kind]
        first = len(rows) + 1                               # Excel row of her first line
        for i, deposit in enumerate(deposits):
            month = dt.date(2024, i + 1, 1)
            rows.append([group if len(rows) == 2 else None, group_type, member if i in (0, 6) else None,
                         month.strftime("%b %Y") if i % 2 else month.strftime("%d/%m/%Y"),
                         amount(deposit), amount(withdrawals.get(i)), "KHR" if currency == "KHR" else None])
        merges.append(f"C{first}:C{first + 5}")
    merges.append(f"A3:A{len(rows)}")
    rows.append(["Total", None, None, None, None, None, None])
    return rows, merges


def members(prefix: str, savers: int, others: int) -> list[tuple[str, str]]:
    kinds = ["zero", "even", "july"]
    return [(f"{prefix}-{i:03d}", "saver") for i in range(savers)] + \
           [(f"{prefix}-{savers + i:03d}", kinds[i % 3]) for i in range(others)]


def write_savings_workbooks(folder: Path) -> list[Path]:
    """124 karaoke-worker members in four groups (114 savers) and 61 members of two groups of
    women in prostitution (40 savers), in riel with the ៛ mark, riel with a currency column,
    and dollars."""
    groups = [("KTV-1", "karaoke workers", members("K1", 30, 2), "៛"),
              ("KTV-2", "karaoke workers", members("K2", 28, 3), "KHR"),
              ("KTV-3", "karaoke workers", members("K3", 26, 4), ""),
              ("KTV-4", "karaoke workers", members("K4", 30, 1), "៛"),
              ("WIP-1", "women in prostitution", members("W1", 20, 10), "KHR"),
              ("WIP-2", "women in prostitution", members("W2", 20, 11), "")]
    paths = []
    for group, group_type, people, currency in groups:
        rows, merges = savings_sheet(group, group_type, people, currency)
        paths.append(write_xlsx(folder / f"KWCD_{group}_savings.xlsx", {"Savings": rows}, merges={"Savings": merges}))
    return paths


def test_savings_figures_from_the_ledgers(tmp_path):
    result = load_files(write_savings_workbooks(tmp_path))
    assert result.issues == []
    ledger_rows = result.table("savings")
    # Merged cells fill down: every row has its group and its member, each member one group.
    assert ledger_rows["group_id"].notna().all() and ledger_rows["member_id"].notna().all()
    assert ledger_rows["member_id"].nunique() == 185
    assert (ledger_rows.groupby("member_id")["group_id"].nunique() == 1).all()
    tables = {name: result.table(name) for name in TABLES}
    r = metrics(tables, "2024-01-01", "2024-06-30", by=["group_type"], keys=["savings_rate", "savings_per_member"])
    karaoke = row(r, "savings_rate", group_type="karaoke workers")
    assert fraction(karaoke) == (114, 124)
    assert round(karaoke["value"] * 100, 1) == 91.9
    assert (karaoke["ci_low"], karaoke["ci_high"]) == pytest.approx((0.8579, 0.9556), abs=1e-4)
    prostitution = row(r, "savings_rate", group_type="women in prostitution")
    assert fraction(prostitution) == (40, 61)
    assert round(prostitution["value"] * 100, 1) == 65.6
    # Each saver put in 6 x $1.50 and took out $0.50: $8.50, whatever currency she saved in.
    assert row(r, "savings_per_member", group_type="karaoke workers")["numerator"] == pytest.approx(114 * 8.5)
    overall = row(metrics(tables, "2024-01-01", "2024-06-30"), "savings_rate")
    assert fraction(overall) == (154, 185)
    # By the end of July the share-out has paid the savers more than they put in: net -$0.50,
    # not savers any more (deposits minus withdrawals, as the spec says, interest or not); the
    # two July depositors are.
    july = metrics(tables, "2024-01-01", "2024-07-31", by=["group_type"], keys=["savings_rate", "savings_per_member"])
    assert fraction(row(july, "savings_rate", group_type="karaoke workers")) == (2, 124)
    assert row(july, "savings_per_member", group_type="karaoke workers")["numerator"] == pytest.approx(-0.5 * 114 + 2 * 5)


def test_riel_converted_at_the_configured_rate(tmp_path, monkeypatch):
    rows = [SAVINGS_HEADER, ["G1", "karaoke workers", "M-1", "Jan 2024", "41,000 ៛", None, None],
            ["G1", "karaoke workers", "M-2", "Jan 2024", 8200, "4100", "KHR"],
            ["G1", "karaoke workers", "M-3", "Jan 2024", 5, None, "USD"]]
    path = write_xlsx(tmp_path / "KWCD_ledger.xlsx", {"Savings": rows})
    default = load_files([path])
    per_member = row(metrics({n: default.table(n) for n in TABLES}, "2024-01-01", "2024-01-31"), "savings_per_member")
    assert per_member["numerator"] == pytest.approx(41000 / 4000 + 4100 / 4000 + 5)
    monkeypatch.setenv("IMPACT_KHR_PER_USD", "4100")
    configured = load_files([path])
    per_member = row(metrics({n: configured.table(n) for n in TABLES}, "2024-01-01", "2024-01-31"), "savings_per_member")
    assert per_member["numerator"] == pytest.approx(10 + 1 + 5)
    assert per_member["value"] == pytest.approx(16 / 3)


ENROLLMENT_HEADER = ["Participant ID", "Course", "Course Type", "Start Date", "End Date", "Status", "Scholarship"]


def test_vocational_progression_figure_from_register_and_enrollments(tmp_path):
    """107 women graduated Empowerment Training in 2023 and 24 of them went on to vocational
    training with scholarships: 24/107 for 2023."""
    register = [["Empowerment Training register"], PARTICIPANT_HEADER]
    register += [[f"ET-{i:03d}", "Empowerment Training", "Phnom Penh", "05/01/2022", 1999, "night outreach", "karaoke"]
                 for i in range(150)]
    courses = [ENROLLMENT_HEADER]
    et = lambda i, end, status: [f"ET-{i:03d}", "Empowerment Training", "Life skills", "10/01/2023", end, status, "No"]  # noqa: E731
    trade = lambda i, course, start: [f"ET-{i:03d}", course, "Vocational", start, None, "Enrolled", "Yes"]  # noqa: E731
    for i in range(107):                                            # graduated in 2023
        courses.append(et(i, dt.date(2023, 3 + i % 9, 15), "Graduated"))
    for i in range(24):                                             # then vocational, after graduating
        courses.append(trade(i, ("Sewing", "Beauty", "Cooking", "Computer")[i % 4], dt.date(2023, 4 + i % 9, 20)))
    courses.append(trade(30, "Sewing", dt.date(2023, 1, 20)))       # started before her graduation
    courses += [trade(i, "Beauty", "05/02/2024") for i in (31, 32, 33)]   # next year
    for i in range(107, 117):                                       # dropped out of Empowerment Training
        courses.append(et(i, dt.date(2023, 6, 1), "Dropped out"))
        courses.append(trade(i, "Sewing", dt.date(2023, 7, 1)))
    for i in range(117, 125):                                       # graduated the year before
        courses.append([f"ET-{i:03d}", "Empowerment Training", "life_skills", "10/01/2022", "30/06/2022", "graduated", ""])
        courses.append(trade(i, "Cooking", dt.date(2023, 2, 1)))
    for i in range(125, 130):                                       # still in Empowerment Training
        courses.append([f"ET-{i:03d}", "Empowerment Training", "life_skills", "10/11/2023", None, "enrolled", ""])
    path = write_xlsx(tmp_path / "KWCD_ET_2023.xlsx", {"Register": register, "Courses": courses})
    result = load_files([path])
    assert result.issues == []
    tables = {n: result.table(n) for n in TABLES}
    r = row(metrics(tables, "2023-01-01", "2023-12-31"), "vocational_progression")
    assert fraction(r) == (24, 107)
    assert r["value"] == pytest.approx(24 / 107)
    scholarships = tables["enrollments"].query("course_type == 'vocational' and scholarship")
    assert len(scholarships) == 24 + 1 + 3 + 10 + 8
    by_course = metrics(tables, "2023-01-01", "2023-12-31", by=["course"], keys=["vocational_progression"])
    assert fraction(row(by_course, "vocational_progression", course="Empowerment Training")) == (24, 107)


FOLLOWUP_HEADER = ["Participant ID", "Follow-up Date", "Employment Status", "Monthly Income"]


def test_job_exit_figure_from_register_and_followups(tmp_path):
    """80 women stopped working at their nighttime job: 80 of the 105 at-risk women with a known
    follow-up by the end of 2024 (and 105 of the 120 at-risk women have one)."""
    settings = ["karaoke", "Beer garden", "massage"]
    register = [PARTICIPANT_HEADER]
    register += [[f"NO-{i:03d}", "Night Outreach", "Siem Reap - Pouk", f"{1 + i % 28:02d}/0{1 + i % 6}/2023", 2000,
                  "night outreach", settings[i % 3]] for i in range(120)]
    register += [[f"NO-{i:03d}", "Night Outreach", "Siem Reap - Pouk", "01/03/2023", 2000, "self", "None"]
                 for i in range(120, 135)]
    outs = ["alternative employment", "Own business", "studying", "not working"]
    checks = [FOLLOWUP_HEADER]
    for i in range(105):                                  # in entertainment work in 2023
        checks.append([f"NO-{i:03d}", "15/08/2023", "entertainment work", "$120"])
    for i in range(80):                                   # out at their latest check
        checks.append([f"NO-{i:03d}", dt.date(2024, 1 + i % 12, 10), outs[i % 4], "480,000 ៛"])
    for i in range(80, 105):                              # out for a while, then back
        checks.append([f"NO-{i:03d}", "10/02/2024", "alternative employment", ""])
        checks.append([f"NO-{i:03d}", "10/09/2024", "entertainment work", ""])
    for i in range(105, 120):                             # no news
        checks.append([f"NO-{i:03d}", "2024-03-03", "unknown", ""])
    for i in range(120, 135):                             # not at risk: not in the population
        checks.append([f"NO-{i:03d}", "2024-03-03", "alternative employment", ""])
    checks += [["NO-000", "10/01/2025", "entertainment work", ""]]   # after the period's end
    path = write_xlsx(tmp_path / "KWCD_NightOutreach.xlsx", {"Participants": register, "Follow up": checks})
    result = load_files([path])
    assert result.issues == []
    tables = {n: result.table(n) for n in TABLES}
    r = metrics(tables, "2024-01-01", "2024-12-31")
    assert fraction(row(r, "job_exit_rate")) == (80, 105)
    assert fraction(row(r, "followup_coverage")) == (105, 120)
    # Flipping the period end past the January 2025 relapse takes NO-000 back out of the numerator.
    assert fraction(row(metrics(tables, "2024-01-01", "2025-01-31"), "job_exit_rate")) == (79, 105)


def test_same_day_followups_in_a_workbook_the_later_row_wins(tmp_path):
    register = [PARTICIPANT_HEADER, ["P-1", "Night Outreach", "Phnom Penh", "05/01/2024", 2000, "self", "karaoke"],
                ["P-2", "Night Outreach", "Siem Reap - Pouk", "05/01/2024", 2000, "self", "karaoke"]]
    checks = [FOLLOWUP_HEADER, ["P-1", "01/03/2024", "entertainment work", ""],
              ["P-2", "01/03/2024", "studying", ""],
              ["P-1", "01/03/2024", "studying", ""],               # same day, later row: out
              ["P-2", "01/03/2024", "entertainment work", ""]]     # same day, later row: in
    result = load_files([write_xlsx(tmp_path / "KWCD_fu.xlsx", {"Participants": register, "Follow-ups": checks})])
    assert result.issues == []
    r = metrics({n: result.table(n) for n in TABLES}, "2024-01-01", "2024-12-31", by=["site"], keys=["job_exit_rate"])
    assert fraction(row(r, "job_exit_rate", site="Phnom Penh")) == (1, 1)
    assert fraction(row(r, "job_exit_rate", site="Siem Reap - Pouk")) == (0, 1)


ACTIVITY_HEADER = ["Date", "Site", "Activity Type", "Audience", "Sessions", "People reached", "New contacts"]


def test_new_contacts_figure_from_the_outreach_log(tmp_path):
    """51 women newly connected through night outreach in 2024 in Phnom Penh."""
    log = [["Night outreach log"], [], ACTIVITY_HEADER,
           ["05/01/2024", "Phnom Penh", "Night outreach visit", "karaoke workers", 1, 35, 12],
           ["Feb 2024", "Phnom Penh", "night_outreach_visit", "karaoke workers", 2, "40", "9"],
           ["12/03/2024", "Phnom Penh", "Night Outreach Visit", "beer garden workers", 1, 28, "១៥"],
           ["20/05/2024", "Phnom Penh", "night outreach visit", "massage workers", 1, 10, 0],
           ["02/07/2024", "Phnom Penh", "night outreach visit", "karaoke workers", 1, None, None],   # blank
           ["18/11/2024", "Phnom Penh", "night outreach visit", "women in prostitution", 1, 22, 15],
           ["30/12/2023", "Phnom Penh", "night outreach visit", "karaoke workers", 1, 30, 7],      # last year
           ["14/06/2024", "Siem Reap - Pouk", "night outreach visit", "karaoke workers", 1, 20, 5],  # other site
           ["Total", None, None, None, None, 185, 63]]
    result = load_files([write_xlsx(tmp_path / "KWCD_outreach.xlsx", {"Outreach": log})])
    assert result.issues == []
    tables = {n: result.table(n) for n in TABLES}
    r = metrics(tables, "2024-01-01", "2024-12-31", by=["site"], keys=["new_contacts", "people_reached"])
    assert row(r, "new_contacts", site="Phnom Penh")["value"] == 51
    assert row(r, "people_reached", site="Phnom Penh")["value"] == 135
    assert row(metrics(tables, "2024-01-01", "2024-12-31"), "new_contacts")["value"] == 56
    assert row(metrics(tables, "2024-01-01", "2024-12-31", site="Phnom Penh"), "new_contacts")["value"] == 51


def test_arrays_after_small_pages_for_arrays_are_not_offered_huge_pages():
    """numpy's default asks for huge pages for big arrays; after the switch it no longer does
    (numpy's setter returns the setting it replaces)."""
    from impact.memory import small_pages_for_arrays
    small_pages_for_arrays()
    assert np._core.multiarray._set_madvise_hugepage(False) is False
