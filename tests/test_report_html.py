"""The donor-ready report opens offline: plotly.js once, every figure, the figures' words."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from impact.present.donor_report import report_html


def test_report_embeds_plotly_once_and_shows_protected_figures():
    table = pd.DataFrame([{"metric": "graduation_rate", "value": float("nan"), "display": "fewer than 10"},
                          {"metric": "people_reached", "value": 1235.0, "display": "1,235"}])
    page = report_html("KWCD <2026>", "01/01/2026 – 30/09/2026", [go.Figure(go.Bar(y=[1])), go.Figure()], table)
    assert page.count('class="plotly-graph-div"') == 2
    assert "<script src=" not in page and page.count("plotly.js v") == 1   # embedded once: opens offline
    assert "fewer than 10" in page and "1,235" in page and "KWCD &lt;2026&gt;" in page
