"""Targets: every target of the view with its actual, percent achieved and status, as a table
a director can paste into a donor report or download."""
from __future__ import annotations

import streamlit as st

from impact.metrics.target_report import STATUS_MARKS, target_report
from impact.metrics.targets import target_progress, targets_in_view
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()

progress = session.staff(target_progress, today=session.today())   # actuals are exact figures
progress = None if progress is None else targets_in_view(progress, selection)
if not cards.ready(progress, text("targets_title", lang), lang):
    st.stop()

for column, status in zip(st.columns(4), STATUS_MARKS):
    column.metric(f"{STATUS_MARKS[status]} {text('status_' + status.replace(' ', '_'), lang)}",
                  f"{(progress['status'] == status).sum():,}", border=True)

report = target_report(progress, lang)
st.subheader(text("targets_title", lang))
st.caption(text("targets_caption", lang))
percent = text("percent_achieved", lang)
narrow = {text(c, lang): st.column_config.TextColumn(width="small")
          for c in ("organization", "program", "from", "to", "target")}   # dates and codes: room for the rest
st.dataframe(report, hide_index=True, height=36 * (len(report) + 1) + 2, column_config={
    **narrow,
    percent: st.column_config.ProgressColumn(percent, format="%.0f%%", min_value=0, max_value=100),
    text("status", lang): st.column_config.TextColumn(text("status", lang), help=text("def_status", lang))})

with st.container(horizontal=True):
    cards.download_buttons(report, "targets", lang)
