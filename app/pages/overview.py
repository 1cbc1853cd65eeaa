"""Overview: the headline numbers with their change and progress to target, the funnel from
first contact to a sustained exit, and monthly or quarterly trends."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from impact.present import charts

from impact.present import formatting
from impact.metrics.catalog import METRICS
from impact.metrics.funnel import funnel_steps
from impact.metrics.engine import Selection
from impact.exports import excel_bytes
from impact.present.donor_report import ReportScope, report_html
from impact.metrics.targets import target_progress, tile_targets
from impact.present.texts import text
from impact.view import previous_period
from app import cards, session
from app.session import HEADLINE, OVERVIEW_KEYS, TREND_GRAINS, TRENDS

view, selection, lang = session.frame()
today = session.today()

overview = session.metrics(selection, keys=OVERVIEW_KEYS)     # the tiles and the funnel: the same rows
current = overview[overview["metric"].isin(HEADLINE)]
previous = None
if selection.start and session.exact_figures():   # a donor compares no overlapping periods
    start, end = previous_period(selection.start, selection.end)
    previous = session.metrics(Selection(start, end, selection.filters), keys=HEADLINE).set_index("metric")
columns = st.columns(3) + st.columns(3)   # three a row: labels stay whole
for column, key in zip(columns, HEADLINE):
    cards.kpi(column, key, current, lang)
    value = current.set_index("metric").at[key, "value"]
    if previous is not None and value == value and previous.at[key, "value"] == previous.at[key, "value"]:
        shown = formatting.change(METRICS[key].kind, value - previous.at[key, "value"])
        column.caption(f"{shown} {text('change_since', lang)}")

# Progress to target goes under the tiles once computed: every target's actual takes a while
# with a cold cache (a cold start, a new upload), and the headline numbers should not wait.
# Only a target of the tile's own scope and period (its actual is the tile's figure).
progress = session.staff(target_progress, today=today)
targets = None if progress is None else tile_targets(progress, selection, today, session.options("organization"))
for column, key in zip(columns, HEADLINE) if targets is not None else ():
    for row in targets[(targets["indicator"] == key) & targets["percent_achieved"].notna()].itertuples():
        column.progress(min(float(row.percent_achieved), 1.0), text=text("tile_target", lang).format(
            percent=f"{row.percent_achieved:.0%}", target=row.target_display,
            period=formatting.period(row.period_start, row.period_end)))

steps = funnel_steps(overview)
if steps["count"].fillna(0).gt(0).any() or steps.get("suppressed", pd.Series(False)).any():
    st.plotly_chart(cards.chart(charts.funnel, steps, lang), key="funnel", config={"displaylogo": False})
    st.caption(text("funnel_caption", lang))
else:
    cards.empty(text("funnel_title", lang), lang, overview)

# Where the women registered come from, by province; a click narrows the view to its sites.
cards.province_map(session.metrics(selection, by=("province",), keys=HEADLINE[:1]), HEADLINE[0], lang)

# A segmented control, as on the other pages: a keyed st.radio shows no option selected once
# the language (its format_func) changes, though it keeps its value.
grain = st.segmented_control(text("by_period", lang), TREND_GRAINS, default=TREND_GRAINS[0], required=True,
                             key="overview_grain", format_func=lambda g: text(g, lang))
latest = {key: session.data_reaches(session.visitor(), selection, METRICS[key].fact) for key in TRENDS}
trends = session.metrics(selection, by=(grain,), keys=TRENDS)
figures = []     # drawn once: the cards show them, the donor-ready report embeds them
for column, key in zip(st.columns(2) * 2, TRENDS):
    with column:
        if cards.has_values(trends, key):
            figures.append(cards.chart(charts.trend, trends, key, lang, grain=grain, through=latest[key]))
            cards.chart_card(figures[-1], trends[trends["metric"] == key], key, lang, f"trend_{key}")
        else:
            cards.empty(formatting.metric_question(key, lang), lang, trends[trends["metric"] == key])

# The donor-ready report of this selection: the same (for a donor, protected) tables and charts,
# with what they cover and how they were made.
scope = ReportScope(tuple(selection.filters.get("organization", ())), selection.start, selection.end,
                    {d: v for d, v in selection.filters.items() if d != "organization"},
                    session.data_reaches(session.visitor(), selection), protected=not session.exact_figures())
with st.container(horizontal=True):
    st.download_button(text("report_html", lang),
                       cards.served(lambda: report_html(text("app_title", lang), scope, figures, current, lang,
                                                        made=today)),
                       "impact_report.html", "text/html", key="report_html", type="primary", on_click="ignore")
    st.download_button(text("report_excel", lang), cards.served(lambda: excel_bytes({"kpis": current, "trends": trends})),
                       "impact_report.xlsx", key="report_excel", on_click="ignore")
