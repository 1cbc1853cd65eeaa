"""Issue 10, defect 2: a target stands under an Overview tile only when its scope and period
are the tile's (so its actual is the tile's figure), or when counts' targets of the
organizations shown, for the same period, add up; the bar says which period. On the demo
store (today frozen), by the pure function and on the page (AppTest)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.metrics.targets import target_progress, tile_targets
from impact.present import formatting
from impact.present.texts import text
from impact.store import open_store
from app.session import HEADLINE
from tests.helpers import TODAY, open_page

YEAR = dt.date(TODAY.year, 1, 1)


@pytest.fixture(scope="module")
def demo(demo_template):
    prepared = prepare(open_store(demo_template).tables())
    organizations = sorted(prepared.participants["organization"].cat.categories)
    return prepared, target_progress(prepared, today=TODAY), organizations


def figure(prepared, selection: Selection, key: str) -> float:
    return compute(prepared, selection, keys=(key,), today=TODAY).set_index("metric").at[key, "value"]


@pytest.mark.parametrize("filters", ({}, {"organization": ("KWCD",)}, {"organization": ("KWCD",), "site": ("Phnom Penh",)},
                                     {"organization": ("KWCD", "SRP")}))
def test_a_tiles_target_has_its_scope_and_period_and_its_actual_is_the_tiles_figure(filters, demo):
    prepared, progress, organizations = demo
    selection = Selection(YEAR, TODAY, filters)
    found = tile_targets(progress, selection, TODAY, organizations)
    assert "participants_registered" in set(found["indicator"])
    for row in found.itertuples():
        assert (row.period_start, row.period_end) == (pd.Timestamp(YEAR), pd.Timestamp(TODAY.year, 12, 31))
        assert row.actual == pytest.approx(figure(prepared, selection, row.indicator))
        assert row.percent_achieved == pytest.approx(row.actual / row.target)
    shown = filters.get("organization") or organizations
    written = progress[(progress["indicator"] == "participants_registered") & progress["organization"].isin(shown)
                       & (progress["period_start"] == pd.Timestamp(YEAR))
                       & (progress["site"].eq(filters["site"][0]) if "site" in filters else progress["site"].isna())]
    assert found.set_index("indicator").at["participants_registered", "target"] == written["target"].sum()
    if len(shown) > 1:      # rates of several organizations do not add up
        assert set(found["indicator"]) <= {"participants_registered", "people_reached", "new_contacts"}


@pytest.mark.parametrize("selection", (
    Selection(dt.date(TODAY.year, 10, 1), TODAY),                                         # a quarter, annual targets
    Selection(dt.date(TODAY.year, 10, 1), TODAY, {"organization": ("KWCD",)}),
    Selection(YEAR, TODAY, {"organization": ("KWCD",), "age_band": ("18-24",)}),          # targets have no age
    Selection(None, TODAY, {"organization": ("KWCD",)}),                                  # all time
    Selection(YEAR, TODAY, {"organization": ("KWCD",), "site": ("Phnom Penh", "Siem Reap - Pouk")}),
))
def test_no_target_stands_beside_a_tile_of_another_scope_or_period(selection, demo):
    _, progress, organizations = demo
    assert tile_targets(progress, selection, TODAY, organizations).empty


def progress_bars(at: AppTest) -> list[str]:
    return [bar.proto.text for bar in at.get("progress")]


@pytest.mark.usefixtures("today")
def test_the_overview_puts_the_summed_target_of_its_period_under_the_tile(shared_demo_store, demo, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    _, progress, organizations = demo
    at = open_page("overview")        # this year: the default period
    target = tile_targets(progress, Selection(YEAR, TODAY), TODAY, organizations).set_index("indicator")
    row = target.loc["participants_registered"]
    expected = text("tile_target").format(percent=f"{row['percent_achieved']:.0%}", target=row["target_display"],
                                          period=formatting.period(row["period_start"], row["period_end"]))
    assert expected in progress_bars(at)
    assert len(progress_bars(at)) == len(target.index.intersection(HEADLINE))
    at.selectbox(key="preset").set_value("this_quarter").run()
    assert not at.exception and progress_bars(at) == []
    at.radio(key="lang").set_value("km").run()
    at.selectbox(key="preset").set_value("this_year")
    at.multiselect(key="f_organization").set_value(["KWCD"]).run()
    kwcd = tile_targets(progress, Selection(YEAR, TODAY, {"organization": ("KWCD",)}), TODAY, organizations)
    assert len(progress_bars(at)) == len(kwcd[kwcd["indicator"].isin(HEADLINE)]) > 0
    assert all(formatting.period(YEAR, dt.date(TODAY.year, 12, 31)) in bar for bar in progress_bars(at))
