"""The outcome views beyond single metrics: progress against targets, the funnel, follow-up
cohorts and time to exit, savings groups.

Each test builds a handful of rows (or a tiny workbook, where load-time conversion matters),
prepares them and checks numbers worked out by hand, so the tests read as the rules' examples.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from impact.present.charts import funnel_labels
from impact.metrics.cohorts import followup_cohorts, time_to_exit
from impact.metrics.funnel import funnel
from impact.intake.parsing import load_files
from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.metrics.savings_groups import cumulative_savings, savings_by_group
from impact.contract.tables import TABLES
from impact.present.formatting import written
from impact.metrics.targets import target_progress
from tests import frames

ORG = "NGO"
YEAR_2024 = Selection(dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def woman(pid: str, intake: str = "2024-01-15", work: str = "karaoke", site: str = "Phnom Penh") -> dict:
    return dict(participant_id=pid, program="Night Outreach", site=site, intake_date=intake,
                birth_year=1999, work_setting=work)


def check(pid: str, date: str, status: str) -> dict:
    return dict(participant_id=pid, followup_date=date, employment_status=status)


def prepared(**rows: list[dict]):
    return frames.prepared(ORG, **rows)


# --- targets -------------------------------------------------------------------------------

def target(indicator: str, value, **more) -> dict:
    return dict(indicator=indicator, period_start="2024-01-01", period_end="2024-12-31", target=value, **more)


def test_a_count_target_half_way_through_its_year_is_on_track_at_half_the_target():
    """On 1 July 2024, 183 of the year's 366 days have begun: registrations accumulate, so
    20 promised for the year means 10 expected by then. Phnom Penh has 12 (on track),
    Siem Reap 8 (behind), though neither has reached 20."""
    p = prepared(participants=[woman(f"P{i}", "2024-03-01") for i in range(12)]
                 + [woman(f"S{i}", "2024-03-01", site="Siem Reap") for i in range(8)],
                 targets=[target("participants_registered", 20, site="Phnom Penh"),
                          target("participants_registered", 20, site="Siem Reap")])
    got = target_progress(p, today=dt.date(2024, 7, 1)).set_index("site")
    assert got["expected_share"].tolist() == [0.5, 0.5]
    assert got.loc["Phnom Penh", ["actual", "expected", "percent_achieved"]].tolist() == [12, 10, 0.6]
    assert got["status"].to_dict() == {"Phnom Penh": "on track", "Siem Reap": "behind"}
    assert got["target_display"].tolist() == ["20", "20"]
    # The same figures once the year is over: neither reached 20.
    assert set(target_progress(p, today=dt.date(2025, 1, 5))["status"]) == {"behind"}


def test_a_rate_target_written_80_means_80_percent_and_is_achieved_by_4_of_5():
    """`80`, `80%` (read as 80) and a cell formatted as a percent (0.8) are all 80 %.
    A higher-is-better rate that reaches its target is achieved even before the period ends;
    one within 5 points of it is on track while the period runs."""
    p = prepared(participants=[woman(f"P{i}") for i in range(5)],
                 enrollments=[dict(participant_id=f"P{i}", course="Sewing", course_type="vocational",
                                   start_date="2024-02-01", end_date="2024-05-01",
                                   status="graduated" if i < 4 else "dropped_out") for i in range(5)],
                 targets=[target("graduation_rate", 80), target("graduation_rate", 0.8),
                          target("graduation_rate", 84), target("graduation_rate", 90)])
    got = target_progress(p, today=dt.date(2024, 6, 30))
    assert got["target"].tolist() == pytest.approx([0.8, 0.8, 0.84, 0.9])
    assert got["target_display"].tolist() == ["80.0%", "80.0%", "84.0%", "90.0%"]
    assert got["actual"].tolist() == pytest.approx([0.8] * 4)
    assert got[["numerator", "denominator"]].iloc[0].tolist() == [4, 5]
    assert got["status"].tolist() == ["achieved", "achieved", "on track", "behind"]
    assert got["percent_achieved"].iloc[0] == pytest.approx(1.0)


def test_a_target_with_nothing_to_measure_has_no_data_never_zero_percent():
    """No referral was closed: the rate has no denominator, so no data. People reached cannot
    be split by program (activities have none): no data, with the engine's reason."""
    p = prepared(participants=[woman("P1")],
                 activities=[dict(activity_date="2024-02-01", site="Phnom Penh",
                                  activity_type="night_outreach_visit", reached=30)],
                 targets=[target("referral_completion_rate", "85"),
                          target("people_reached", 2500, program="Night Outreach"),
                          target("people_reached", 2500)])
    got = target_progress(p, today=dt.date(2024, 12, 31))
    assert got["status"].tolist() == ["no data", "no data", "behind"]
    assert math.isnan(got["actual"].iloc[0]) and math.isnan(got["percent_achieved"].iloc[0])
    assert "program" in got["note"].iloc[1]
    assert got["target_display"].iloc[2] == "2,500"


