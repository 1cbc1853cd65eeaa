"""Targets: every target of the view with its actual, percent achieved and status, as a table
a director can paste into a donor report or download. A donor sees what was promised only
(`impact.access.protection.promised_targets`)."""
from __future__ import annotations

import streamlit as st

from impact.access.protection import promised_targets
from impact.metrics.target_report import STATUS_MARKS, target_report
from impact.metrics.targets import target_progress, targets_in_view
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()

progress = session.computed(target_progress, today=session.today())   # actuals are exact figures
if not session.exact_figures():
    progress = promised_targets(progress)
progress = targets_in_view(progress, selection)
if not cards.ready(progress, text("targets_title", lang), lang):
    st.stop()

if "status" in progress:
    for column, status in zip(st.columns(4), STATUS_MARKS):
        column.metric(f"{STATUS_MARKS[status]} {text('status_' + status.replace(' ', '_'), lang)}",
                      f"{(progress['status'] == status).sum():,}", border=True)

report = target_report(progress, lang)
st.subheader(text("targets_title", lang))
st.caption(text("targets_caption" if "status" in progress else "targets_donor_caption", lang))
percent = text("percent_achieved", lang)
# Widths in pixels, so a site's name, a header and the bar stay whole beside one another.
widths = {"indicator": 200, "status": 105, "organization": 100, "program": 70, "site": 125, "from": 88, "to": 88,
          "target": 70, "actual": 130}
st.dataframe(report, hide_index=True, height=36 * (len(report) + 1) + 2, column_config={
    **{text(c, lang): st.column_config.TextColumn(text(c, lang), width=w) for c, w in widths.items()},
    percent: st.column_config.ProgressColumn(percent, format="%.0f%%", min_value=0, max_value=100, width=110),
    text("status", lang): st.column_config.TextColumn(text("status", lang), help=text("def_status", lang),
                                                      width=widths["status"])})

with st.container(horizontal=True):
    cards.download_buttons(report, "targets", lang)
