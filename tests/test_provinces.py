"""The map of Cambodia: which province a site is in, the province breakdown of the engine, the
figure (coloured where there is data, grey elsewhere, n and the province's name on hover), and
the pages that draw it, for staff and, protected, for a donor. The click that filters a page
to a province's sites is tested in a real browser (test_browser.py)."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from impact import disclosure
from impact.access import protection, sharing
from impact.contract import provinces
from impact.contract.provinces import place, province_of, read_site_table, unplaced
from impact.intake import pipeline
from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import UNPLACED, prepare
from impact.present import charts
from impact.present.texts import text
from impact.store import open_store
from tests import frames
from tests.helpers import APP, TODAY, open_page
from tests.test_data_page import workbook
from tests.workbooks import PARTICIPANT_HEADER, participant

# --- a site's province -----------------------------------------------------------------------


@pytest.mark.parametrize("site, province", [
    ("Siem Reap - Pouk", "Siem Reap"),              # a province and its district
    ("Siem Reap", "Siem Reap"),
    ("SIEM REAP", "Siem Reap"),
    ("សៀមរាប", "Siem Reap"),                        # Khmer
    ("ខេត្តសៀមរាប", "Siem Reap"),                     # with "province" in Khmer
    ("សៀមរាប - ពួក", "Siem Reap"),
    ("Sihanoukville", "Preah Sihanouk"),            # aliases of the province itself
    ("Kampong Som", "Preah Sihanouk"),
    ("Kg. Cham", "Kampong Cham"),
    ("Kompong Speu", "Kampong Speu"),
    ("Bătdâmbâng", "Battambang"),                   # accents
    ("Tbong Khmum", "Tboung Khmum"),
    ("កណ្តាល", "Kandal"),                            # coeng-ta, the file writes coeng-da
    ("Kampot Province", "Kampot"),
    ("Phnom Penh (Tuol Kork)", "Phnom Penh"),
    ("Poipet", "Banteay Meanchey"),                 # towns, from the site table
    ("Pouk", "Siem Reap"),
    ("Svay Pak", "Phnom Penh"),
])
def test_a_site_is_placed_by_its_name_its_khmer_name_an_alias_or_the_site_table(site, province):
    assert province_of(site) == province


@pytest.mark.parametrize("site", ["Head office", "Phnom Penh / Poipet", "Kampong Trach", "", None, float("nan")])
def test_a_site_naming_no_province_or_two_is_not_placed(site):
    assert province_of(site) is None


def test_an_m_and_e_officer_places_a_site_with_one_line_of_the_table(tmp_path):
    path = tmp_path / "site_provinces.csv"
    path.write_text("site,province\nHead office,ភ្នំពេញ\nKampong Trach,Kampot\nRiver house,Atlantis\n",
                    encoding="utf-8")
    table = read_site_table(path)
    assert province_of("Head office", table) == "Phnom Penh"       # the province in Khmer
    assert province_of("KWCD - Kampong Trach", table) == "Kampot"  # a part of the site's name
    assert province_of("River house", table) is None               # a line naming no province
    assert unplaced(["Head office", "River house", "Siem Reap", "River house"], table) == ["River house"]
    assert place(["Head office", "Siem Reap"], table) == {"Head office": "Phnom Penh", "Siem Reap": "Siem Reap"}


def test_the_site_table_and_the_boundaries_agree():
    """Every line of the shipped table names a province, no town is also a province's name, and
    the file holds the 25 divisions with their notice."""
    with provinces.SITE_TABLE.open(encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    table = read_site_table()
    assert len(table) == len(lines) > 20
    names = {provinces.province_key(p.name) for p in provinces.provinces()}
    assert not set(table) & names
    data = provinces.boundaries()
    assert len({p.iso for p in provinces.provinces()}) == 25
    assert "OpenStreetMap" in data["attribution"] and data["license"] == "ODbL-1.0"
    assert "ODbL" in provinces.GEOJSON_FILE.with_name("cambodia-provinces.md").read_text(encoding="utf-8")


# --- the engine's province breakdown ---------------------------------------------------------

def _prepared():
    people = [dict(participant_id=f"P{i}", site=site, intake_date="2024-02-01")
              for i, site in enumerate(["Siem Reap - Pouk"] * 3 + ["Siem Reap"] * 2 + ["Poipet"] + ["Head office"])]
    acts = [dict(activity_date="2024-02-03", site="Sihanoukville", reached=40),
            dict(activity_date="2024-02-04", site="Kampong Som", reached=2),
            dict(activity_date="2024-02-05", site="Mobile team", reached=5)]
    return frames.prepared("KWCD", participants=people, activities=acts)


def test_province_is_a_dimension_derived_from_the_site():
    data = _prepared()
    table = compute(data, Selection(dt.date(2024, 1, 1), dt.date(2024, 12, 31)), by=("province",),
                    keys=("participants_registered", "people_reached"))
    counts = {(r.metric, r.province): r.value for r in table.itertuples()}
    assert counts == {("participants_registered", "Siem Reap"): 5, ("participants_registered", "Banteay Meanchey"): 1,
                      ("participants_registered", UNPLACED): 1, ("people_reached", "Preah Sihanouk"): 42,
                      ("people_reached", UNPLACED): 5}
    only = compute(data, Selection(dt.date(2024, 1, 1), dt.date(2024, 12, 31), {"province": ("Siem Reap",)}),
                   keys=("participants_registered",))
    assert only["value"].tolist() == [5]
    assert data.sites_in("Siem Reap") == ["Siem Reap", "Siem Reap - Pouk"]
    assert data.unplaced_sites == ["Head office", "Mobile team"]


# --- the figure ------------------------------------------------------------------------------

def _table(rows: list[tuple], key: str = "graduation_rate") -> pd.DataFrame:
    """A rate by province: (province, numerator, denominator)."""
    out = pd.DataFrame(rows, columns=["province", "numerator", "denominator"]).assign(metric=key, kind="rate")
    out["value"] = out["numerator"] / out["denominator"]
    out["ci_low"], out["ci_high"] = out["value"] - 0.1, out["value"] + 0.1
    return out


def _traces(fig) -> tuple[dict, dict]:
    """(grey, coloured) traces: province -> hover text."""
    grey, coloured = fig.data
    return (dict(zip(grey.locations, grey.hovertext)),
            {name: (tip, z) for name, tip, z in zip(coloured.customdata, coloured.hovertext, coloured.z)})


def test_the_map_colours_provinces_with_data_and_greys_the_others():
    fig = charts.province_map(_table([("Siem Reap", 12, 16), ("Kampot", 3, 4), (UNPLACED, 5, 5)]),
                              "graduation_rate")
    grey, coloured = _traces(fig)
    assert set(coloured) == {"Siem Reap", "Kampot"}
    assert coloured["Siem Reap"][1] == 0.75
    assert "75.0% (12 of 16)" in coloured["Siem Reap"][0]                     # n on hover
    assert "<b>Siem Reap</b>" in coloured["Siem Reap"][0]
    assert len(grey) == 23 and "KH-12" in grey and text("status_no_data") in grey["KH-12"]
    assert fig.data[0].colorscale[0][1] == fig.data[0].colorscale[-1][1] == charts.NO_DATA_COLOUR
    # Each outline once in the figure, wound as plotly.js reads it (outer rings clockwise).
    features = fig.data[0].geojson["features"] + fig.data[1].geojson["features"]
    assert sorted(f["id"] for f in features) == sorted(p.iso for p in provinces.provinces())
    for f in features:
        polygons = f["geometry"]["coordinates"]
        for polygon in (polygons if f["geometry"]["type"] == "MultiPolygon" else [polygons]):
            x, y = np.array(polygon[0]).T
            assert np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) < 0, f["id"]
    assert "OpenStreetMap" in fig.layout.annotations[0].text
    assert len(pio.to_json(fig, validate=False)) < 90_000          # what Streamlit sends


def test_the_map_names_provinces_in_khmer_and_shows_a_second_metric():
    table = pd.concat([_table([("Siem Reap", 12, 16)], "job_exit_rate"),
                       _table([("Siem Reap", 16, 20)], "followup_coverage")])
    fig = charts.province_map(table, "job_exit_rate", "km", also=("followup_coverage",))
    tip = _traces(fig)[1]["Siem Reap"][0]
    assert tip.startswith("<b>សៀមរាប</b>")
    assert "80.0% (16 of 20)" in tip and "75.0% (12 of 16)" in tip


def test_a_donor_map_shows_protected_figures_and_greys_withheld_provinces():
    exact = pd.DataFrame({"metric": "participants_registered", "kind": "count",
                          "province": ["Siem Reap", "Kampot", "Takeo", "Phnom Penh"],
                          "numerator": np.nan, "denominator": np.nan, "value": [52.0, 4, 13, 31],
                          "ci_low": np.nan, "ci_high": np.nan, "period_start": pd.Timestamp("2024-01-01"),
                          "period_end": pd.Timestamp("2024-12-31"),
                          # cell keys read as the fraction 0.5: the noise of each cell is 0
                          "numerator_key": disclosure.KEY_MODULUS // 2, "denominator_key": disclosure.KEY_MODULUS // 2})
    total = exact.drop(columns="province").iloc[:1].assign(value=exact["value"].sum())
    shown = protection.protected(lambda by: exact if by else total, ("province",))
    grey, coloured = _traces(charts.province_map(shown, "participants_registered"))
    assert set(coloured) == {"Siem Reap", "Phnom Penh"}               # Kampot small, Takeo complementary
    assert {name: z for name, (_, z) in coloured.items()} == {"Siem Reap": 50, "Phnom Penh": 30}
    assert "fewer than 10" in grey["KH-7"] and disclosure.WITHHELD_OTHER in grey["KH-21"]
    assert not any(str(n) in tip for tip in grey.values() for n in (4, 13, 52, 31))


# --- the pages -------------------------------------------------------------------------------

def maps(at: AppTest) -> list[dict]:
    """The map figures a page drew."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return [s for s in specs if s["data"] and s["data"][0]["type"] == "choropleth"]


