"""Drawing helpers of the pages: the chart card (definition, downloads, click to filter),
headline figures and the empty state. Nothing here computes; the numbers
come from `impact/` through `app.session`.
"""
from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from impact.present import charts, formatting
from impact.metrics.catalog import METRICS, Kind
from impact.exports import csv_bytes, excel_bytes
from impact.present.texts import text
from impact.view import FILTER_PARAMS

from app import session


def chart_card(fig, table: pd.DataFrame, key: str, lang: str, name: str, dimension: str | None = None,
               definition: str | None = None) -> None:
    """A chart with its definition a click away (the catalog's, or `definition` for a chart that
    is not one metric), its aggregated table downloadable, and (for a breakdown by a filter
    dimension) a click on a bar narrowing the whole view to it."""
    event = st.plotly_chart(fig, key=f"chart_{name}", on_select="rerun" if dimension else "ignore",
                            selection_mode=("points",), config={"displaylogo": False})
    if dimension and event and event.selection and event.selection.points:
        set_filter(dimension, str(event.selection.points[0].get("x")))
    definition_and_downloads(table, name, lang, definition or f"**{formatting.metric_label(key, lang)}**: "
                                                              f"{METRICS[key].description}")


def definition_and_downloads(table: pd.DataFrame, name: str, lang: str, definition: str) -> None:
    """Under a chart: its definition a click away and its aggregated table downloadable."""
    with st.container(horizontal=True):     # buttons as wide as their words, wrapping if need be
        with st.popover(text("definition", lang)):
            st.markdown(definition)
        download_buttons(table, name, lang)


def province_map(table: pd.DataFrame, key: str, lang: str, also: tuple[str, ...] = ()) -> None:
    """The map of Cambodia coloured by a metric broken down by province (`table`, exact or
    protected), with its definition and downloads; a click on a province narrows the view to
    its sites. The filter is set in the click's callback, which runs before the sidebar's
    widgets exist (a widget's value cannot be changed once it is drawn)."""
    title = by_title(formatting.metric_question(key, lang), "by_province", lang)
    withheld = "suppressed" in table and table["suppressed"].any()    # a donor's grey map still says why
    if not has_values(table, key) and not withheld:
        empty(title, lang)
        return
    name = f"{key}_by_province"
    st.plotly_chart(charts.province_map(table, key, lang, title, also), key=f"map_{name}",
                    on_select=partial(_filter_by_province, f"map_{name}"), selection_mode=("points",),
                    config=charts.MAP_CONFIG)
    definition_and_downloads(table, name, lang, definition(key, *also, lang=lang)
                             + f"\n\n{text('map_attribution', lang)}")


def _filter_by_province(chart: str) -> None:
    points = st.session_state[chart].selection.points
    province = points[0].get("customdata") if points else None
    if province:
        st.session_state["f_site"] = session.prepared().sites_in(province)


def card(fig, table: pd.DataFrame, name: str, lang: str, definition: str, dimension: str | None = None) -> None:
    """`chart_card` for a chart whose definition is not one catalog metric's."""
    chart_card(fig, table, None, lang, name, dimension, definition=definition)


def download_buttons(table: pd.DataFrame, name: str, lang: str) -> None:
    """CSV and Excel of an aggregated table, built only when clicked (formulas escaped); a
    click downloads without rerunning the page."""
    st.download_button(text("download_csv", lang), partial(csv_bytes, table), f"{name}.csv", "text/csv",
                       key=f"csv_{name}", on_click="ignore")
    st.download_button(text("download_excel", lang), partial(excel_bytes, {name: table}), f"{name}.xlsx",
                       key=f"xlsx_{name}", on_click="ignore")


def set_filter(dimension: str, value: str) -> None:
    """Narrow the view to one value of a dimension (a click on a bar) and rerun."""
    if dimension in FILTER_PARAMS.values():
        st.session_state[f"f_{dimension}"] = [value]
        st.rerun()


def no_data(lang: str) -> None:
    st.info(text("no_data", lang))


def has_values(table: pd.DataFrame, key: str | None = None) -> bool:
    rows = table if key is None else table[table["metric"] == key]
    return bool(len(rows)) and rows["value"].notna().any()


def definition(*keys: str, lang: str = "en") -> str:
    """The catalog's definitions of some metrics, one paragraph each."""
    return "\n\n".join(f"**{formatting.metric_label(k, lang)}**: {METRICS[k].description}" for k in keys)


def empty(title: str, lang: str) -> None:
    st.subheader(title)
    no_data(lang)


def ready(table: pd.DataFrame | None, title: str, lang: str) -> bool:
    """Whether a breakdown has something to draw; if not, its title and why: no data, or (None)
    shown to staff only."""
    if table is not None and len(table):
        return True
    st.subheader(title)
    if table is None:
        st.info(text("staff_only", lang), icon="🔒")
    else:
        no_data(lang)
    return False


def figure(table: pd.DataFrame | None, shown) -> str:
    """A headline figure of a breakdown: `shown(table)`, "–" when it is empty, 🔒 for a donor."""
    return "🔒" if table is None else (shown(table) if len(table) else "–")


def kpi(column, key: str, table: pd.DataFrame, lang: str, currency: str = "USD") -> None:
    """A headline figure of a metric table (one row per metric), a rate with its n; for a donor
    a withheld figure says why ("fewer than 10")."""
    row = table.set_index("metric").loc[key]
    withheld = bool(row.get("suppressed", False))
    column.metric(formatting.metric_label(key, lang), row["display"] if withheld else
                  formatting.metric_value(key, row["value"], currency), help=METRICS[key].description, border=True)
    if METRICS[key].kind == Kind.RATE and row["value"] == row["value"]:
        column.caption(text("n_of", lang).format(num=formatting.count(row["numerator"]),
                                                 den=formatting.count(row["denominator"])))


def by_title(question: str, key: str, lang: str) -> str:
    """A chart's question with its breakdown: "How many ...? (by site)"."""
    return f"{question} ({text(key, lang)})"
