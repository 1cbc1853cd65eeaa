"""The topic pages' breakdowns (activities, scholarships, statuses, services by type, savings
groups, targets in view, the target report) and their chart builders (impact.present.charts):
a few rows each, numbers worked out by hand, and where a breakdown is a catalog metric, its
parts adding up to what the engine (`impact.metrics.engine.compute`) says for the same selection."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from impact.present import charts

from impact.present import formatting
from impact.metrics.activities import activity_filters_left_out, activity_summary
from impact.metrics.engine import NOT_REPORTED, Selection, as_metric_rows, compute, latest_record, reported
from impact.present.formatting import in_currency
from impact.metrics.savings_groups import group_metrics
from impact.metrics.scholarships import scholarships
from impact.metrics.service_types import services_by_type
from impact.metrics.statuses import STATUS_BY, STATUS_KEY, income_by_status, status_shares
from impact.metrics.target_report import target_report
from impact.metrics.targets import targets_in_view
from tests import frames

ORG = "NGO"
YEAR = Selection(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
TODAY = dt.date(2025, 1, 31)


def prepared(**rows: list[dict]):
    return frames.prepared(ORG, **rows)


def woman(pid, intake="2024-01-15", work="karaoke", site="Phnom Penh", program="Night Outreach", ref="hotline"):
    return dict(participant_id=pid, program=program, site=site, intake_date=intake, birth_year=1999,
                work_setting=work, referral_source=ref)


def activity(date, site="Phnom Penh", kind="night_outreach_visit", reached=10, new=1):
    return dict(activity_date=date, site=site, activity_type=kind, reached=reached, new_contacts=new)


# --- activities ----------------------------------------------------------------------------

ACTIVITIES = [activity("2024-01-10", reached=40, new=3),
              activity("2024-01-20", kind="radio_callin", reached=200, new=5),
              activity("2024-03-05", site="Siem Reap", reached=15, new=None),
              activity("2023-12-31", reached=99, new=9)]                     # before the period


def test_activities_by_type_site_and_month_add_up_to_the_engine_total():
    p = prepared(activities=ACTIVITIES)
    total = activity_summary(p, YEAR, today=TODAY)
    assert total.iloc[0].to_dict() == {"activities": 3, "people_reached": 255, "new_contacts": 8}   # blank is 0
    engine = compute(p, YEAR, keys=("people_reached", "new_contacts")).set_index("metric")["value"]
    assert (engine["people_reached"], engine["new_contacts"]) == (255, 8)

    by_type = activity_summary(p, YEAR, by="activity_type", today=TODAY).set_index("activity_type")
    assert by_type.loc["night_outreach_visit", ["activities", "people_reached"]].tolist() == [2, 55]
    by_site = activity_summary(p, YEAR, by="site", today=TODAY).set_index("site")
    engine_site = compute(p, YEAR, by=("site",), keys=("people_reached",)).set_index("site")["value"]
    assert by_site["people_reached"].to_dict() == engine_site.to_dict() == {"Phnom Penh": 240, "Siem Reap": 15}

    by_month = activity_summary(p, YEAR, by="month", today=TODAY)
    assert len(by_month) == 3              # every month to the log's latest record (5 March), 0 where none;
    assert by_month["people_reached"].tolist() == [240, 0, 15]        # April on: not reported yet, not 0
    assert by_month["period_start"].iloc[1] == pd.Timestamp("2024-02-01")


def test_activities_take_site_filters_but_no_participant_filter():
    p = prepared(activities=ACTIVITIES)
    site = Selection(YEAR.start, YEAR.end, {"site": ("Siem Reap",)})
    assert activity_summary(p, site, today=TODAY)["people_reached"].tolist() == [15]
    program = Selection(YEAR.start, YEAR.end, {"program": ("Night Outreach",), "site": ("Siem Reap",)})
    assert activity_filters_left_out(program) == ("program",)
    assert activity_summary(p, program, today=TODAY).empty           # not all programs' figure as one's
    assert activity_summary(p, program, by="month", today=TODAY).empty
    assert activity_summary(p, Selection(dt.date(2020, 1, 1), dt.date(2020, 2, 1)), by="site",
                                       today=TODAY).empty


# --- scholarships --------------------------------------------------------------------------

def test_scholarships_count_enrollments_started_in_the_period_a_blank_is_no():
    def sewing(pid, start, scholarship, **more):
        return dict(participant_id=pid, course="Sewing", course_type="vocational", start_date=start,
                    status="enrolled", scholarship=scholarship, **more)

    p = prepared(participants=[woman("P1"), woman("P2"), woman("P3", site="Siem Reap")],
                 enrollments=[sewing("P1", "2024-02-01", True), sewing("P2", "2024-03-01", None),
                              sewing("P3", "2024-04-01", True),
                              sewing("P1", "2023-02-01", True, end_date="2023-06-01")])   # before the period
    got = scholarships(p, YEAR, today=TODAY)
    assert got.to_dict("records") == [{"course": "Sewing", "enrollments": 3, "with_scholarship": 2}]
    phnom_penh = Selection(YEAR.start, YEAR.end, {"site": ("Phnom Penh",)})
    assert scholarships(p, phnom_penh, today=TODAY)["with_scholarship"].tolist() == [1]
    assert scholarships(p, Selection(dt.date(2020, 1, 1), dt.date(2020, 12, 31)), today=TODAY).empty


# --- follow-up status over time and income --------------------------------------------------

def check(pid, date, status, income=None):
    return dict(participant_id=pid, followup_date=date, employment_status=status, monthly_income=income)


def livelihoods():
    """P1 karaoke: in work in February, alternative employment in May ($150), no income noted in
    August. P2 massage: in work in March ($300). P3 not at risk: own business in June ($200).
    P4 brothel: registered in July, never followed. An unknown status is never a status."""
    return prepared(participants=[woman("P1"), woman("P2", work="massage", site="Siem Reap"),
                                  woman("P3", work="none"), woman("P4", "2024-07-01", work="brothel")],
                    followups=[check("P1", "2024-02-10", "entertainment_work", 250),
                               check("P1", "2024-05-10", "alternative_employment", 150),
                               check("P1", "2024-08-10", "alternative_employment"),
                               check("P2", "2024-03-10", "entertainment_work", 300),
                               check("P2", "2024-09-10", "unknown"),
                               check("P3", "2024-06-10", "own_business", 200)])


def status_mix(p, selection: Selection):
    """The status mix as the Livelihoods page makes it: rows of the metric table."""
    def rows(by):
        return compute(p, selection, by=by, keys=(STATUS_KEY,), today=TODAY)
    return status_shares(rows(("quarter", STATUS_BY)), rows(("quarter",)))


def test_status_mix_counts_latest_known_statuses_of_at_risk_women_each_quarter():
    p = livelihoods()
    mix = status_mix(p, YEAR)
    q1 = mix[mix["period_end"] == pd.Timestamp("2024-03-31")]
    assert q1[[STATUS_BY, "participants", "total"]].values.tolist() == [["entertainment_work", 2, 2]]
    q2 = mix[mix["period_end"] == pd.Timestamp("2024-06-30")].set_index(STATUS_BY)
    assert q2["share"].to_dict() == {"entertainment_work": 0.5, "alternative_employment": 0.5}   # P3 not at risk
    # The share out of entertainment work is the engine's job-exit rate at each quarter's end.
    engine = compute(p, YEAR, by=("quarter",), keys=("job_exit_rate",)).set_index("period_end")["value"]
    out = mix[mix[STATUS_BY] != "entertainment_work"].groupby("period_end")["share"].sum()
    assert out.reindex(engine.index, fill_value=0).tolist() == pytest.approx(engine.tolist())
    site = Selection(YEAR.start, YEAR.end, {"site": ("Siem Reap",)})
    assert set(status_mix(p, site)[STATUS_BY]) == {"entertainment_work"}
    assert status_mix(p, Selection(dt.date(2020, 1, 1), dt.date(2020, 12, 31))).empty


def test_income_is_the_latest_follow_up_with_an_income_by_its_status():
    got = income_by_status(livelihoods(), YEAR, today=TODAY).set_index("employment_status")
    # P1's August check has no income: her May one ($150) counts, under its own status.
    assert got["participants"].to_dict() == {"entertainment_work": 1, "alternative_employment": 1, "own_business": 1}
    assert got["median_income"].to_dict() == {"entertainment_work": 300, "alternative_employment": 150,
                                              "own_business": 200}
    march = income_by_status(livelihoods(), Selection(None, dt.date(2024, 3, 31)), today=TODAY)
    assert march.set_index("employment_status")["median_income"].to_dict() == {"entertainment_work": 275}
    assert income_by_status(livelihoods(), Selection(None, dt.date(2023, 1, 1)), today=TODAY).empty


# --- services ------------------------------------------------------------------------------

def service(pid, date, kind, status, amount=None):
    return dict(participant_id=pid, service_date=date, service_type=kind, status=status, amount=amount)


def test_services_by_type_add_up_to_the_engine_completion_rate_and_count_money_given():
    p = prepared(participants=[woman("P1"), woman("P2", site="Siem Reap")],
                 services=[service("P1", "2024-02-01", "business_loan", "completed", 400),
                           service("P2", "2024-03-01", "business_loan", "declined", 500),
                           service("P1", "2024-04-01", "business_loan", "completed", 200),
                           service("P1", "2024-04-02", "health", "pending"),
                           service("P2", "2024-05-01", "health", "completed"),
                           service("P2", "2024-06-01", "financial_support", "pending", 50),
                           service("P1", "2023-06-01", "health", "completed")])      # before the period
    got = services_by_type(p, YEAR, today=TODAY).set_index("service_type")
    assert got.loc["business_loan", ["referrals", "completed", "declined", "pending"]].tolist() == [3, 2, 1, 0]
    assert got.loc["business_loan", ["amount_count", "amount_total", "amount_median"]].tolist() == [2, 600, 300]
    assert got.loc["financial_support", "amount_count"] == 0                  # a pending grant is not given
    assert math.isnan(got.loc["health", "amount_total"])                      # no money in health referrals
    assert math.isnan(got.loc["financial_support", "completion_rate"])        # nothing decided: no data, not 0%
    engine = compute(p, YEAR, keys=("referral_completion_rate",)).iloc[0]
    assert (got["numerator"].sum(), got["denominator"].sum()) == (engine["numerator"], engine["denominator"])

    rows = as_metric_rows(got.reset_index(), "referral_completion_rate", "service_type",
                                     "numerator", "denominator").set_index("service_type")
    assert rows.loc["business_loan", "value"] == pytest.approx(2 / 3)
    assert rows.loc["business_loan", "ci_low"] < 2 / 3 < rows.loc["business_loan", "ci_high"]
    assert rows.loc["financial_support", "note"] == "no data"
    siem_reap = Selection(YEAR.start, YEAR.end, {"site": ("Siem Reap",)})
    assert services_by_type(p, siem_reap, today=TODAY)["referrals"].sum() == 3


# --- savings and currency ------------------------------------------------------------------

def test_group_metrics_name_groups_apart_and_amounts_convert_to_riel():
    groups = pd.DataFrame({"organization": ["A", "B", "A"], "group_id": ["SG1", "SG1", "SG2"],
                           "group_type": ["karaoke workers"] * 3, "members": [4, 2, 0], "savers": [3, 2, 0],
                           "net_savings": [40.0, 10.0, 0.0]})
    got = group_metrics(groups)
    assert got[got["metric"] == "savings_rate"]["group"].tolist() == ["A / SG1", "B / SG1", "SG2"]
    assert got[got["metric"] == "savings_per_member"]["value"].tolist()[:2] == [10, 5]
    assert got["value"].isna().sum() == 2                                      # a group with no member: no data

    riel = in_currency(got, "KHR", khr_per_usd=4000)
    amounts = riel["metric"] == "savings_per_member"
    assert riel[amounts]["value"].tolist()[:2] == [40_000, 20_000]
    assert riel[~amounts]["value"].tolist()[:2] == got[~amounts]["value"].tolist()[:2]   # rates untouched


# --- targets -------------------------------------------------------------------------------

def progress_rows():
    return pd.DataFrame({
        "organization": ["A", "A", "B"], "indicator": ["graduation_rate", "participants_registered", "savings_rate"],
        "label": ["", "", ""], "program": [None, "Night Outreach", None], "site": [None, None, "Phnom Penh"],
        "period_start": pd.to_datetime(["2024-01-01", "2024-01-01", "2023-01-01"]),
        "period_end": pd.to_datetime(["2024-12-31", "2024-12-31", "2023-12-31"]),
        "target": [0.8, 20, 0.85], "target_display": ["80%", "20", "85%"], "actual": [0.9, 12, np.nan],
        "numerator": [9, np.nan, np.nan], "denominator": [10, np.nan, np.nan],
        "percent_achieved": [1.125, 0.6, np.nan], "expected_share": [1, 1, 1], "expected": [0.8, 20, 0.85],
        "status": ["achieved", "behind", "no data"], "note": ["", "", "no data"]})


def test_targets_in_view_overlap_the_period_and_keep_the_scope_filtered():
    rows = progress_rows()
    in_2024 = targets_in_view(rows, YEAR)
    assert in_2024["indicator"].tolist() == ["graduation_rate", "participants_registered"]
    assert len(targets_in_view(rows, Selection(None, dt.date(2030, 1, 1)))) == 3
    program = Selection(YEAR.start, YEAR.end, {"program": ("Night Outreach",)})
    assert targets_in_view(rows, program)["indicator"].tolist() == ["participants_registered"]
    assert targets_in_view(rows, Selection(None, None, {"organization": ("B",)}))["site"].tolist() == \
        ["Phnom Penh"]


def test_the_target_report_reads_as_a_donor_report_in_both_languages():
    report = target_report(progress_rows())
    assert list(report.columns) == ["Indicator", "Status", "Organization", "Program", "Site", "From", "To", "Target",
                                    "Actual", "% achieved", "Note"]
    first = report.iloc[0]
    assert (first["Indicator"], first["Program"], first["Actual"], first["% achieved"], first["Status"]) == \
        ("Graduation rate", "All", "90.0% (9 / 10)", 112.5, "✅ Achieved")
    assert report["Status"].tolist()[1:] == ["🔴 Behind", "⚪ No data"]
    assert report["From"].iloc[0] == "01/01/2024" and report["Actual"].iloc[2] == ""
    khmer = target_report(progress_rows(), "km")
    assert khmer.iloc[0, 0] == "អត្រាបញ្ចប់ការសិក្សា"
    assert khmer.iloc[0, 3] == "ទាំងអស់"


# --- chart builders ------------------------------------------------------------------------

def test_bars_keep_category_values_for_clicks_and_show_labels_and_riel():
    table = pd.DataFrame({"metric": "savings_per_member", "kind": "amount", "group_type": ["a_b", "c"],
                          "numerator": [80_000.0, 4_000.0], "denominator": [2.0, 1.0], "value": [40_000.0, 4_000.0],
                          "ci_low": np.nan, "ci_high": np.nan, "note": ""})
    fig = charts.bars(table, "savings_per_member", "group_type", currency="KHR", labels={"a_b": "ខ"})
    assert list(fig.data[0].x) == ["a_b", "c"]                 # a click gives the value the filter knows
    assert list(fig.layout.xaxis.ticktext) == ["ខ", "c"]
    assert "40,000 ៛ (n=2)" in fig.data[0].hovertext[0]
    assert formatting.metric_value("savings_per_member", 30.25) == "$30.25"


def test_paired_rates_always_draw_both_with_their_intervals():
    table = compute(livelihoods(), YEAR, by=("site",), keys=("job_exit_rate", "followup_coverage"))
    fig = charts.paired_rates(table, ("job_exit_rate", "followup_coverage"), "site", "Exit and coverage")
    assert [t.name for t in fig.data] == ["Left entertainment work", "Follow-up coverage"]
    assert all(t.error_y.array is not None for t in fig.data)
    # Phnom Penh: P1 followed and out, P4 never followed: 100% exit of 1 woman, with news of 1 of 2.
    assert "100.0% (1 of 1)" in fig.data[0].hovertext[0] and "50.0% (1 of 2)" in fig.data[1].hovertext[0]


def test_cohort_and_survival_charts_show_the_lost_and_the_median():
    cohorts = pd.DataFrame({"intake_quarter": ["2024Q1"] * 2, "milestone": [3, 6], "participants": [10, 10],
                            "out_of_entertainment": [3, 4], "in_entertainment": [5, 2], "lost_to_followup": [2, 1],
                            "due": [10, 7], "not_yet_due": [0, 3],
                            "share_out": [0.375, 2 / 3], "ci_low": [0.1, 0.3], "ci_high": [0.7, 0.9],
                            "share_lost": [0.2, 1 / 7], "suppressed": [False, False]})
    fig = charts.cohorts(cohorts, "Cohorts")
    assert [t.name for t in fig.data] == ["Out of entertainment work", "Still in entertainment work",
                                          "Lost to follow-up", "Not yet due"] * 2
    assert "Lost to follow-up: 1 / 7" in fig.data[6].hovertext[0] and "Not yet due: 3" in fig.data[6].hovertext[0]
    assert list(fig.data[0].x) == ["2024 Q1"]
    curve = pd.DataFrame({"days": [0, 30, 60], "share_still_in": [1, 0.6, 0.4], "ci_low": [1, 0.4, 0.2],
                          "ci_high": [1, 0.8, 0.6], "at_risk": [10, 8, 4]})
    fig = charts.survival(curve, {"median_days": 60}, "How long?")
    assert fig.layout.shapes[-1].x0 == 60 and "60 days" in fig.layout.annotations[-1].text


def test_long_questions_wrap_and_plain_counts_hover_with_every_figure():
    assert charts.wrap("word " * 30, 40).count("<br>") >= 2
    table = pd.DataFrame({"kind": ["radio_callin"], "reached": [200.0], "activities": [1.0]})
    fig = charts.counts(table, "kind", {"reached": "People reached"}, "How many?", labels={"radio_callin": "radio"},
                        hover={"activities": "Activities"})
    assert fig.data[0].hovertext[0] == "<b>radio</b><br>People reached: 200<br>Activities: 1"


def test_a_trend_stops_at_the_latest_record_and_marks_partial_periods():
    data = frames.prepared(ORG, participants=[
        dict(participant_id=f"P{i}", intake_date=day, program="Life Skills", site="Phnom Penh")
        for i, day in enumerate(["2026-01-10", "2026-02-10", "2026-04-10", "2026-05-20"])])
    through = latest_record(data, "registrations").date()
    assert through == dt.date(2026, 5, 20) and latest_record(data, "services") is None
    assert latest_record(data, filters={"organization": ("Other NGO",)}) is None
    assert latest_record(data, filters={"organization": (ORG,)}) == pd.Timestamp("2026-05-20")
    # A year to 23 November by quarter: the third and fourth quarters were never reported.
    table = compute(data, Selection(dt.date(2026, 1, 1), dt.date(2026, 11, 23)), ("quarter",),
                    ("participants_registered",))
    assert len(table) == 4 and table["value"].tolist() == [2, 2, 0, 0]
    table = reported(data, table)
    assert table["value"].tolist()[:2] == [2, 2] and table["value"].iloc[2:].isna().all()
    assert table["note"].tolist()[2:] == [NOT_REPORTED] * 2
    fig = charts.trend(table, "participants_registered", grain="quarter", through=through)
    line = fig.data[-1]
    assert list(line.y) == [2, 2] and list(line.marker.symbol) == ["circle", "circle-open"]
    assert "partial period: 01/04/2026 – 20/05/2026 only" in line.hovertext[1]
    # Khmer hover text, and a selection starting mid-quarter is partial too.
    table = compute(data, Selection(dt.date(2026, 2, 1), dt.date(2026, 6, 30)), ("quarter",),
                    ("participants_registered",))
    fig = charts.trend(table, "participants_registered", "km", grain="quarter")
    assert list(fig.data[-1].marker.symbol) == ["circle-open", "circle"]
    assert "រយៈពេលមិនពេញ" in fig.data[-1].hovertext[0]


def test_totals_over_time_are_drawn_from_zero_with_money_on_the_axis():
    growth = pd.DataFrame({"period_end": pd.to_datetime(["2026-01-31", "2026-02-28"]), "net_savings": [1500.0, 1800.0],
                           "group_type": ["karaoke_workers"] * 2})
    fig = charts.lines(growth, "period_end", "net_savings", "How have savings grown?", color="group_type",
                       is_money=True, labels={"karaoke_workers": "karaoke workers"})
    assert fig.layout.yaxis.rangemode == "tozero" and fig.layout.yaxis.tickprefix == "$"
    assert fig.data[0].name == "karaoke workers" and "$1,800.00" in fig.data[0].hovertext[1]
