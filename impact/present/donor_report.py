"""A donor-ready report of a selection: one self-contained HTML file (plotly.js embedded once,
so it opens offline). Its Excel twin is `impact.exports.excel_bytes` of the same tables."""
from __future__ import annotations

import html

import pandas as pd
import plotly.io as pio

from impact.present.formatting import metric_label, metric_value


def report_html(title: str, subtitle: str, figures: list, table: pd.DataFrame, lang: str = "en") -> str:
    """`figures` are Plotly figures; `table` a metric table (exact for staff, protected for a
    donor: its `display` column is used when present)."""
    rows = []
    for record in table.to_dict("records"):
        shown = record.get("display") or metric_value(record["metric"], record["value"])
        rows.append(f"<tr><td>{html.escape(metric_label(record['metric'], lang))}</td>"
                    f"<td>{html.escape(str(shown))}</td></tr>")
    charts = [pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
              for i, fig in enumerate(figures)]
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:'Noto Sans Khmer','Khmer OS',sans-serif;max-width:1000px;margin:auto}"
            "td{padding:4px 12px;border-bottom:1px solid #ddd}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>"
            f"<table>{''.join(rows)}</table>{''.join(charts)}</body></html>")