def test_targets_are_written_back_as_donors_read_them():
    """A rate one way everywhere (a target of 80% beside an actual of 85.2% reads 80.0%)."""
    assert [written(0.8, "rate"), written(0.825, "rate"), written(2500, "count"),
            written(30, "amount"), written(30.5, "amount")] == ["80.0%", "82.5%", "2,500", "$30", "$30.50"]


# --- funnel --------------------------------------------------------------------------------

def tiny_program():
    """Four women registered in 2024 (and one in 2023, outside the period):
    P1 karaoke: life skills graduated in March, sewing from April; out of work in February
       and still out in September (213 days later): exited, sustained.
    P2 brothel: dropped out of life skills; still in entertainment work in May.
    P3 not at risk: graduated a vocational course.
    P4 massage: no course; runs her own business in June: exited, not yet followed 180 days."""
    life = dict(course="Empowerment Training", course_type="life_skills", start_date="2024-01-20")
    return prepared(
        participants=[woman("P1"), woman("P2", work="brothel"), woman("P3", work="none"),
                      woman("P4", work="massage"), woman("OLD", "2023-06-01")],
        enrollments=[dict(participant_id="P1", end_date="2024-03-30", status="graduated", **life),
                     dict(participant_id="P1", course="Sewing", course_type="vocational", start_date="2024-04-10",
                          status="enrolled"),
                     dict(participant_id="P2", end_date="2024-02-15", status="dropped_out", **life),
                     dict(participant_id="P3", course="Beauty", course_type="vocational", start_date="2024-02-01",
                          end_date="2024-07-01", status="graduated"),
                     dict(participant_id="OLD", end_date="2024-03-30", status="graduated", **life)],
        followups=[check("P1", "2024-02-01", "alternative_employment"), check("P1", "2024-09-01", "studying"),
                   check("P2", "2024-05-01", "entertainment_work"), check("P4", "2024-06-01", "own_business"),
                   check("OLD", "2024-02-01", "not_working")],
        activities=[dict(activity_date="2024-02-01", site="Phnom Penh", activity_type="night_outreach_visit",
                         reached=30, new_contacts=3),
                    dict(activity_date="2024-03-01", site="Siem Reap", activity_type="awareness_course",
                         reached=20, new_contacts=2)])


