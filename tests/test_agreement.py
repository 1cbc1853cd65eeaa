"""Every figure agrees with every other for one selection, and periods not reported yet are
never zeros (issue 10, defects 3, 4 and 5).

The page tests walk the Overview as a director would (AppTest, the demo store, today frozen
at TODAY: the demo data reach 30/09/2025). The properties draw random selections on the
demo store and go through the same functions the pages call (`app.session`), as staff and
as a donor.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from impact.access.sharing import Scope, ShareLink
from impact.metrics.catalog import METRICS, Kind
from impact.metrics.engine import NOT_REPORTED, Selection, latest_record
from impact.metrics.funnel import FUNNEL_KEYS, STEPS, funnel_steps
from impact.metrics.prepared import prepare
from impact.metrics.statuses import STATUS_BY, STATUS_KEY, status_shares
from impact.present import charts
from impact.store import open_store
from tests.helpers import TODAY, open_page

REACH = dt.date(2025, 9, 30)          # the demo data's latest record
THIS_YEAR = Selection(dt.date(2025, 1, 1), TODAY)

pytestmark = pytest.mark.usefixtures("today")


@pytest.fixture(scope="module")
def store_path(shared_demo_store) -> Path:
    return shared_demo_store


@pytest.fixture(scope="module")
def demo(store_path):
    return prepare(open_store(store_path).tables())


def overview(store_path, monkeypatch, preset: str) -> AppTest:
    monkeypatch.setenv("IMPACT_STORE", str(store_path))
    return open_page("overview", period=preset)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trend_figures(at: AppTest) -> list[dict]:
    """The Overview's trends: its figures after the funnel, but the map."""
    return [f for f in figures(at)[1:] if not any(t.get("type") == "choropleth" for t in f["data"])]


def test_the_funnel_shows_the_tiles_figures_each_of_its_own_base(store_path, monkeypatch):
    """Defect 3: the tiles say 565 of 940 left entertainment work and 200 of 247 graduated; the
    funnel's steps are those same figures (not the 63 and 111 of the women registered this
    year), no share is above 100%, people reached is a caption so the small steps can be read,
    and a step of 0 says 0."""
    at = overview(store_path, monkeypatch, "this_year")
    captions = [c.value for c in at.caption]
    assert "565 of 940" in captions and "200 of 247" in captions
    funnel = figures(at)[0]
    bars = dict(zip(funnel["data"][0]["y"], funnel["data"][0]["text"]))
    assert bars["Left entertainment work"] == "565 (60.1% of 940)"
    assert bars["Graduated a course"] == "200 (81.0% of 247)"
    assert bars["Registered"] == "334" and "People reached" not in bars
    assert "20,646" in funnel["layout"]["title"]["subtitle"]["text"]
    shares = [float(x) for text in bars.values() for x in re.findall(r"([\d.]+)% of", text)]
    assert shares and max(shares) <= 100
    tiny = funnel_steps(pd.DataFrame({
        "metric": list(FUNNEL_KEYS), "kind": [METRICS[k].kind.value for k in FUNNEL_KEYS],
        "numerator": [0.0 if METRICS[k].kind == Kind.RATE else np.nan for k in FUNNEL_KEYS],
        "denominator": [0.0 if METRICS[k].kind == Kind.RATE else np.nan for k in FUNNEL_KEYS],
        "value": [np.nan if METRICS[k].kind == Kind.RATE else 0.0 for k in FUNNEL_KEYS], "note": ""}))
    assert list(charts.funnel(tiny).data[0].text) == ["0"] * (len(STEPS) - 1)


def test_a_quarter_after_the_latest_record_is_not_reported_yet_not_zero(store_path, monkeypatch):
    """Defect 4: on 14/11/2025, "this quarter" began after the data's reach (30/09): every tile
    says so, none says 0, and there is no change since the previous quarter."""
    at = overview(store_path, monkeypatch, "this_quarter")
    values = {m.label: m.value for m in at.metric}
    assert set(values.values()) == {"not reported yet"}, values
    assert not [c.value for c in at.caption if "vs previous period" in c.value]
    assert not figures(at)                          # no funnel of zeros, no trend of zeros


def test_a_one_quarter_trend_is_its_figure_with_its_period_and_axes_show_quarters(store_path, monkeypatch):
    """Defect 5: "last quarter" trends are one figure each with their period, not a one-point
    line on an axis of times of day; a year's trend is labelled by quarters."""
    at = overview(store_path, monkeypatch, "last_quarter")
    trends = trend_figures(at)
    assert len(trends) == 4
    for figure in trends:
        assert not figure["data"]
        assert "01/07/2025 – 30/09/2025" in [a["text"] for a in figure["layout"]["annotations"]]
    at.selectbox(key="preset").set_value("last_year").run()
    for figure in trend_figures(at):
        assert figure["layout"]["xaxis"]["ticktext"] == ["2024 Q1", "2024 Q2", "2024 Q3", "2024 Q4"]


# --- properties on random selections ------------------------------------------------------

