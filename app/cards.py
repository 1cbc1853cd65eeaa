"""Drawing helpers of the pages: the chart card (definition, downloads, click to filter),
headline figures and the empty state. Nothing here computes; the numbers
come from `impact/` through `app.session`.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from functools import partial

import pandas as pd
import streamlit as st

from impact import disclosure
from impact.metrics.engine import NOT_REPORTED
from impact.metrics.survival import share_after
from impact.present import charts, formatting
from impact.metrics.catalog import METRICS, Kind
from impact.exports import csv_bytes, excel_bytes
from impact.present.texts import text
from impact.view import FILTER_PARAMS

from app import gate, session


def _table_digest(table: pd.DataFrame) -> bytes:
    """A table's content as a cache key: its pickle's digest, 0.1 ms for a chart's table where
    Streamlit's own hashing of text columns takes 1.4 ms (a tenth of a visit's server time,
    for six charts). Equal tables laid out differently may miss the cache and build again;
    different tables never share a key."""
    return hashlib.sha256(pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL)).digest()


@st.cache_resource(show_spinner=False, max_entries=1024, hash_funcs={pd.DataFrame: _table_digest})
def _built(name: str, _build, args: tuple, kwargs: dict):
    return _build(*args, **kwargs)


def chart(build, *args, **kwargs):
    """`build(*args, **kwargs)`, a figure of `impact.present.charts`, built once per its
    arguments: a new session, a page switch back or the twentieth donor of one link gets the
    figure already built (Plotly's building and validating is most of a page's run). The key
    is every argument, the table drawn (exact, or a donor's protected one) and the language
    among them, so a figure is only ever served for the very table it was built from, and the
    link was checked when that table was read. Shared, not copied: nobody changes a figure
    once built."""
    return _built(f"{build.__module__}.{build.__qualname__}", build, args, kwargs)


def chart_card(fig, table: pd.DataFrame, key: str, lang: str, name: str, dimension: str | None = None,
               definition: str | None = None, figures: pd.DataFrame | None = None) -> None:
    """A chart with its definition a click away (the catalog's, or `definition` for a chart that
    is not one metric), its aggregated table downloadable, and (for a breakdown by a filter
    dimension) a click on a bar narrowing the whole view to it. `figures`: the metric rows the
    chart draws, when `table` lays several of them out in one row (a cohort's cell), so the
    withheld note counts figures, not rows."""
    chart = f"chart_{name}"
    filters = dimension in FILTER_PARAMS.values()
    st.plotly_chart(fig, key=chart, on_select=partial(filter_by_click, chart, dimension) if filters else "ignore",
                    selection_mode=("points",), config={"displaylogo": False})
    if figures is None:
        figures = table if key is None or "metric" not in table else table[table["metric"] == key]
    withheld_note(figures, lang)
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
    # A donor filters by one site or all: a province of several sites is no filter she can take.
    clicks = partial(_filter_by_province, f"map_{name}") if session.exact_figures() else "ignore"
    st.plotly_chart(chart(charts.province_map, table, key, lang, title, also), key=f"map_{name}",
                    on_select=clicks, selection_mode=("points",), config=charts.MAP_CONFIG)
    withheld_note(table[table["metric"] == key], lang)
    definition_and_downloads(table, name, lang, definition(key, *also, lang=lang)
                             + f"\n\n{text('map_attribution', lang)}")


def _filter_by_province(chart: str) -> None:
    points = st.session_state[chart].selection.points
    province = points[0].get("customdata") if points else None
    if province:
        st.session_state["f_site"] = session.prepared().sites_in(province)


def card(fig, table: pd.DataFrame, name: str, lang: str, definition: str, dimension: str | None = None,
         figures: pd.DataFrame | None = None) -> None:
    """`chart_card` for a chart whose definition is not one catalog metric's."""
    chart_card(fig, table, None, lang, name, dimension, definition=definition, figures=figures)


def life_table_card(table: pd.DataFrame, title: str, name: str, lang: str, definition: str, **words) -> None:
    """A donor's time to an event (`impact.metrics.survival.life_table`, protected): the share
    still without it drawn from the protected counts, or the empty state when every interval
    is withheld or empty. `words` name the chart's words (`charts.life_table`)."""
    if table["denominator"].notna().any():
        card(chart(charts.life_table, table, share_after(table).tolist(), title, lang, **words), table, name, lang,
             definition)
    else:
        empty(title, lang)


def download_buttons(table: pd.DataFrame, name: str, lang: str) -> None:
    """CSV and Excel of an aggregated table, built only when clicked (formulas escaped; a
    donor's link checked again); a click downloads without rerunning the page."""
    st.download_button(text("download_csv", lang), served(partial(csv_bytes, table)), f"{name}.csv", "text/csv",
                       key=f"csv_{name}", on_click="ignore")
    st.download_button(text("download_excel", lang), served(partial(excel_bytes, {name: table})), f"{name}.xlsx",
                       key=f"xlsx_{name}", on_click="ignore")


def filter_by_click(chart: str, dimension: str) -> None:
    """Narrow the view to the value of the bar clicked on `chart`. A callback: it runs before
    the sidebar's filter exists in the rerun the click starts (once the filter is drawn, its
    value can no longer be set)."""
    points = st.session_state[chart].selection.points
    if points:
        st.session_state[f"f_{dimension}"] = [str(points[0]["x"])]


def served(build):
    """A download's file maker that serves nothing once this visitor's share link is revoked
    or expired (`gate.served`)."""
    return gate.served(session.store(), session.visitor(), build)


@st.fragment(run_every=1)
def warming_notice(lang: str) -> None:
    """While the server's start-up warm-up runs, what a visitor sees instead of a blank page:
    how long the figures have been preparing, counted every second; the whole app runs again
    once they are ready."""
    seconds = session.warming_for()
    if seconds is None:
        st.rerun()
    st.info(text("warming_up", lang).format(n=int(seconds)), icon="⏳")


def no_data(lang: str) -> None:
    st.info(text("no_data", lang))


def withheld(rows: pd.DataFrame | None) -> pd.Series:
    """Which rows of a metric table disclosure control withheld (none for staff's exact tables)."""
    if rows is None or "suppressed" not in rows:
        return pd.Series(False, index=None if rows is None else rows.index)
    return rows["suppressed"].fillna(False).astype(bool)


def withheld_note(rows: pd.DataFrame, lang: str) -> None:
    """Under a donor's chart, how many of its figures were withheld: a chart of 1 course of 7
    must not read as the only course."""
    hidden = int(withheld(rows).sum())
    if hidden:
        st.caption(text("withheld_some", lang).format(n=hidden, total=len(rows)))


def heading(title: str) -> None:
    """A chart's title where no chart is drawn, as large as a drawn chart's (Plotly's 16 px bold)."""
    st.markdown(f"**{title}**")


def has_values(table: pd.DataFrame, key: str | None = None) -> bool:
    rows = table if key is None else table[table["metric"] == key]
    return bool(len(rows)) and rows["value"].notna().any()


def definition(*keys: str, lang: str = "en") -> str:
    """The catalog's definitions of some metrics, one paragraph each."""
    return "\n\n".join(f"**{formatting.metric_label(k, lang)}**: {METRICS[k].description}" for k in keys)


def empty(title: str, lang: str, table: pd.DataFrame | None = None) -> None:
    """A chart not drawn: its title and why: for a donor whose figures were all withheld
    (`table`, the metric rows not drawn), that they protect small groups; every period after
    the data's reach, "not reported yet" (never 0); otherwise "no data"."""
    if title:
        heading(title)
    if withheld(table).any():
        st.info(text("withheld_small", lang), icon="🔒")
    elif table is not None and len(table) and "note" in table and table["note"].eq(NOT_REPORTED).all():
        st.info(text("not_reported_info", lang))
    else:
        no_data(lang)


def ready(table: pd.DataFrame | None, title: str, lang: str) -> bool:
    """Whether a breakdown has something to draw; if not, its title and why: no data, or (None)
    shown to staff only."""
    if table is not None and len(table):
        return True
    heading(title)
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
    a withheld figure is one short word, and why it is withheld is said under the tile; a period
    after the data's reach says "not reported yet", never 0."""
    row = table.set_index("metric").loc[key]
    hidden = bool(row.get("suppressed", False))
    shown = text("withheld_short", lang) if hidden else formatting.metric_value(key, row["value"], currency)
    if row["note"] == NOT_REPORTED:
        shown = charts.note(NOT_REPORTED, lang)
    column.metric(formatting.metric_label(key, lang), shown, help=METRICS[key].description, border=True)
    if hidden:
        small_count = row.get("suppression") == disclosure.SMALL and METRICS[key].kind == Kind.COUNT
        column.caption(text("withheld_fewer", lang).format(n=f"{disclosure.settings()['threshold']:,}")
                       if small_count else text("withheld_tile", lang))
    elif METRICS[key].kind == Kind.RATE and row["value"] == row["value"]:
        column.caption(text("n_of", lang).format(num=formatting.count(row["numerator"]),
                                                 den=formatting.count(row["denominator"])))


def by_title(question: str, key: str, lang: str) -> str:
    """A chart's question with its breakdown: "How many ...? (by site)"."""
    return f"{question} ({text(key, lang)})"


def _css_text(value: str) -> str:
    """A text as a CSS string literal (JSON's quoting is CSS's)."""
    return json.dumps(value, ensure_ascii=False)


def page_style() -> None:
    """Tile labels on as many lines as they need: Streamlit cuts them to one line with "…",
    which leaves a Khmer label, or "Progression to vocational training", unreadable."""
    st.html("""<style>
    [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] > div,
    [data-testid="stMetricLabel"] .stMarkdownEllipsis, [data-testid="stMetricLabel"] p {
        white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
        height: auto !important; }
    </style>""")


def uploader_texts(types: list[str], lang: str) -> None:
    """The file uploader's own words in the reader's language: Streamlit has no setting for
    them, so CSS puts ours over its English button and size line."""
    if lang == "en":
        return
    limit = text("uploader_limit", lang).format(size=st.get_option("server.maxUploadSize"),
                                                types=", ".join(t.upper() for t in types))
    zone = '[data-testid="stFileUploaderDropzone"]'
    st.html(f"""<style>
    {zone} button [data-testid="stMarkdownContainer"] p {{ font-size: 0; }}
    {zone} button [data-testid="stMarkdownContainer"] p::after {{
        content: {_css_text(text("uploader_button", lang))}; font-size: 0.875rem; }}
    {zone} [data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
    {zone} [data-testid="stFileUploaderDropzoneInstructions"] span::after {{
        content: {_css_text(limit)}; font-size: 0.875rem; }}
    </style>""")
