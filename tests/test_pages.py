"""Every page of the dashboard, run by Streamlit's AppTest on a real SQLite store: it runs on
the demo data and shows what `impact/` computes for the same selection, it runs in Khmer, an
empty selection or an empty store says "no data" instead of failing or showing 0, and a donor
(share link) sees no breakdown that skipped disclosure control.

The tests that change no data share one copy of the demo store (so the dashboard's caches
stay warm across them); a test that writes data or lists links gets its own copy. Today is frozen. Each
test opens its page at its own address (`open_page`), in the default view (this year,
English) unless the query string says otherwise.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from impact import config

from impact.present import formatting

from impact.access import sharing
from impact.metrics.cohorts import COHORT_BY, COHORT_KEYS, cohort_cells
from impact.metrics.engine import Selection, compute, reported_metrics
from impact.metrics.prepared import prepare
from impact.store import open_store
from impact.metrics.target_report import PROMISE_COLUMNS, target_report
from impact.metrics.targets import target_progress, targets_in_view
from impact.present.texts import text
from tests.helpers import TODAY, open_page

PAGES = ("overview", "outreach", "training", "livelihoods", "savings", "services", "targets")
NO_DATA = text("no_data")


pytestmark = pytest.mark.usefixtures("today")


@pytest.fixture(scope="module")
def expected(shared_demo_store):
    """What impact/ computes for the pages' default view (this year, no filter)."""
    today = TODAY
    tables = open_store(shared_demo_store).tables()
    prepared = prepare(tables)
    selection = Selection(dt.date(today.year, 1, 1), today)
    return dict(today=today, tables=tables, prepared=prepared, selection=selection,
                metrics=compute(prepared, selection, today=today).set_index("metric"))


