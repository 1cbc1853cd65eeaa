"""The dashboard shell, run by Streamlit's AppTest on a real SQLite store seeded with demo data."""
from __future__ import annotations

import datetime as dt
import gc

import pytest
from streamlit.testing.v1 import AppTest

from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.store import open_store
from tests.helpers import APP, demo_file_count



@pytest.fixture
def app(demo_store, today, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(demo_store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.store_path = demo_store
    return at


@pytest.mark.slow
def test_first_start_seeds_an_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(tmp_path / "new.db"))
    monkeypatch.setattr("impact.config.DEMO_DIR", tmp_path / "demo")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert len(open_store(tmp_path / "new.db").uploads()) == demo_file_count()


def test_overview_shows_what_impact_computes_and_the_url_follows_filters(app, today):
    at = app.run()
    assert not at.exception
    at.multiselect(key="f_organization").set_value(["KWCD"])
    at.selectbox(key="preset").set_value("all_time")
    at.run()
    assert not at.exception
    assert at.query_params == {"period": "all_time", "org": "KWCD"}
    expected = compute(prepare(open_store(app.store_path).tables()),
                       Selection(None, today, {"organization": ("KWCD",)}),
                       keys=("participants_registered", "graduation_rate"))
    shown = {m.label: m.value for m in at.metric}
    assert shown["Women registered"] == f"{expected['value'].iloc[0]:,.0f}"
    assert shown["Graduation rate"] == f"{expected['value'].iloc[1]:.1%}"


def test_khmer_switch(app):
    at = app.run()
    at.radio(key="lang").set_value("km").run()
    assert not at.exception
    assert at.title[0].value == "ទិដ្ឋភាពទូទៅ"
    assert "អត្រាបញ្ចប់ការសិក្សា" in [m.label for m in at.metric]


def test_a_selection_with_no_data_says_so(app):
    at = app.run()
    at.selectbox(key="preset").set_value("custom").run()
    at.date_input(key="start").set_value(dt.date(2001, 1, 1))
    at.date_input(key="end").set_value(dt.date(2001, 12, 31)).run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Graduation rate"] == "–" and values["Women registered"] == "0"
    assert any("No data" in i.value for i in at.info)


def test_warm_up_computes_what_the_first_overview_would(app, monkeypatch):
    """serve.py's start-up step: afterwards the default Overview computes nothing itself (its
    metrics and funnel (one table) and target progress all come from the caches warm_up filled)."""
    import impact.metrics.targets
    from app import session
    calls = []
    for module, name in ((session, "reported_metrics"), (impact.metrics.targets, "compute")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, real=real, name=module.__name__, **k:
                            calls.append(name) or real(*a, **k))
    session.warm_up()
    assert {"app.session", "impact.metrics.targets"} <= set(calls)
    calls.clear()
    at = app.run()
    assert not at.exception
    assert calls == [] and len(at.metric) == 6


def test_a_visitor_during_the_start_up_warm_up_is_told_it_is_preparing(app, monkeypatch):
    """serve.py warms in a thread while the server answers: a visitor arriving meanwhile sees
    how long the figures have been preparing (never a blank page), in her language, and the
    dashboard once the warm-up is over."""
    import threading

    from app import session
    release = threading.Event()
    monkeypatch.setattr(session, "warm_up", release.wait)      # a big store's first start
    frozen = gc.get_freeze_count()
    session.start_warm_up()
    at = app.run()
    assert not at.exception and len(at.metric) == 0
    assert [i.value for i in at.info] == ["Preparing the figures… 0 s"]
    assert session.warming_for() is not None

    khmer = AppTest.from_file(APP, default_timeout=120)
    khmer.query_params["lang"] = "km"
    assert "កំពុងរៀបចំតួលេខ" in khmer.run().info[0].value

    release.set()
    for _ in range(50):
        if session.warming_for() is None:
            break
        threading.Event().wait(0.1)
    assert session.warming_for() is None
    # What start-up made is out of the collector's way (Streamlit collects after every run).
    assert gc.get_freeze_count() > frozen
    gc.unfreeze()
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and len(at.metric) == 6
