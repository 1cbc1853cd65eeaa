"""Livelihoods: leaving entertainment work, always next to how many women we have news of;
the status mix over time, follow-up cohorts, time to exit, sustained exits, businesses and
income."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from impact.present import charts

from impact.present import formatting
from impact.metrics.cohorts import CELL_COUNTS, COHORT_BY, COHORT_KEYS, cohort_cells, exit_life_table, time_to_exit
from impact.metrics.statuses import STATUS_BY, STATUS_KEY, income_by_status, status_shares
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
PAIR = ("job_exit_rate", "followup_coverage")   # never one without the other
KEYS = PAIR + ("sustained_exit_6m", "business_starts")
today = session.today()

totals = session.metrics(selection, keys=KEYS)
for column, key in zip(st.columns(4), KEYS):
    cards.kpi(column, key, totals, lang)
st.caption(text("exit_coverage_caption", lang))

cards.province_map(session.metrics(selection, by=("province",), keys=PAIR), PAIR[0], lang, also=PAIR[1:])

by_site = session.metrics(selection, by=("site",), keys=KEYS)
title = cards.by_title(text("exit_coverage_title", lang), "by_site", lang)
if cards.has_values(by_site, "followup_coverage"):
    cards.card(cards.chart(charts.paired_rates, by_site, PAIR, "site", title, lang), by_site[by_site["metric"].isin(PAIR)],
               "exit_and_coverage_by_site", lang, cards.definition(*PAIR, lang=lang), dimension="site")
else:
    cards.empty(title, lang, by_site[by_site["metric"].isin(PAIR)])

mix = status_shares(session.metrics(selection, by=("quarter", STATUS_BY), keys=(STATUS_KEY,)),
                    session.metrics(selection, by=("quarter",), keys=(STATUS_KEY,)))
title = text("status_mix_title", lang)
if cards.ready(mix, title, lang):
    fig = cards.chart(charts.status_mix, mix, title, lang, formatting.categories("employment_status", mix[STATUS_BY], lang))
    cards.card(fig, mix, "status_mix_by_quarter", lang, text("def_status_mix", lang))

cohort_rows = session.metrics(selection, by=COHORT_BY, keys=COHORT_KEYS)
cohorts = cohort_cells(cohort_rows)
title = text("cohorts_title", lang)
if cards.ready(cohorts, title, lang):
    cards.card(cards.chart(charts.cohorts, cohorts, title, lang), cohorts, "followup_cohorts", lang, text("def_cohorts", lang),
               figures=cohort_rows)
    # The share out in percent with one decimal, the interval in one column, so the table fits
    # (the share lost and the women due are in the download).
    shown = cohorts.drop(columns=["ci_low", "ci_high", "suppressed", "due", "share_lost"]).assign(
        intake_quarter=[formatting.quarter(pd.Period(q).start_time) for q in cohorts["intake_quarter"]],
        share_out=cohorts["share_out"] * 100,
        interval=[formatting.interval(low, high) for low, high in zip(cohorts["ci_low"], cohorts["ci_high"])])
    if not session.exact_figures():    # a withheld count (or a sum of one) says so, not "None"
        for column in ("participants", *CELL_COUNTS):
            shown[column] = [formatting.count(v) if v == v else text("withheld_short", lang) for v in shown[column]]
    st.dataframe(shown, hide_index=True, column_config={
        **{c: text(c, lang) for c in ("intake_quarter", "milestone", "participants", "out_of_entertainment",
                                      "in_entertainment", "lost_to_followup", "not_yet_due", "interval")},
        "share_out": st.column_config.NumberColumn(text("share_out", lang), format="%.1f%%")})

# Time to exit: the Kaplan-Meier curve for staff; a donor, the life table of protected counts.
curve, summary = session.staff(time_to_exit, selection, today=today) or (None, None)
title = text("time_to_exit_title", lang)
if curve is None:
    cards.life_table_card(session.protected_rows(exit_life_table, "interval", selection, today=today), title,
                          "time_to_exit", lang, text("def_time_to_exit", lang))
elif cards.ready(curve, title, lang):
    cards.card(cards.chart(charts.survival, curve, summary, title, lang), curve, "time_to_exit", lang,
               text("def_time_to_exit", lang))
    median = text("median_summary", lang) if summary["median_days"] is not None else text("median_not_reached", lang)
    st.caption(median.format(days=summary["median_days"], low=summary["median_ci_low"] or "…",
                             high=summary["median_ci_high"] or "…", n=summary["n"], exits=summary["exits"],
                             censored=summary["censored"]))

left, right = st.columns(2)
for column, key in ((left, "sustained_exit_6m"), (right, "business_starts")):
    with column:
        title = cards.by_title(formatting.metric_question(key, lang), "by_site", lang)
        if cards.has_values(by_site, key):
            cards.chart_card(cards.chart(charts.bars, by_site, key, "site", lang, title=title), by_site[by_site["metric"] == key],
                             key, lang, f"{key}_by_site", dimension="site")
        else:
            cards.empty(title, lang, by_site[by_site["metric"] == key])

income = session.staff(income_by_status, selection, today=today)
title = text("income_title", lang)
if cards.ready(income, title, lang):
    fig = cards.chart(charts.counts, income, "employment_status", {"median_income": text("median_income", lang)}, title,
                        labels=formatting.categories("employment_status", income["employment_status"], lang),
                        money_columns=("median_income", "low_quartile", "high_quartile"),
                        hover={c: text(c, lang) for c in ("participants", "low_quartile", "high_quartile")})
    cards.card(fig, income, "income_by_status", lang, text("def_income", lang))
