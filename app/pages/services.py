"""Services: referrals by type and status, how many were completed, and the money given as
business loans and cash support."""
from __future__ import annotations

import streamlit as st

from impact.present import charts

from impact.present import formatting
from impact.metrics.engine import as_metric_rows
from impact.metrics.service_types import FUNDING_TYPES, services_by_type
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
KEY = "referral_completion_rate"

totals = session.metrics(selection, keys=(KEY,))
types = session.staff(services_by_type, selection, today=session.today())
money = None if types is None else types[types["service_type"].isin(FUNDING_TYPES) & (types["amount_count"] > 0)]
first, second, third = st.columns(3)
first.metric(text("referrals", lang), cards.figure(types, lambda t: f"{t['referrals'].sum():,}"), border=True,
             help=text("def_referrals", lang))
cards.kpi(second, KEY, totals, lang)
third.metric(text("funding_given", lang), cards.figure(money, lambda t: formatting.money(t["amount_total"].sum())),
             border=True, help=text("def_amounts", lang))

cards.province_map(session.metrics(selection, by=("province",), keys=(KEY,)), KEY, lang)

names = {} if types is None else formatting.categories("service_type", types["service_type"], lang)
title = cards.by_title(text("referrals_title", lang), "by_service_type", lang)
if cards.ready(types, title, lang):
    statuses = formatting.categories("service_status", ("completed", "pending", "declined"), lang)
    fig = cards.chart(charts.counts, types, "service_type", statuses, title, labels=names, stacked=True,
                        hover={"referrals": text("referrals", lang)}, x_title=text("service_type", lang))
    cards.card(fig, types, "referrals_by_type_and_status", lang, text("def_referrals", lang))

left, right = st.columns(2)
with left:
    rates = None if types is None else as_metric_rows(types, KEY, "service_type", "numerator",
                                                                  "denominator").dropna(subset=["value"])
    title = cards.by_title(formatting.metric_question(KEY, lang), "by_service_type", lang)
    if cards.ready(rates, title, lang):
        cards.chart_card(cards.chart(charts.bars, rates, KEY, "service_type", lang, title=title, labels=names), rates, KEY, lang,
                         f"{KEY}_by_service_type")
with right:
    by_site = session.metrics(selection, by=("site",), keys=(KEY,))
    title = cards.by_title(formatting.metric_question(KEY, lang), "by_site", lang)
    if cards.has_values(by_site):
        cards.chart_card(cards.chart(charts.bars, by_site, KEY, "site", lang, title=title), by_site, KEY, lang, f"{KEY}_by_site",
                         dimension="site")
    else:
        cards.empty(title, lang, by_site)

title = text("amounts_title", lang)
if cards.ready(money, title, lang):
    fig = cards.chart(charts.counts, money, "service_type", {"amount_total": text("amount_total", lang)}, title, labels=names,
                        hover={c: text(c, lang) for c in ("amount_count", "amount_median")},
                        money_columns=("amount_total", "amount_median"), x_title=text("service_type", lang))
    cards.card(fig, money[["service_type", "amount_count", "amount_total", "amount_median"]], "funding_by_type", lang,
               text("def_amounts", lang))
