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

from impact.present import charts
from impact.metrics.cohorts import COHORT_BY, COHORT_KEYS, cohort_cells, exit_life_table, time_to_exit
from impact.access import protection
from impact.disclosure import KEY_MODULUS
from impact.metrics.survival import share_after
from impact.metrics.funnel import FUNNEL_KEYS, funnel_steps
from impact.intake.parsing import load_files
from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.metrics.savings_groups import savings_by_group
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


def funnel(p, selection: Selection) -> pd.DataFrame:
    return funnel_steps(compute(p, selection, keys=FUNNEL_KEYS))


def test_the_funnel_of_a_tiny_program_is_its_catalog_metrics_worked_by_hand():
    """Each step is the catalog metric of its name: 5 enrollments started in 2024 (OLD's too);
    3 ended graduated of 4 that ended (graduation rate); 1 of 2 life-skills graduates went on;
    3 of the 4 at-risk women with news are out of work (job-exit rate, OLD included: a stock);
    1 of 1 exit followed 180 days held. No share is above 100%: each is of its own base."""
    got = funnel(tiny_program(), YEAR_2024).set_index("step")
    assert got["count"].to_dict() == {
        "people_reached": 50, "new_contacts": 5, "registered": 4, "enrolled": 5, "graduated": 3,
        "progressed_to_vocational": 1, "exited_entertainment": 3, "exit_sustained_6m": 1}
    assert got["of"].fillna(-1).to_dict() == {
        "people_reached": -1, "new_contacts": -1, "registered": -1, "enrolled": -1, "graduated": 4,
        "progressed_to_vocational": 2, "exited_entertainment": 4, "exit_sustained_6m": 1}
    assert got["share"].dropna().le(1).all()
    fig = charts.funnel(got.reset_index())
    assert "50" in fig.layout.title.subtitle.text and list(fig.data[0].y)[0] == "New contacts"
    assert list(fig.data[0].text)[-1] == "1 (100.0% of 1)"
    khmer = charts.funnel(got.reset_index(), "km")
    assert list(khmer.data[0].y)[3] == "បានបញ្ចប់វគ្គសិក្សា" and list(khmer.data[0].x) == list(fig.data[0].x)


def test_the_funnel_takes_filters_as_its_metrics_do_and_shows_zeros_as_zeros():
    """Activities cannot be filtered by work setting: the tile says so and so does the step
    (not a figure for every woman shown as the karaoke workers'). A year with nothing: 0."""
    got = funnel(tiny_program(), Selection(YEAR_2024.start, YEAR_2024.end,
                                           {"site": ("Phnom Penh",), "work_setting": ("karaoke",)}))
    counts = got.set_index("step")["count"]
    assert counts[["registered", "exited_entertainment", "exit_sustained_6m"]].tolist() == [1, 2, 1]
    assert math.isnan(counts["people_reached"])
    shown = dict(zip(charts.funnel(got).data[0].y, charts.funnel(got).data[0].text))
    assert shown["New contacts"] == "not filtered by Work setting at intake"
    empty = funnel(tiny_program(), Selection(dt.date(2030, 1, 1), dt.date(2030, 12, 31)))
    texts = list(charts.funnel(empty).data[0].text)
    assert texts[:3] == ["0", "0", "0"] and len(texts) == len(empty) - 1


# --- follow-up cohorts ---------------------------------------------------------------------

def cohorts(p, selection: Selection) -> pd.DataFrame:
    return cohort_cells(compute(p, selection, by=COHORT_BY, keys=COHORT_KEYS))


def test_a_milestone_status_is_the_closest_followup_within_45_days_lost_only_once_its_window_closed():
    """Intake 15 January 2024: the 3-month milestone is 15 April, the 6-month 15 July.
    A: out of work on 20 April (5 days off) -> out at 3 months; nothing near July.
    B: in entertainment work on 10 June: 56 days after 15 April (lost at 3 months: the window
       closed 30 May, before the data reaches), 35 days before 15 July (in at 6 months).
    C: in work on 5 April and out on 25 April, both 10 days off: the later one wins -> out.
    D (April intake): her 3-month milestone is 15 July, nothing known.
    Not-at-risk E is not in any cohort, but her follow-up tells how far the data reaches.
    As at 1 August the data reaches 10 June: the July windows (to 29 August) are open, so A, C
    and D are not yet due there, not lost. As at 30 September, with E followed on 20 September,
    those windows have closed: lost."""
    women = [woman("A"), woman("B"), woman("C"), woman("D", "2024-04-15"), woman("E", work="none")]
    followups = [check("A", "2024-04-20", "alternative_employment"), check("B", "2024-06-10", "entertainment_work"),
                 check("C", "2024-04-05", "entertainment_work"), check("C", "2024-04-25", "studying"),
                 check("E", "2024-04-15", "studying")]
    cols = ["intake_quarter", "milestone", "participants", "out_of_entertainment", "in_entertainment",
            "lost_to_followup", "not_yet_due"]
    august = cohorts(prepared(participants=women, followups=followups), Selection(dt.date(2024, 1, 1),
                                                                                   dt.date(2024, 8, 1)))
    assert august[cols].values.tolist() == [
        ["2024Q1", 3, 3, 2, 0, 1, 0], ["2024Q1", 6, 3, 0, 1, 0, 2], ["2024Q1", 12, 3, 0, 0, 0, 3],
        ["2024Q2", 3, 1, 0, 0, 0, 1], ["2024Q2", 6, 1, 0, 0, 0, 1], ["2024Q2", 12, 1, 0, 0, 0, 1]]
    september = cohorts(prepared(participants=women, followups=followups + [check("E", "2024-09-20", "studying")]),
                        Selection(dt.date(2024, 1, 1), dt.date(2024, 9, 30)))
    assert september[cols].values.tolist()[:4] == [
        ["2024Q1", 3, 3, 2, 0, 1, 0], ["2024Q1", 6, 3, 0, 1, 2, 0], ["2024Q1", 12, 3, 0, 0, 0, 3],
        ["2024Q2", 3, 1, 0, 0, 1, 0]]
    assert september["share_out"].tolist()[:2] == [1.0, 0.0] and math.isnan(september["share_out"].iloc[3])
    assert september["share_lost"].round(4).tolist()[:2] == [0.3333, 0.6667]
    assert september[["ci_low", "ci_high"]].iloc[0].round(4).tolist() == [0.3424, 1.0]   # Wilson, 2 of 2


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


