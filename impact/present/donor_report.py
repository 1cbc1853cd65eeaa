"""A donor-ready report of a selection: one self-contained HTML file (plotly.js embedded once,
packed, so it opens offline and weighs 2 MB rather than 5) that says what it covers (organizations, period, filters, how far the
data reach) and how its figures were made (definitions, intervals, rounding and suppression),
so a figure pasted from it into a donor report carries its scope. Its Excel twin is
`impact.exports.excel_bytes` of the same tables."""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import html
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from impact import config
from impact.metrics.catalog import METRICS
from impact.present import formatting
from impact.present.texts import text

# Room for the axes' labels: Plotly never widens a margin for them by itself in a fixed layout.
CHART_MARGIN = {"l": 70, "r": 30, "b": 70}
STYLE = ("body{font-family:'Noto Sans Khmer','Khmer OS',sans-serif;max-width:1000px;margin:auto;padding:0 16px;"
         "color:#1F2A2E;line-height:1.5}td,th{padding:4px 12px;border-bottom:1px solid #ddd;text-align:left}"
         "dt{font-weight:bold;float:left;clear:left;width:12em}dd{margin-left:13em}"
         ".chart{margin:24px 0;min-height:380px}")
# Unpacks plotly.js (gzip, base64) with the browser's own DecompressionStream, then draws each
# chart from its spec. A browser too old for it still shows every figure in the table.
DRAW = """(async () => {
  const packed = Uint8Array.from(atob(document.getElementById("plotly-packed").textContent), c => c.charCodeAt(0));
  const unpacked = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  const library = document.createElement("script");
  library.textContent = await new Response(unpacked).text();
  document.head.appendChild(library);
  JSON.parse(document.getElementById("chart-specs").textContent).forEach((spec, i) =>
    Plotly.newPlot("chart-" + i, spec.data, spec.layout, {displaylogo: false, responsive: true}));
})();"""


@dataclass(frozen=True)
class ReportScope:
    """What a report covers: its organizations (none: all of them), period, other filters
    (dimension -> values), how far the data reach, and whether its figures went through
    disclosure control (a donor's) or are exact (staff's)."""
    organizations: tuple[str, ...]
    start: dt.date | None
    end: dt.date
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    data_reaches: dt.date | None = None
    protected: bool = False


def report_html(title: str, scope: ReportScope, figures: list, table: pd.DataFrame, lang: str = "en",
                made: dt.date | None = None) -> str:
    """`figures` are Plotly figures; `table` a metric table (exact for staff, protected for a
    donor: its `display` column is used when present)."""
    rows = []
    for record in table.to_dict("records"):
        shown = record.get("display") or formatting.metric_value(record["metric"], record["value"])
        rows.append(f"<tr><td>{_e(formatting.metric_label(record['metric'], lang))}</td><td>{_e(shown)}</td></tr>")
    keys = list(dict.fromkeys(table["metric"]))
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{STYLE}</style></head><body>"
            f"<h1>{_e(title)}</h1>{_scope(scope, lang, made or dt.date.today())}"
            f"<h2>{_e(text('report_figures', lang))}</h2><table>{''.join(rows)}</table>{_charts(figures)}"
            f"{_methods(keys, scope.protected, lang)}</body></html>")


def _e(value) -> str:
    return html.escape(str(value))


@lru_cache(maxsize=1)
def packed_plotly() -> str:
    """plotly.js gzipped and base64-encoded (made once a process: it takes a second)."""
    return base64.b64encode(gzip.compress(get_plotlyjs().encode(), 9)).decode()


def _charts(figures: list) -> str:
    """A place for every figure, their specs, plotly.js once and what draws them."""
    if not figures:
        return ""
    specs = ("[" + ",".join(_roomy(fig).to_json() for fig in figures) + "]").replace("</", "<\\/")  # stays in its script
    places = "".join(f"<div class='chart' id='chart-{i}'></div>" for i in range(len(figures)))
    return (f"{places}<script type='application/octet-stream' id='plotly-packed'>{packed_plotly()}</script>"
            f"<script type='application/json' id='chart-specs'>{specs}</script>"
            f"<script>{DRAW}</script>")


def _roomy(fig: go.Figure) -> go.Figure:
    """A copy of a dashboard figure with room for every axis label (the dashboard's cards keep
    tight margins), at a height a printed page holds."""
    fig = go.Figure(fig)
    fig.update_layout(margin=CHART_MARGIN, height=380)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _scope(scope: ReportScope, lang: str, made: dt.date) -> str:
    organizations = ", ".join(scope.organizations) or text("report_all_organizations", lang)
    filters = "; ".join(f"{text(d, lang, default=d)}: {', '.join(formatting.category(d, v, lang) for v in values)}"
                        for d, values in scope.filters.items() if values) or text("report_no_filter", lang)
    lines = [(text("report_organizations", lang), organizations),
             (text("period", lang), formatting.period(scope.start, scope.end)),
             (text("report_selection", lang), filters),
             (text("latest_record", lang).capitalize(), formatting.day(scope.data_reaches)),
             (text("report_made", lang), formatting.day(made))]
    return "<dl>" + "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in lines) + "</dl>"


def _methods(keys: list[str], protected: bool, lang: str) -> str:
    """Definitions of the report's metrics and how its figures were made and protected."""
    definitions = "".join(f"<dt>{_e(formatting.metric_label(k, lang))}</dt><dd>{_e(METRICS[k].description)}</dd>"
                          for k in keys if k in METRICS)
    protection = text("report_protected" if protected else "report_exact", lang).format(
        threshold=config.suppression_threshold(), rounding=config.rounding())
    notes = [protection, text("report_intervals", lang), text("report_not_reported", lang)]
    return (f"<h2>{_e(text('report_methods', lang))}</h2>" + "".join(f"<p>{_e(n)}</p>" for n in notes)
            + f"<h3>{_e(text('report_definitions', lang))}</h3><dl>{definitions}</dl>")