def test_the_funnel_of_a_tiny_program_counts_each_step_by_hand():
    got = funnel(tiny_program(), YEAR_2024).set_index("step")
    assert got["count"].to_dict() == {
        "people_reached": 50, "new_contacts": 5, "registered": 4, "enrolled": 3, "graduated": 2,
        "progressed_to_vocational": 1, "exited_entertainment": 2, "exit_sustained_6m": 1}
    assert got["conversion"].round(4).fillna(-1).to_dict() == {
        "people_reached": -1, "new_contacts": 0.1, "registered": 0.8, "enrolled": 0.75, "graduated": 0.6667,
        "progressed_to_vocational": 0.5, "exited_entertainment": 0.5, "exit_sustained_6m": 0.5}
    # Leaving work is measured against all registered, not against the course steps.
    assert got.loc["exited_entertainment", "conversion_of"] == "registered"
    assert got.loc["exited_entertainment", "at_risk"] == 3
    # The steps are canonical keys; the presentation layer words them in either language.
    english = funnel_labels(got.reset_index()).set_index("step")
    assert "3 at-risk women" in english.loc["exited_entertainment", "note"]
    assert "not distinct women" in english.loc["people_reached", "note"]
    khmer = funnel_labels(got.reset_index(), "km").set_index("step")
    assert khmer.loc["graduated", "label"] == "បានបញ្ចប់វគ្គសិក្សា" and khmer["count"].equals(got["count"])
    assert "ស្ត្រីប្រឈមហានិភ័យ 3 នាក់" in khmer.loc["exited_entertainment", "note"]


def test_the_funnel_applies_site_to_activities_and_participant_filters_to_women():
    got = funnel(tiny_program(), Selection(YEAR_2024.start, YEAR_2024.end,
                                           {"site": ("Phnom Penh",), "work_setting": ("karaoke",)}))
    counts = got.set_index("step")["count"]
    steps = ["people_reached", "registered", "exited_entertainment", "exit_sustained_6m"]
    assert counts[steps].tolist() == [30, 1, 1, 1]
    assert got.set_index("step").loc["people_reached", "filters_left_out"] == ("work_setting",)
    notes = funnel_labels(got).set_index("step")["note"]
    assert "not filtered by Work setting at intake" in notes["people_reached"]
    empty = funnel(tiny_program(), Selection(dt.date(2030, 1, 1), dt.date(2030, 12, 31)))
    assert empty["count"].eq(0).all() and empty["conversion"].isna().all()


# --- follow-up cohorts ---------------------------------------------------------------------

def test_a_milestone_status_is_the_closest_followup_within_45_days_else_lost():
    """Intake 15 January 2024: the 3-month milestone is 15 April, the 6-month 15 July.
    A: out of work on 20 April (5 days off) -> out at 3 months; nothing near July -> lost.
    B: in entertainment work on 10 June: 56 days after 15 April (lost at 3 months), 35 days
       before 15 July (in at 6 months).
    C: in work on 5 April and out on 25 April, both 10 days off: the later one wins -> out.
    D (April intake): her 3-month milestone (15 July) is due, nothing known -> lost.
    Not-at-risk E is not in any cohort; 12 months are not due by 1 August."""
    p = prepared(participants=[woman("A"), woman("B"), woman("C"), woman("D", "2024-04-15"),
                               woman("E", work="none")],
                 followups=[check("A", "2024-04-20", "alternative_employment"),
                            check("B", "2024-06-10", "entertainment_work"),
                            check("C", "2024-04-05", "entertainment_work"), check("C", "2024-04-25", "studying"),
                            check("E", "2024-04-15", "studying")])
    got = followup_cohorts(p, Selection(dt.date(2024, 1, 1), dt.date(2024, 8, 1)))
    cols = ["cohort", "milestone_months", "participants", "out_of_entertainment", "in_entertainment",
            "lost_to_followup"]
    assert got[cols].values.tolist() == [["2024 Q1", 3, 3, 2, 0, 1], ["2024 Q1", 6, 3, 0, 1, 2],
                                         ["2024 Q2", 3, 1, 0, 0, 1]]
    assert got["share_out"].tolist()[:2] == [1.0, 0.0] and math.isnan(got["share_out"].iloc[2])
    assert got["share_lost"].round(4).tolist() == [0.3333, 0.6667, 1.0]
    assert got[["ci_low", "ci_high"]].iloc[0].round(4).tolist() == [0.3424, 1.0]   # Wilson, 2 of 2


# --- time to exit --------------------------------------------------------------------------