def test_a_donor_sees_time_to_exit_as_a_life_table_of_protected_counts():
    """Twelve women followed from intake: 4 leave in the first 90 days, 3 between day 91 and
    181, the other 5 are still in work at day 200 (censored). The exact life table has those
    counts (with the cell keys of its women); a donor's rounds them, withholds the small ones
    and the share left after a withheld interval."""
    start = dt.date(2024, 1, 1)
    women = [woman(f"W{i}", str(start)) for i in range(12)]
    ends = [30] * 4 + [120] * 3 + [200] * 5
    statuses = ["alternative_employment"] * 7 + ["entertainment_work"] * 5
    p = prepared(participants=women, followups=[check(f"W{i}", str(start + dt.timedelta(days=d)), status)
                                                 for i, (d, status) in enumerate(zip(ends, statuses))])
    table = exit_life_table(p, Selection(start, dt.date(2024, 12, 31)))
    assert table["interval"].tolist()[:3] == ["0–90", "91–181", "182–364"]
    assert table["numerator"].tolist()[:3] == [4, 3, 0] and table["denominator"].tolist()[:3] == [12, 8, 5]
    assert share_after(table)[1] == pytest.approx(5 / 12)        # the Kaplan–Meier share after day 181
    assert table["denominator_key"].iloc[0] == int(p.participants["record_key"].sum()) % KEY_MODULUS   # all 12
    shown = protection.protected_rows(table, "interval")
    assert shown["suppressed"].iloc[0] and "numerator_key" not in shown   # 4 of 12 (8 stay): small counts
    assert np.isnan(share_after(shown)).all()


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

    # Savings over time are the savings_per_member numerator and denominator by month.
    grown = compute(p, Selection(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), by=("month", "group_type"),
                    keys=("savings_per_member",))
    assert grown[["period_start", "group_type", "numerator", "denominator"]].values.tolist() == [
        [pd.Timestamp("2024-01-01"), "karaoke workers", 25.0, 3],
        [pd.Timestamp("2024-02-01"), "karaoke workers", 25.0, 3],
        [pd.Timestamp("2024-03-01"), "karaoke workers", 25.0, 3]]
    assert compute(p, Selection(None, dt.date(2025, 1, 31)), by=("year",), keys=("savings_per_member",))[
        "numerator"].tolist() == [0.0, 25.0, 27.0]      # from the first record (an intake in 2023)


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

    steps = funnel(demo, YEAR_2024).set_index("step")
    assert steps["count"].gt(0).all() and steps["share"].dropna().between(0, 1).all()
    assert steps.at["registered", "count"] == compute(demo, YEAR_2024, keys=("participants_registered",))[
        "value"].iloc[0]

    cells = cohorts(demo, Selection(dt.date(2023, 1, 1), dt.date(2025, 9, 30)))
    assert len(cells) and cells["share_out"].dropna().between(0, 1).all()
    assert (cells["out_of_entertainment"] + cells["in_entertainment"] + cells["lost_to_followup"]
            + cells["not_yet_due"] == cells["participants"]).all()

    curve, summary = time_to_exit(demo, Selection(dt.date(2023, 1, 1), dt.date(2025, 9, 30)))
    assert summary["n"] == summary["exits"] + summary["censored"] > 100
    assert (np.diff(curve["share_still_in"]) <= 1e-12).all() and curve["share_still_in"].between(0, 1).all()
    assert summary["median_ci_low"] <= summary["median_days"] <= summary["median_ci_high"]
    table = exit_life_table(demo, Selection(dt.date(2023, 1, 1), dt.date(2025, 9, 30)))
    assert table["numerator"].sum() == summary["exits"] and table["denominator"].iloc[0] == summary["n"]
    shown = protection.protected_rows(table, "interval")
    assert not shown["suppressed"].iloc[0] and shown["denominator"].iloc[0] % 5 == 0

    groups = savings_by_group(demo, YEAR_2024)
    assert groups["savings_rate"].between(0, 1).all() and (groups["savers"] <= groups["members"]).all()
    by_type = compute(demo, YEAR_2024, by=("group_type",), keys=("savings_rate",)).set_index("group_type")
    assert groups.groupby("group_type")["savers"].sum().to_dict() == by_type["numerator"].to_dict()
    growth = compute(demo, YEAR_2024, by=("month", "group_type"), keys=("savings_per_member",))
    assert len(growth) == 12 * growth["group_type"].nunique()