@st.composite
def selections(draw, participants: pd.DataFrame | None = None):
    """A period of whole days between 2023 and the end of 2026 (some after the data's reach),
    and maybe one organization, one site or one program."""
    start = dt.date(2023, 1, 1) + dt.timedelta(days=draw(st.integers(0, 1400)))
    end = start + dt.timedelta(days=draw(st.integers(0, 500)))
    dimension = draw(st.sampled_from((None, "organization", "site", "program")))
    filters = {}
    if dimension:
        values = sorted(participants[dimension].astype(str).unique())
        filters = {dimension: (draw(st.sampled_from(values)),)}
    return Selection(start, end, filters)


PROPERTY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def session_on(store_path, monkeypatch):
    """app.session as a page calls it, on the demo store; `role(exact)` switches between staff
    (exact figures) and a donor of every organization (figures after disclosure control)."""
    from app import session
    from app.gate import Visitor
    monkeypatch.setenv("IMPACT_STORE", str(store_path))
    moment = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    scope = Scope(tuple(open_store(store_path).tables()["participants"]["organization"].unique()))
    donor = Visitor(link=ShareLink(1, "every-organization", "test", moment, moment, scope))

    def role(exact: bool):
        monkeypatch.setattr(session, "exact_figures", lambda: exact)
        monkeypatch.setattr(session, "visitor", lambda: donor)    # the key of a donor's cached tables
        return session
    return role


# The tiles of each topic page, as the pages list them.
TOPIC_KEYS = {"outreach": ("people_reached", "new_contacts"),
              "training": ("graduation_rate", "vocational_progression"),
              "livelihoods": ("job_exit_rate", "followup_coverage", "sustained_exit_6m", "business_starts"),
              "savings": ("savings_rate", "savings_per_member"),
              "services": ("referral_completion_rate",),
              "outreach_registrations": ("participants_registered",)}


@PROPERTY
@given(data=st.data(), exact=st.booleans())
def test_the_overview_tiles_and_funnel_equal_the_topic_pages(session_on, demo, data, exact):
    """For any selection, as staff or as a donor: the Overview's tiles equal each topic page's
    tiles, and each funnel step equals its catalog metric."""
    session = session_on(exact)
    selection = data.draw(selections(demo.participants))
    from app.session import OVERVIEW_KEYS
    overview_rows = session.metrics(selection, keys=OVERVIEW_KEYS).set_index("metric")
    columns = ["value", "numerator", "denominator", "note"] + ([] if exact else ["display", "suppressed"])
    for keys in TOPIC_KEYS.values():
        page = session.metrics(selection, keys=keys).set_index("metric")
        shown = [k for k in keys if k in overview_rows.index]
        pd.testing.assert_frame_equal(page.loc[shown, columns], overview_rows.loc[shown, columns], check_dtype=False)
    steps = funnel_steps(overview_rows.reset_index()).set_index("step")
    for step, key in STEPS:
        own = session.metrics(selection, keys=(key,)).set_index("metric").loc[key]
        field = "numerator" if METRICS[key].kind == Kind.RATE else "value"
        assert steps.at[step, "count"] == own[field] or (np.isnan(steps.at[step, "count"]) and np.isnan(own[field]))


@PROPERTY
@given(data=st.data(), grain=st.sampled_from(("month", "quarter")), exact=st.booleans())
def test_no_period_after_the_latest_record_is_drawn_or_compared_as_a_zero(session_on, demo, data, grain, exact):
    """Trends, the status mix and savings over time, as staff or as a donor: every period that
    starts after its fact's latest record (for the selection's organizations) has no value and
    says "not reported yet", is not drawn, and a tile of such a period has no change since."""
    session = session_on(exact)
    selection = data.draw(selections(demo.participants))
    keys = ("participants_registered", "job_exit_rate", "graduation_rate", "people_reached", STATUS_KEY,
            "savings_per_member")
    table = session.metrics(selection, by=(grain,), keys=keys)
    by_organization = {"organization": selection.filters["organization"]} if selection.filters.get("organization") else {}
    for key in keys:
        rows = table[table["metric"] == key]
        reach = latest_record(demo, METRICS[key].fact, by_organization)
        after = rows["period_start"] > reach if reach is not None else pd.Series(False, index=rows.index)
        assert rows.loc[after, "value"].isna().all() and rows.loc[after, "note"].eq(NOT_REPORTED).all(), key
        figure = charts.trend(table, key, grain=grain, through=None if reach is None else reach.date())
        drawn = [x for trace in figure.data if trace.x is not None for x in trace.x]
        assert reach is None or all(pd.Timestamp(x) <= rows["period_end"][~after].max() for x in drawn), key
    mix = status_shares(session.metrics(selection, by=("quarter", STATUS_BY), keys=(STATUS_KEY,)),
                        session.metrics(selection, by=("quarter",), keys=(STATUS_KEY,)))
    reach = latest_record(demo, METRICS[STATUS_KEY].fact, by_organization)
    assert mix.empty if reach is None else (mix["period_start"] <= reach).all()
    tiles = session.metrics(selection, keys=keys)
    unreported = tiles["note"] == NOT_REPORTED
    assert tiles.loc[unreported, "value"].isna().all()       # the Overview compares only values it has
