"""Justice & protection: the pathway from cases reported to perpetrators convicted, convictions
over time, how long a verdict takes (censored: cases still waiting count until today), who
recruited the survivors, and the police and gatekeepers trained."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from impact.metrics.engine import filters_left_out
from impact.metrics.justice import case_pathway, time_to_verdict, verdict_life_table
from impact.present import charts, formatting
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
KEYS = ("cases_reported", "survivors_rescued", "charge_rate", "perpetrators_convicted", "known_recruiter_rate",
        "days_to_verdict")
GRAINS = ("quarter", "year", "month")
today = session.today()

left_out = filters_left_out(selection, KEYS)
if left_out:
    st.info(text("filters_not_applied", lang).format(names=", ".join(text(d, lang) for d in left_out)))
totals = session.metrics(selection, keys=KEYS)
for column, key in zip(st.columns(3) + st.columns(3), KEYS):
    cards.kpi(column, key, totals, lang)

left, right = st.columns(2)
with left:   # every step a protected count for a donor
    steps = session.protected_rows(case_pathway, "step", selection, today=today)
    title = text("pathway_title", lang)
    if steps["value"].iloc[0] > 0:
        cards.card(cards.chart(charts.case_pathway, steps, title, lang), steps, "case_pathway", lang, text("def_pathway", lang))
    elif "suppressed" in steps and steps["suppressed"].any():   # for a donor, hidden is not "no data"
        st.subheader(title)
        st.info(text("withheld_small", lang))
    else:
        cards.empty(title, lang)
with right:
    grain = st.segmented_control(text("by_period", lang), GRAINS, default=GRAINS[0], required=True,
                                 key="justice_grain", format_func=lambda g: text(g, lang))
    convictions = session.metrics(selection, by=(grain,), keys=("perpetrators_convicted",))
    if cards.has_values(convictions):
        fig = cards.chart(charts.trend, convictions, "perpetrators_convicted", lang, grain=grain,
                          through=session.data_reaches(session.visitor(), selection, "verdicts"))
        cards.chart_card(fig, convictions, "perpetrators_convicted", lang, f"perpetrators_convicted_by_{grain}")
    else:
        cards.empty(formatting.metric_question("perpetrators_convicted", lang), lang)

# Time to verdict: the Kaplan-Meier curve for staff; a donor, the life table of protected counts.
title = text("time_to_verdict_title", lang)
curve, summary = session.staff(time_to_verdict, selection, today=today) or (None, None)
if curve is not None and len(curve):
    cards.card(cards.chart(charts.survival, curve, summary, title, lang, share="share_waiting", at_risk="still_waiting",
                           days_since="days_since_report"), curve, "time_to_verdict", lang,
               text("def_time_to_verdict", lang))
    median = "verdict_median_summary" if summary["median_days"] is not None else "verdict_median_not_reached"
    st.caption(text(median, lang).format(days=summary["median_days"], low=summary["median_ci_low"] or "…",
                                         high=summary["median_ci_high"] or "…", n=summary["n"],
                                         verdicts=summary["verdicts"], censored=summary["censored"]))
elif curve is None:
    cards.life_table_card(session.protected_rows(verdict_life_table, "interval", selection, today=today), title,
                          "time_to_verdict", lang, text("def_time_to_verdict", lang), share="share_waiting",
                          at_risk="still_waiting", event="event_verdict", days_since="days_since_report")
else:
    cards.empty(title, lang)

left, right = st.columns(2)
with left:
    recruiters = session.metrics(selection, by=("recruiter_relation",), keys=("cases_reported",))
    title = cards.by_title(text("recruiter_title", lang), "by_recruiter_relation", lang)
    if cards.has_values(recruiters):
        fig = cards.chart(charts.bars, recruiters, "cases_reported", "recruiter_relation", lang, title=title,
                          labels=formatting.categories("recruiter_relation", recruiters["recruiter_relation"], lang))
        cards.chart_card(fig, recruiters, "cases_reported", lang, "cases_by_recruiter_relation")
    else:
        cards.empty(title, lang)
with right:
    by_site = session.metrics(selection, by=("site", "case_type"), keys=("cases_reported",))
    title = cards.by_title(formatting.metric_question("cases_reported", lang), "by_site", lang)
    if cards.has_values(by_site):
        fig = cards.chart(charts.bars, by_site.assign(case_type=by_site["case_type"].map(
            formatting.categories("case_type", by_site["case_type"], lang))), "cases_reported", "site", lang,
            color="case_type", title=title)
        cards.chart_card(fig, by_site, "cases_reported", lang, "cases_by_site_and_type", dimension="site")
    else:
        cards.empty(title, lang)

left, right = st.columns(2)
with left:   # trainings of police and gatekeepers, from the activity log
    trainings = replace(selection, filters={**selection.filters,
                                            "activity_type": ("police_training", "training_of_gatekeepers")})
    trained = session.metrics(trainings, by=("activity_type",), keys=("people_reached",))
    title = text("trained_officials_title", lang)
    if cards.has_values(trained):
        fig = cards.chart(charts.bars, trained, "people_reached", "activity_type", lang, title=title,
                          labels=formatting.categories("activity_type", trained["activity_type"], lang))
        cards.card(fig, trained, "police_and_gatekeepers_trained", lang, text("def_trained_officials", lang))
    else:
        cards.empty(title, lang)
with right:  # the networks' gatekeepers, trained or not
    gatekeepers = replace(selection, filters={**selection.filters, "role": ("gatekeeper",)})
    trained = session.metrics(gatekeepers, by=("training",), keys=("network_members",))
    title = text("gatekeepers_trained_title", lang)
    if cards.has_values(trained):
        fig = cards.chart(charts.bars, trained, "network_members", "training", lang, title=title,
                          labels=formatting.categories("training", trained["training"], lang))
        cards.card(fig, trained, "gatekeepers_trained", lang, text("def_trained_officials", lang))
    else:
        cards.empty(title, lang)