def test_time_to_exit_matches_a_kaplan_meier_worked_by_hand():
    """Five at-risk women registered 1 January 2024, followed until day 3, 5 (still in work:
    censored), 10, 20 (exits) and 30 (censored). By hand:
        day 10: 3 still followed, 1 leaves -> S = 2/3
        day 20: 2 still followed, 1 leaves -> S = 2/3 x 1/2 = 1/3
    The median is day 20, the first day S drops to one half or below. A woman with no known
    follow-up and one not at risk are not in the curve."""
    start = dt.date(2024, 1, 1)
    def day(n: int) -> str:
        return str(start + dt.timedelta(days=n))

    p = prepared(participants=[woman(x, "2024-01-01") for x in "ABCDEF"] + [woman("G", "2024-01-01", work="none")],
                 followups=[check("A", day(3), "entertainment_work"), check("B", day(5), "entertainment_work"),
                            check("C", day(10), "alternative_employment"),
                            check("D", day(2), "entertainment_work"), check("D", day(20), "own_business"),
                            check("D", day(25), "entertainment_work"),   # relapse: first exit still counts
                            check("E", day(30), "entertainment_work"), check("F", day(4), "unknown"),
                            check("G", day(1), "studying")])
    curve, summary = time_to_exit(p, Selection(start, dt.date(2024, 12, 31)))
    assert curve["days"].tolist() == [0, 3, 5, 10, 20, 30]
    assert curve["share_still_in"].tolist() == pytest.approx([1, 1, 1, 2 / 3, 1 / 3, 1 / 3])
    assert curve["at_risk"].tolist() == [5, 5, 4, 3, 2, 1]
    assert (curve["ci_low"] <= curve["share_still_in"] + 1e-12).all()
    assert (curve["share_still_in"] <= curve["ci_high"] + 1e-12).all()
    assert {k: summary[k] for k in ("n", "exits", "censored", "median_days")} == \
        {"n": 5, "exits": 2, "censored": 3, "median_days": 20}
    # The 95% band is wide at n = 5: its lower edge crosses one half at day 10, its upper never.
    assert (summary["median_ci_low"], summary["median_ci_high"]) == (10, None)


def test_time_to_exit_with_nobody_followed_is_empty_not_an_error():
    curve, summary = time_to_exit(prepared(participants=[woman("A")]), YEAR_2024)
    assert curve.empty and summary["n"] == 0 and summary["median_days"] is None


# --- savings groups ------------------------------------------------------------------------

def test_savings_groups_convert_riel_and_count_net_zero_as_not_saving(tmp_path, monkeypatch):
    """Group G1 (loaded from a ledger file): M1 saved $10 + $5; M2 saved 40,000 ៛ ($10 at
    4,000 riel per dollar); M3 put in $5 and took out $5: net 0, a member but not a saver.
    G2: M4 saved $2 in January 2025, after the selection's end -> G2 has no members yet."""
    monkeypatch.delenv("IMPACT_KHR_PER_USD", raising=False)
    (tmp_path / "NGO_savings.csv").write_text(
        "Group ID,Group Type,Member ID,Period,Deposit,Withdrawal,Currency\n"
        "G1,karaoke workers,M1,Jan 2024,10,,USD\n"
        "G1,karaoke workers,M2,Jan 2024,\"40,000\",,KHR\n"
        "G1,karaoke workers,M3,Jan 2024,5,,USD\n"
        "G1,karaoke workers,M1,Feb 2024,5,,USD\n"
        "G1,karaoke workers,M3,Feb 2024,0,5,USD\n"
        "G2,community network,M4,Jan 2025,2,,USD\n", encoding="utf-8")
    (tmp_path / "NGO_participants.csv").write_text(
        "Participant ID,Program,Site,Intake Date,Work Setting\n"
        "M1,Night Outreach,Phnom Penh,01/12/2023,karaoke\n", encoding="utf-8")
    result = load_files([tmp_path])
    assert not result.issues
    p = prepare({t: result.table(t) for t in TABLES})

    usd = savings_by_group(p, YEAR_2024)
    assert usd[["organization", "group_id", "group_type", "members", "savers"]].values.tolist() == \
        [["NGO", "G1", "karaoke workers", 3, 2]]
    assert usd[["savings_rate", "net_savings", "savings_per_member"]].iloc[0].tolist() == \
        pytest.approx([2 / 3, 25, 25 / 3])
    # The groups add up to the savings_rate metric.
    rate = compute(p, YEAR_2024, keys=("savings_rate",)).iloc[0]
    assert (rate["numerator"], rate["denominator"]) == (2, 3)

    khr = savings_by_group(p, YEAR_2024, currency="KHR", khr_per_usd=4000)
    assert khr[["net_savings", "savings_per_member", "currency"]].iloc[0].tolist() == [100_000, 100_000 / 3, "KHR"]

    # A participant filter keeps registered members who match; unregistered ones drop out.
    karaoke = savings_by_group(p, Selection(YEAR_2024.start, YEAR_2024.end, {"work_setting": ("karaoke",)}))
    assert karaoke[["members", "savers", "net_savings"]].iloc[0].tolist() == [1, 1, 15]

    grown = cumulative_savings(p, Selection(dt.date(2024, 1, 1), dt.date(2024, 3, 31)))
    assert grown[["period_start", "group_type", "net_savings", "members"]].values.tolist() == [
        [pd.Timestamp("2024-01-01"), "karaoke workers", 25.0, 3],
        [pd.Timestamp("2024-02-01"), "karaoke workers", 25.0, 3],
        [pd.Timestamp("2024-03-01"), "karaoke workers", 25.0, 3]]
    assert cumulative_savings(p, Selection(None, dt.date(2025, 1, 31)), by=None, grain="year")[
        "net_savings"].tolist() == [25.0, 27.0]