def coloured(spec: dict) -> dict[str, float]:
    trace = spec["data"][-1]
    return dict(zip(trace["customdata"], trace["z"]))


def this_year(**filters) -> Selection:
    return Selection(dt.date(TODAY.year, 1, 1), TODAY, filters)


@pytest.mark.usefixtures("today")
@pytest.mark.parametrize("page, key", [("overview", "participants_registered"), ("training", "graduation_rate"),
                                       ("livelihoods", "job_exit_rate"), ("outreach", "people_reached"),
                                       ("savings", "savings_rate"), ("services", "referral_completion_rate")])
def test_a_page_draws_the_map_of_its_main_metric(page, key, shared_demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page(page)      # this year: the default period
    (spec,) = maps(at)
    exact = compute(prepare(open_store(shared_demo_store).tables()), this_year(), ("province",), (key,), today=TODAY)
    exact = exact[exact["value"].notna()]
    assert coloured(spec) == pytest.approx(dict(zip(exact["province"], exact["value"])))
    assert len(spec["data"][0]["locations"]) + len(coloured(spec)) == 25


@pytest.mark.usefixtures("today")
def test_a_donor_overview_map_shows_protected_figures(shared_demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    monkeypatch.setenv(sharing.SECRET_ENV, "s" * 40)
    token, _ = sharing.create_link(open_store(shared_demo_store), "s" * 40, "director", sharing.Scope(organizations=("KWCD",)),
                                   expires_at=dt.date.today() + dt.timedelta(days=30))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params[sharing.SHARE_PARAM] = token
    at.run()
    # A donor picks among her link's release periods: this year, to the end of this quarter.
    year = (dt.date(TODAY.year, 1, 1), sharing.release_periods(sharing.Scope(("KWCD",)), TODAY)[0][1])
    at.selectbox(key="release").set_value(year).run()
    assert not at.exception, at.exception
    (spec,) = maps(at)
    key = "participants_registered"
    prepared = prepare(open_store(shared_demo_store).tables())
    selection = Selection(*year, {"organization": ("KWCD",)})
    shown = protection.protected(lambda by: compute(prepared, selection, by, (key,), today=TODAY, cell_keys=True),
                                 ("province",))
    expected = shown[shown["value"].notna()]
    assert coloured(spec) == dict(zip(expected["province"], expected["value"]))
    assert coloured(spec) and all(v % 5 == 0 and v >= 10 for v in coloured(spec).values())
    assert set(coloured(spec)) <= {"Phnom Penh", "Siem Reap"}           # KWCD's provinces only


@pytest.mark.usefixtures("today")
def test_the_data_page_lists_the_sites_it_could_not_place(demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(demo_store))
    store = open_store(demo_store)
    rows = [PARTICIPANT_HEADER, participant("MAP-1", site="Kampong Trach"),
            participant("MAP-2", site="Siem Reap - Pouk")]
    pipeline.ingest_files(store, [("KWCD_map.xlsx", workbook(rows))])
    at = open_page("data")
    assert text("unplaced_sites") in [s.value for s in at.subheader]
    listed = next(d.value for d in at.dataframe if list(d.value.columns) == ["site"])
    assert listed["site"].tolist() == ["Kampong Trach"]
