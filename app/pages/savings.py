"""Savings groups: how many members save and how much, by group type and group, and total
savings over time, in dollars or riel."""
from __future__ import annotations

import streamlit as st

from impact.present import charts

from impact import config

from impact.present import formatting
from impact.present.formatting import in_currency
from impact.metrics.savings_groups import group_metrics, savings_by_group
from impact.present.texts import text
from app import cards, session

view, selection, lang = session.frame()
KEYS = ("savings_rate", "savings_per_member")
currency = st.segmented_control(text("currency", lang), ("USD", "KHR"), default="USD", required=True,
                                key="currency", format_func=lambda c: "USD ($)" if c == "USD" else "KHR (៛)")
today = session.today()

totals = in_currency(session.metrics(selection, keys=KEYS), currency)
for column, key in zip(st.columns(2), KEYS):
    cards.kpi(column, key, totals, lang, currency)

cards.province_map(session.metrics(selection, by=("province",), keys=KEYS[:1]), KEYS[0], lang)

by_type = in_currency(session.metrics(selection, by=("group_type",), keys=KEYS), currency)
groups = session.staff(savings_by_group, selection, currency=currency, today=today)
by_group = None if groups is None else group_metrics(groups)
for key in KEYS:
    left, right = st.columns(2)
    for column, table, by, color in ((left, by_type, "group_type", None), (right, by_group, "group", "group_type")):
        with column:
            title = cards.by_title(formatting.metric_question(key, lang), f"by_{by}", lang)
            rows = None if table is None else table[(table["metric"] == key) & table["value"].notna()]
            if cards.ready(rows, title, lang):
                fig = cards.chart(charts.bars, rows, key, by, lang, color=color, title=title, currency=currency)
                cards.chart_card(fig, rows, key, lang, f"{key}_by_{by}")

# Savings over time: the savings_per_member numerator (net savings) and denominator (members) by
# month; months after the ledger's latest row are not reported yet, so the line stops there.
# A donor sees no money totals (with a per-member amount they give the member count back).
growth = None
if session.exact_figures():
    growth = in_currency(session.metrics(selection, by=("month", "group_type"), keys=("savings_per_member",)),
                         currency)
    growth = growth[growth["numerator"].notna()].rename(columns={"numerator": "net_savings", "denominator": "members"})
title = text("cumulative_title", lang)
if cards.ready(growth, title, lang):
    fig = cards.chart(charts.lines, growth, "period_end", "net_savings", title, color="group_type", is_money=True, grain="month",
                       currency=currency, hover={"members": text("members", lang)}, y_title=text("net_savings", lang))
    definition = text("def_cumulative", lang).format(rate=f"{config.khr_per_usd():,.0f}")
    cards.card(fig, growth, "cumulative_savings", lang, definition)