def shown(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def value(expected, key: str, column: str = "value") -> str:
    return formatting.metric_value(key, expected["metrics"].at[key, column])


CHECKS = {
    "overview": ("participants_registered",),
    "outreach": ("people_reached", "new_contacts"),
    "training": ("graduation_rate", "vocational_progression"),
    "livelihoods": ("job_exit_rate", "followup_coverage", "sustained_exit_6m", "business_starts"),
    "savings": ("savings_rate", "savings_per_member"),
    "services": ("referral_completion_rate",),
    "targets": (),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_shows_what_impact_computes_and_reads_in_khmer(page, shared_demo_store, expected, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page(page)
    assert at.title[0].value == text(f"page_{page}")
    figures = shown(at)
    for key in CHECKS[page]:
        assert figures[formatting.metric_label(key, "en")] == value(expected, key), key
    selection, today, prepared = expected["selection"], expected["today"], expected["prepared"]

    if page == "outreach":      # counted straight from the stored activity log
        dates = expected["tables"]["activities"]["activity_date"]
        held = dates.between(pd.Timestamp(selection.start), pd.Timestamp(selection.end)).sum()
        assert figures[text("activities")] == f"{held:,}"
    if page == "training":
        assert figures[text("enrollments_ended")] == f"{expected['metrics'].at['graduation_rate', 'denominator']:,.0f}"
    if page == "livelihoods":
        cohorts = cohort_cells(reported_metrics(prepared, selection, COHORT_BY, COHORT_KEYS, today))
        cohorts["intake_quarter"] = [f"{q[:4]} Q{q[-1]}" for q in cohorts["intake_quarter"]]
        table = at.dataframe[0].value.reset_index(drop=True)
        counts = ["intake_quarter", "milestone", "participants", "out_of_entertainment", "lost_to_followup",
                  "not_yet_due"]
        pd.testing.assert_frame_equal(table[counts], cohorts[counts], check_dtype=False)
        assert np.allclose(table["share_out"], cohorts["share_out"] * 100, equal_nan=True)
        first = cohorts.iloc[0]
        assert table["interval"].iloc[0] == f"{first['ci_low']:.1%} – {first['ci_high']:.1%}"
    if page == "savings":       # the currency switch converts what is shown
        at.segmented_control(key="currency").set_value("KHR").run()
        per_member = expected["metrics"].at["savings_per_member", "value"] * config.khr_per_usd()
        assert shown(at)[formatting.metric_label("savings_per_member", "en")] == \
            formatting.metric_value("savings_per_member", per_member, "KHR")
    if page == "targets":
        report = target_report(targets_in_view(target_progress(prepared, today=today), selection))
        assert len(report) > 0
        assert at.table[0].value["Actual"].tolist() == report["Actual"].tolist()
        assert at.table[0].value["Status"].tolist() == report["Status"].tolist()
        assert at.table[0].value["% achieved"].tolist() == [formatting.achieved(p) for p in report["% achieved"]]

    at.radio(key="lang").set_value("km").run()
    assert not at.exception, at.exception[0].message
    assert at.title[0].value == text(f"page_{page}", "km")


@pytest.mark.parametrize("page", PAGES)
def test_a_selection_without_data_says_so(page, shared_demo_store, monkeypatch):
    """One site, a year before the demo data begins: no data, never 0% or $0."""
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page(page)
    at.multiselect(key="f_site").set_value(["Phnom Penh"])
    at.selectbox(key="preset").set_value("custom").run()
    at.date_input(key="start").set_value(dt.date(2020, 1, 1))
    at.date_input(key="end").set_value(dt.date(2020, 12, 31)).run()
    assert not at.exception, at.exception[0].message
    assert "2020" in at.caption[0].value
    assert NO_DATA in [i.value for i in at.info]
    assert not [m.value for m in at.metric if m.value in ("0.0%", "$0.00")]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_on_an_empty_store_says_no_data(page, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(tmp_path / "empty.db"))
    monkeypatch.setattr("app.session.seed_demo_store", lambda store, folder: False)
    at = open_page(page)
    assert NO_DATA in [i.value for i in at.info]
    at.radio(key="lang").set_value("km").run()
    assert not at.exception, at.exception[0].message
    assert text("no_data", "km") in [i.value for i in at.info]


@pytest.mark.parametrize("page", PAGES[1:])
def test_a_donor_sees_protected_figures_and_no_breakdown_made_outside_disclosure_control(
        page, shared_demo_store, monkeypatch):
    db = shared_demo_store
    monkeypatch.setenv("IMPACT_STORE", str(db))
    monkeypatch.setenv(sharing.SECRET_ENV, "s" * 40)
    token, _ = sharing.create_link(open_store(db), "s" * 40, "director", sharing.Scope(organizations=("KWCD",)),
                                   expires_at=dt.date.today() + dt.timedelta(days=30))
    at = open_page(page, **{sharing.SHARE_PARAM: token})
    period = at.selectbox(key="release")          # a donor chooses whole quarters and years only
    assert not any("/" in o for o in period.options[1:]) and "2025 Q3" in period.options
    period.select_index(period.options.index(str(TODAY.year))).run()
    assert not at.exception, at.exception[0].message
    if page == "livelihoods":   # the cohorts are rows of the metric table: shown, protected
        cells = at.dataframe[0].value[["participants", "out_of_entertainment", "lost_to_followup"]].stack()
        counts = cells[cells != text("withheld_short")]       # a withheld count says so
        assert len(counts) < len(cells) and len(counts) and (counts.str.replace(",", "").astype(int) % 5 == 0).all()
        # Time to exit as a life table of protected counts (at risk and exits per interval).
        (life,) = [f for f in map(json.loads, (c.proto.spec for c in at.get("plotly_chart")))
                   if f["layout"]["title"]["text"].replace("<br>", " ") == text("time_to_exit_title")]
        hovers = life["data"][0]["hovertext"]
        shown = [int(n.replace(",", "")) for h in hovers for n in re.findall(r": ([\d,]+)(?:<br>|$)", h)]
        assert shown and all(n % 5 == 0 for n in shown), hovers
        # A drawn chart never reads as all withheld: the cohort note counts its metric figures
        # (a cell of the chart lays out three of them), not its cells.
        notes = [re.fullmatch(text("withheld_some").format(n=r"(\d+)", total=r"(\d+)"), c.value) for c in at.caption]
        counted = [(int(m[1]), int(m[2])) for m in notes if m]
        assert counted and all(n < total for n, total in counted), counted
    elif page == "targets":   # what was promised, never an actual measured against it
        assert not at.dataframe
        promised = at.table[0].value
        assert len(promised) and set(promised["Organization"]) == {"KWCD"}
        assert list(promised.columns) == [text(c) for c in PROMISE_COLUMNS]
    else:
        assert not at.dataframe
        assert text("staff_only") in [i.value for i in at.info]    # time to exit, groups...: staff only


def test_the_share_page_lists_links_in_the_readers_language(demo_store, monkeypatch):
    db = demo_store
    monkeypatch.setenv("IMPACT_STORE", str(db))
    monkeypatch.setenv(sharing.SECRET_ENV, "s" * 40)
    _, link = sharing.create_link(open_store(db), "s" * 40, "director", sharing.Scope(organizations=("KWCD",)),
                                  expires_at=dt.date.today() + dt.timedelta(days=30), note="Donor X")
    at = open_page("share", lang="km")
    table = at.dataframe[0].value
    assert list(table.columns) == [text(f"share_col_{c}", "km") for c in
                                   ("id", "note", "created_by", "created_at", "expires_at", "revoked_at", "status",
                                    "opens")]
    row = table.iloc[0]
    assert (row.iloc[0], row.iloc[1], row.iloc[6]) == (link.public_id, "Donor X", "កំពុងប្រើ")
