"""Outreach & awareness: activities, people reached and new contacts by activity type, site
and month, and where the registered women came from."""
from __future__ import annotations

import streamlit as st

from impact.present import charts

from impact.present import formatting
from impact.metrics.activities import activity_filters_left_out, activity_summary
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
COUNTS = {"people_reached": formatting.metric_label("people_reached", lang),
          "new_contacts": formatting.metric_label("new_contacts", lang), "activities": text("activities", lang)}
QUESTIONS = {"activities": text("activities_question", lang),
             "people_reached": formatting.metric_question("people_reached", lang),
             "new_contacts": formatting.metric_question("new_contacts", lang)}
DEFINITIONS = {"activities": text("def_activities", lang),
               "people_reached": cards.definition("people_reached", lang=lang),
               "new_contacts": cards.definition("new_contacts", lang=lang)}

left_out = activity_filters_left_out(selection)
if left_out:   # activities have no participant: say so rather than show all sites' figures as one program's
    st.info(f"{text('activities_cannot_filter', lang)} {', '.join(text(d, lang) for d in left_out)}.")
    places = {"referrals": st.container()}
else:
    totals = session.metrics(selection, keys=("people_reached", "new_contacts"))
    first, second, third = st.columns(3)
    cards.kpi(first, "people_reached", totals, lang)
    cards.kpi(second, "new_contacts", totals, lang)
    held = session.staff(activity_summary, selection, today=session.today())
    third.metric(COUNTS["activities"], cards.figure(held, lambda t: f"{t['activities'].iloc[0]:,.0f}"), border=True,
                 help=DEFINITIONS["activities"])
    cards.province_map(session.metrics(selection, by=("province",), keys=("people_reached",)), "people_reached", lang)
    by = st.segmented_control(text("breakdown", lang), ("activity_type", "site", "month"), default="activity_type",
                              required=True, key="outreach_by", format_func=lambda d: text(d, lang))
    places = dict(zip(("people_reached", "new_contacts", "activities", "referrals"), st.columns(2) + st.columns(2)))
    table = session.staff(activity_summary, selection, by=by, today=session.today())
    x = "period_start" if by == "month" else by
    names = formatting.categories("activity_type", table[x], lang) if by == "activity_type" and table is not None else None
    for key, label in COUNTS.items():
        with places[key]:
            title = cards.by_title(QUESTIONS[key], f"by_{by}", lang)
            if cards.ready(table, title, lang):
                fig = cards.chart(charts.counts, table, x, {key: label}, title, labels=names,
                                    hover={k: v for k, v in COUNTS.items() if k != key})
                cards.card(fig, table, f"{key}_by_{by}", lang, DEFINITIONS[key],
                           dimension="site" if by == "site" else None)

with places["referrals"]:   # registrations are women, not activities: every filter applies
    registrations = session.metrics(selection, by=("referral_source",), keys=("participants_registered",))
    title = text("referral_question", lang)
    if cards.has_values(registrations):
        fig = cards.chart(charts.bars, registrations, "participants_registered", "referral_source", lang, title=title,
                          labels=formatting.categories("referral_source", registrations["referral_source"], lang))
        cards.chart_card(fig, registrations, "participants_registered", lang, "registrations_by_referral_source",
                         dimension="referral_source")
    else:
        cards.empty(title, lang, registrations)
