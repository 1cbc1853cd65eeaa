"""Targets: every target of the view with its actual, percent achieved and status, as a table
a director can paste into a donor report or download. A donor sees what was promised only
(`impact.access.protection.promised_targets`)."""
from __future__ import annotations

import streamlit as st

from impact.access.protection import promised_targets
from impact.metrics.target_report import STATUS_MARKS, target_report
from impact.metrics.targets import target_progress, targets_in_view
from impact.present import formatting
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
if "status" in progress:
    st.caption(text("def_status", lang))
# A table that wraps its cells: ten columns never fit a grid's one-line cells side by side
# (site names, "Organization", the actual with its n and % achieved were cut), in Khmer even less.
percent = text("percent_achieved", lang)
shown = report if percent not in report else report.assign(**{percent: report[percent].map(formatting.achieved)})
st.table(shown, hide_index=True)

with st.container(horizontal=True):
    cards.download_buttons(report, "targets", lang)
