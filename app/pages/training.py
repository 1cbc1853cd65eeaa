"""Training: enrollments ended and graduation by course and by site, progression from life
skills to vocational training, and scholarships."""
from __future__ import annotations

import streamlit as st

from impact.present import charts

from impact.present import formatting
from impact.metrics.catalog import METRICS
from impact.metrics.scholarships import scholarships
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
KEYS = ("graduation_rate", "vocational_progression")

totals = session.metrics(selection, keys=KEYS)
grants = session.staff(scholarships, selection, today=session.today())
ended = totals.set_index("metric").at["graduation_rate", "denominator"]
first, second, third, fourth = st.columns(4)
first.metric(text("enrollments_ended", lang), formatting.count(ended if ended > 0 else float("nan")), border=True,
             help=METRICS["graduation_rate"].description)
cards.kpi(second, "graduation_rate", totals, lang)
cards.kpi(third, "vocational_progression", totals, lang)
fourth.metric(text("scholarships", lang), cards.figure(grants, lambda t: f"{t['with_scholarship'].sum():,}"),
              border=True, help=text("def_scholarships", lang))

cards.province_map(session.metrics(selection, by=("province",), keys=KEYS[:1]), KEYS[0], lang)

CHARTS = (("graduation_rate", "course"), ("graduation_rate", "site"), ("vocational_progression", "site"))
for i, (key, by) in enumerate(CHARTS):
    if i % 2 == 0:
        columns = st.columns(2)
    with columns[i % 2]:
        table = session.metrics(selection, by=(by,), keys=(key,))
        title = cards.by_title(formatting.metric_question(key, lang), f"by_{by}", lang)
        if cards.has_values(table, key):
            cards.chart_card(cards.chart(charts.bars, table, key, by, lang, title=title), table, key, lang, f"{key}_by_{by}",
                             dimension=by if by == "site" else None)
        else:
            cards.empty(title, lang, table[table["metric"] == key])

with columns[1]:
    title = cards.by_title(text("scholarships_question", lang), "by_course", lang)
    if cards.ready(grants, title, lang):
        fig = cards.chart(charts.counts, grants, "course", {"with_scholarship": text("with_scholarship", lang)}, title,
                            hover={"enrollments": text("enrollments_started", lang)}, x_title=text("course", lang))
        cards.card(fig, grants, "scholarships_by_course", lang, text("def_scholarships", lang))
