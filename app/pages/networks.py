"""Networks: community, peer-educator and gatekeeper networks, their members and groups over
time by role, how many were trained, what the networks referred and what came of it, and who
attended the awareness courses."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from impact.contract.tables import NETWORK_REFERRERS
from impact.metrics.activities import activity_summary
from impact.metrics.engine import filters_left_out
from impact.present import charts, formatting
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
KEYS = ("network_members", "network_groups", "network_referrals", "referral_completion_rate")
GRAINS = ("quarter", "month", "year")
today = session.today()

left_out = filters_left_out(selection, KEYS[:2])
if left_out:
    st.info(text("filters_not_applied", lang).format(names=", ".join(text(d, lang) for d in left_out)))
totals = session.metrics(selection, keys=KEYS[:3])
# Completion of the networks' own referrals (the chart below compares every referrer).
by_networks = replace(selection, filters={**selection.filters, "referred_by": NETWORK_REFERRERS})
completion = session.metrics(by_networks, keys=KEYS[3:])
for column, key in zip(st.columns(4), KEYS):
    cards.kpi(column, key, completion if key in KEYS[3:] else totals, lang)

grain = st.segmented_control(text("by_period", lang), GRAINS, default=GRAINS[0], required=True, key="networks_grain",
                             format_func=lambda g: text(g, lang))
left, right = st.columns(2)
with left:   # members over time, one line per role
    members = session.metrics(selection, by=("role", grain), keys=("network_members",))
    if cards.has_values(members):
        roles = formatting.categories("role", members["role"], lang)
        fig = cards.chart(charts.trend, members.assign(role=members["role"].map(roles)), "network_members", lang, color="role",
                          grain=grain, through=session.data_reaches(session.visitor(), selection, "network_members"))
        cards.chart_card(fig, members, "network_members", lang, f"network_members_by_role_and_{grain}")
    else:
        cards.empty(cards.by_title(formatting.metric_question("network_members", lang), "by_role", lang), lang)
with right:
    groups = session.metrics(selection, by=(grain,), keys=("network_groups",))
    if cards.has_values(groups):
        fig = cards.chart(charts.trend, groups, "network_groups", lang, grain=grain,
                          through=session.data_reaches(session.visitor(), selection, "network_groups"))
        cards.chart_card(fig, groups, "network_groups", lang, f"network_groups_by_{grain}")
    else:
        cards.empty(formatting.metric_question("network_groups", lang), lang)

left, right = st.columns(2)
with left:   # trained share, by role
    trained = session.metrics(selection, by=("role", "training"), keys=("network_members",))
    title = cards.by_title(text("networks_trained_title", lang), "by_role", lang)
    if cards.has_values(trained):
        fig = cards.chart(charts.bars, trained.assign(training=trained["training"].map(
            formatting.categories("training", trained["training"], lang))), "network_members", "role", lang,
            color="training", title=title, labels=formatting.categories("role", trained["role"], lang))
        cards.card(fig, trained, "network_members_trained_by_role", lang, text("def_network_training", lang))
    else:
        cards.empty(title, lang)
with right:
    by_site = session.metrics(selection, by=("site",), keys=("network_members",))
    title = cards.by_title(formatting.metric_question("network_members", lang), "by_site", lang)
    if cards.has_values(by_site):
        cards.chart_card(cards.chart(charts.bars, by_site, "network_members", "site", lang, title=title), by_site,
                         "network_members", lang, "network_members_by_site", dimension="site")
    else:
        cards.empty(title, lang)

left, right = st.columns(2)
with left:   # what the networks referred
    referred = session.metrics(selection, by=("service_type",), keys=("network_referrals",))
    title = cards.by_title(text("network_referrals_title", lang), "by_service_type", lang)
    if cards.has_values(referred) and referred["value"].fillna(0).gt(0).any():
        fig = cards.chart(charts.bars, referred, "network_referrals", "service_type", lang, title=title,
                          labels=formatting.categories("service_type", referred["service_type"], lang))
        cards.chart_card(fig, referred, "network_referrals", lang, "network_referrals_by_service_type")
    else:
        cards.empty(title, lang)
with right:  # and what came of them
    completed = session.metrics(selection, by=("referred_by",), keys=("referral_completion_rate",))
    title = cards.by_title(formatting.metric_question("referral_completion_rate", lang), "by_referred_by", lang)
    if cards.has_values(completed):
        fig = cards.chart(charts.bars, completed, "referral_completion_rate", "referred_by", lang, title=title,
                          labels=formatting.categories("referred_by", completed["referred_by"], lang))
        cards.chart_card(fig, completed, "referral_completion_rate", lang, "referral_completion_by_referred_by")
    else:
        cards.empty(title, lang)

# Who attended the awareness courses: the audience is the field team's own words, so staff only.
courses = replace(selection, filters={**selection.filters, "activity_type": ("awareness_course",)})
audiences = session.staff(activity_summary, courses, by="audience", today=today)
title = cards.by_title(text("awareness_title", lang), "by_audience", lang)
if cards.ready(audiences, title, lang):
    fig = cards.chart(charts.counts, audiences, "audience", {"people_reached": formatting.metric_label("people_reached", lang)},
                        title, hover={"activities": text("courses", lang)}, x_title=text("audience", lang))
    cards.card(fig, audiences, "awareness_by_audience", lang, text("def_awareness", lang))