# --- demo data -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_loaded):
    return prepare({t: demo_loaded.table(t) for t in TABLES})


def test_every_outcome_view_runs_on_the_demo_data_with_plausible_numbers(demo):
    progress = target_progress(demo, today=dt.date(2025, 6, 30))
    assert len(progress) == len(demo.targets) and progress["status"].isin(
        ["achieved", "on track", "behind", "no data"]).all()
    rates = progress[progress["target_display"].str.endswith("%")]
    assert rates["actual"].between(0, 1).all() and rates["target"].between(0, 1).all()
    assert progress["expected_share"].between(0, 1).all()

    steps = funnel(demo, YEAR_2024).set_index("step")["count"]
    nested = ["registered", "enrolled", "graduated", "progressed_to_vocational"]
    assert (np.diff(steps[nested].to_numpy()) <= 0).all() and steps["progressed_to_vocational"] > 0
    assert steps["registered"] >= steps["exited_entertainment"] >= steps["exit_sustained_6m"]
    assert steps["registered"] == compute(demo, YEAR_2024, keys=("participants_registered",))["value"].iloc[0]

    cohorts = followup_cohorts(demo, Selection(dt.date(2023, 1, 1), dt.date(2025, 9, 30)))
    assert len(cohorts) and cohorts["share_out"].dropna().between(0, 1).all()
    assert (cohorts["out_of_entertainment"] + cohorts["in_entertainment"] + cohorts["lost_to_followup"]
            == cohorts["participants"]).all()

    curve, summary = time_to_exit(demo, Selection(dt.date(2023, 1, 1), dt.date(2025, 9, 30)))
    assert summary["n"] == summary["exits"] + summary["censored"] > 100
    assert (np.diff(curve["share_still_in"]) <= 1e-12).all() and curve["share_still_in"].between(0, 1).all()
    assert summary["median_ci_low"] <= summary["median_days"] <= summary["median_ci_high"]

    groups = savings_by_group(demo, YEAR_2024)
    assert groups["savings_rate"].between(0, 1).all() and (groups["savers"] <= groups["members"]).all()
    by_type = compute(demo, YEAR_2024, by=("group_type",), keys=("savings_rate",)).set_index("group_type")
    assert groups.groupby("group_type")["savers"].sum().to_dict() == by_type["numerator"].to_dict()
    growth = cumulative_savings(demo, YEAR_2024)
    assert len(growth) == 12 * growth["group_type"].nunique()
