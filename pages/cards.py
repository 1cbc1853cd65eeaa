"""Drawing helpers of the topic pages (outreach, training, livelihoods, savings, services,
targets), next to `pages.shared`: a chart card for charts that are not one catalog metric
(their definition given as text), headline figures, category labels, and the empty state.
Nothing here computes; the numbers come from `impact/`.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from impact import present
from impact.catalog import METRICS, Kind
from impact.texts import text
from pages import shared


def card(fig, table: pd.DataFrame, name: str, lang: str, definition: str, dimension: str | None = None) -> None:
    """`shared.chart_card` for a chart whose definition is not one catalog metric's."""
    shared.chart_card(fig, table, None, lang, name, dimension, definition=definition)


def definition(*keys: str, lang: str = "en") -> str:
    """The catalog's definitions of some metrics, one paragraph each."""
    return "\n\n".join(f"**{present.metric_label(k, lang)}**: {METRICS[k].description}" for k in keys)


def empty(title: str, lang: str) -> None:
    st.subheader(title)
    shared.no_data(lang)


def staff(breakdown, *args, **kwargs):
    """A breakdown made outside the metric engine (activities, statuses, cohorts, savings groups,
    targets), or None in a donor session: a donor sees only figures that went through
    disclosure control (`shared.metrics`), and these have not."""
    return None if shared.donor() else shared.cached(breakdown, *args, **kwargs)


def ready(table: pd.DataFrame | None, title: str, lang: str) -> bool:
    """Whether a breakdown has something to draw; if not, its title and why: no data, or (None)
    shown to staff only."""
    if table is not None and len(table):
        return True
    st.subheader(title)
    if table is None:
        st.info(text("staff_only", lang), icon="🔒")
    else:
        shared.no_data(lang)
    return False


def figure(table: pd.DataFrame | None, shown) -> str:
    """A headline figure of a breakdown: `shown(table)`, "–" when it is empty, 🔒 for a donor."""
    return "🔒" if table is None else (shown(table) if len(table) else "–")


def kpi(column, key: str, table: pd.DataFrame, lang: str, currency: str = "USD") -> None:
    """A headline figure of a metric table (one row per metric), a rate with its n; for a donor
    a withheld figure says why ("fewer than 10")."""
    row = table.set_index("metric").loc[key]
    withheld = bool(row.get("suppressed", False))
    column.metric(present.metric_label(key, lang), row["display"] if withheld else
                  present.metric_value(key, row["value"], currency), help=METRICS[key].description, border=True)
    if METRICS[key].kind == Kind.RATE and row["value"] == row["value"]:
        column.caption(text("n_of", lang).format(num=present.count(row["numerator"]),
                                                 den=present.count(row["denominator"])))


def by_title(question: str, key: str, lang: str) -> str:
    """A chart's question with its breakdown: "How many ...? (by site)"."""
    return f"{question} ({text(key, lang)})"
