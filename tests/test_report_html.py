"""The donor-ready report (issue 10, defect 8): it says what it covers and how its figures were
made and protected, opens offline with plotly.js embedded once (packed), and in a real browser
(Debian Chromium) draws every chart with no axis label cut off."""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import os
import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from impact import config
from impact.metrics.catalog import METRICS
from impact.present.donor_report import ReportScope, report_html
from impact.present.texts import text

CHROMIUM = "/usr/bin/chromium"
TABLE = pd.DataFrame([{"metric": "graduation_rate", "value": float("nan"), "display": "fewer than 10"},
                      {"metric": "people_reached", "value": 1235.0, "display": "1,235"}])
SCOPE = ReportScope(("KWCD",), dt.date(2026, 1, 1), dt.date(2026, 9, 30), {"site": ("Phnom Penh",)},
                    dt.date(2026, 9, 28), protected=True)


def figures() -> list[go.Figure]:
    """Two charts whose labels a tight margin cuts: long y values and month dates."""
    months = pd.date_range("2026-01-31", periods=9, freq="ME")
    return [go.Figure(go.Scatter(x=months, y=[12000 + 900 * i for i in range(9)])).update_layout(margin_l=10),
            go.Figure(go.Bar(x=["Phnom Penh", "Siem Reap - Pouk"], y=[0.5, 0.8])).update_yaxes(tickformat=".0%")]


def test_the_report_says_its_scope_and_how_its_figures_were_made():
    page = report_html("KWCD <2026>", SCOPE, figures(), TABLE, made=dt.date(2026, 10, 2))
    words = re.sub(r"<[^>]+>", " ", page)
    for shown in ("KWCD &lt;2026&gt;", "01/01/2026 – 30/09/2026", f"{text('site')}: Phnom Penh", "28/09/2026",
                  "02/10/2026", "fewer than 10", "1,235"):
        assert shown in page, shown
    assert text("report_protected").format(threshold=config.suppression_threshold(),
                                           rounding=config.rounding()).replace('"', "&quot;") in words
    for key in TABLE["metric"]:
        assert METRICS[key].description.replace("'", "&#x27;") in page
    staff = report_html("KWCD", ReportScope((), None, dt.date(2026, 9, 30)), [], TABLE.drop(columns="display"), "km")
    assert text("report_exact", "km") in staff and text("report_all_organizations", "km") in staff


def test_plotly_is_embedded_once_packed():
    page = report_html("KWCD", SCOPE, figures(), TABLE)
    assert "<script src=" not in page                       # nothing fetched: it opens offline
    [packed] = re.findall(r"id='plotly-packed'>([^<]+)<", page)
    assert b"plotly.js v" in gzip.decompress(base64.b64decode(packed))[:2000]
    assert page.count("plotly.js v") == 0 and len(page) < 2_500_000      # 4.8 MB with plotly.js as text
    assert page.count("class='chart'") == 2


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing")
def test_the_report_draws_every_chart_with_its_labels_whole(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    path = tmp_path / "report.html"
    path.write_text(report_html("KWCD", SCOPE, figures(), TABLE), encoding="utf-8")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 2", timeout=30_000)
        for chart in page.locator(".chart").all():
            frame = chart.bounding_box()
            labels = chart.locator(".xtick text, .ytick text").all()
            assert labels
            for label in labels:
                box = label.bounding_box()
                assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"], \
                    label.text_content()
                assert box["y"] + box["height"] <= frame["y"] + frame["height"], label.text_content()
        browser.close()
