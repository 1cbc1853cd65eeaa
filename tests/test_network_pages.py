"""The Networks and Justice & protection pages, run by AppTest on the demo store (as
tests/test_pages.py runs the others): for a director they show what `impact/` computes and read
in Khmer; a donor's link shows protected figures only (the case pathway step by step, the time
to verdict as a life table of protected counts, no audience breakdown, no id); an empty store
says "no data"."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from streamlit.testing.v1 import AppTest

from impact.access import sharing
from impact.contract.tables import NETWORK_REFERRERS
from impact.metrics.catalog import METRICS, Kind
from impact.metrics.engine import Selection, compute
from impact.metrics.justice import case_pathway
from impact.metrics.prepared import prepare
from impact.present import formatting
from impact.present.texts import text
from impact.store import open_store
from tests.helpers import TODAY, open_page

PAGES = ("networks", "justice")
CHECKS = {"networks": ("network_members", "network_groups", "network_referrals", "referral_completion_rate"),
          "justice": ("cases_reported", "survivors_rescued", "charge_rate", "perpetrators_convicted",
                      "known_recruiter_rate", "days_to_verdict")}
ALL_TIME = "all_time"
LABELS = {formatting.metric_label(key): key for keys in CHECKS.values() for key in keys}

pytestmark = pytest.mark.usefixtures("today")


@pytest.fixture(scope="module")
def prepared(shared_demo_store):
    return prepare(open_store(shared_demo_store).tables())


def infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


@pytest.mark.parametrize("page", PAGES)
def test_a_director_sees_what_impact_computes_and_it_reads_in_khmer(page, shared_demo_store, prepared, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page(page, period=ALL_TIME)
    assert at.title[0].value == text(f"page_{page}")
    expected = compute(prepared, Selection(None, TODAY), keys=CHECKS[page], today=TODAY).set_index("metric")
    if page == "networks":   # the completion of the networks' own referrals
        expected.loc["referral_completion_rate"] = compute(
            prepared, Selection(None, TODAY, {"referred_by": NETWORK_REFERRERS}), keys=("referral_completion_rate",),
            today=TODAY).set_index("metric").loc["referral_completion_rate"]
    shown = {m.label: m.value for m in at.metric}
    for key in CHECKS[page]:
        assert shown[formatting.metric_label(key)] == formatting.metric_value(key, expected.at[key, "value"]), key
    assert expected["value"].notna().all()
    if page == "justice":    # the Kaplan-Meier curve for staff, with its median (or why none yet) in words
        cases = f"{expected.at['cases_reported', 'value']:,.0f} cases:"
        assert any(c.value.startswith(("Median time to a verdict", "Fewer than half")) and cases in c.value
                   for c in at.caption)
    at.radio(key="lang").set_value("km").run()
    assert not at.exception, at.exception[0].message
    assert at.title[0].value == text(f"page_{page}", "km")
    assert formatting.metric_label(CHECKS[page][0], "km") in [m.label for m in at.metric]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_on_an_empty_store_says_no_data(page, tmp_path, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(tmp_path / "empty.db"))
    monkeypatch.setattr("app.session.seed_demo_store", lambda store, folder: False)
    at = open_page(page, period=ALL_TIME)
    assert text("no_data") in infos(at)
    assert not {m.value for m in at.metric} & {"0.0%", "0.0"}   # a rate or median of nothing is no data
    at.radio(key="lang").set_value("km").run()
    assert not at.exception, at.exception[0].message
    assert text("no_data", "km") in infos(at)


@pytest.mark.parametrize("page", PAGES)
def test_a_program_filter_says_networks_and_cases_cannot_take_it(page, shared_demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page(page, period=ALL_TIME)
    at.multiselect(key="f_program").set_value(["Night Outreach"]).run()
    assert not at.exception, at.exception[0].message
    assert any(i.startswith("These figures cannot be filtered by Program") for i in infos(at))


@pytest.mark.parametrize("page", PAGES)
def test_a_donor_sees_protected_figures_only(page, shared_demo_store, prepared, monkeypatch):
    """CPN runs the justice program: its donor sees the pathway's steps protected (rounded to 5,
    small ones withheld), the time to verdict as protected counts, no staff breakdown and no
    case or member id anywhere on the page."""
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    monkeypatch.setenv(sharing.SECRET_ENV, "s" * 40)
    token, _ = sharing.create_link(open_store(shared_demo_store), "s" * 40, "director",
                                   sharing.Scope(organizations=("CPN",)), expires_at=dt.date.today() + dt.timedelta(days=30))
    at = open_page(page, **{sharing.SHARE_PARAM: token})       # the link's whole period
    counts = [m.value for m in at.metric if METRICS[LABELS[m.label]].kind == Kind.COUNT]
    assert counts and all(v.startswith("fewer than") or v == "Withheld" or float(v.replace(",", "")) % 5 == 0
                          for v in counts), counts
    if page == "networks":
        assert text("staff_only") in infos(at)        # who attended: the field team's own words
    page_text = str(at) + "".join(chart.proto.spec for chart in at.get("plotly_chart"))
    assert at.get("plotly_chart")
    cases = open_store(shared_demo_store).tables()["cases"]["case_id"]
    members = open_store(shared_demo_store).tables()["network_members"]["member_id"]
    assert not any(i in page_text for i in set(cases) | set(members))
    if page == "justice":
        last_year = Selection(dt.date(TODAY.year - 1, 1, 1), dt.date(TODAY.year - 1, 12, 31),
                              {"organization": ("CPN",)})
        exact = case_pathway(prepared, last_year, today=TODAY).set_index("step")
        assert exact.at["reported", "value"] >= 10
        funnel = next(c for c in at.get("plotly_chart") if '"type":"funnel"' in c.proto.spec.replace(" ", ""))
        shown = json.loads(funnel.proto.spec)["data"][0]["x"]
        assert shown[0] > 0 and all(x % 5 == 0 for x in shown)   # rounded to 5 (a withheld step: 0)
        assert not any(c.value.startswith(("Median time to a verdict", "Fewer than half"))
                       for c in at.caption)   # no exact curve
