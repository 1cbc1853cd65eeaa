"""Streamlit glue shared by every page: the cached store and metrics, the filter sidebar that
lives in the URL, and the chart card (definition, downloads, click to filter).

Everything computed here comes from `impact/`; this module only caches and draws.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from impact import config, disclosure, present, sharing
from impact.catalog import METRICS
from impact.exports import csv_bytes, excel_bytes
from impact.funnel import funnel
from impact.metrics import TIME_GRAINS, Selection, compute, latest_record
from impact.prepared import NOT_RECORDED, Prepared, prepare
from impact.seed import seed_demo_store
from impact.store import open_store
from impact.targets import target_progress
from impact.texts import text
from impact.view import (
    FILTER_PARAMS,
    LANGUAGES,
    PRESETS,
    View,
    decode_view,
    encode_view,
    period_of,
    previous_period,
)
from pages import access
from pages.access import Visitor

# Every page once, in the sidebar's order: (file, text key of its title, URL path).
PAGES = (
    ("pages/overview.py", "page_overview", "overview"),
    ("pages/outreach.py", "page_outreach", "outreach"),
    ("pages/training.py", "page_training", "training"),
    ("pages/livelihoods.py", "page_livelihoods", "livelihoods"),
    ("pages/savings.py", "page_savings", "savings"),
    ("pages/services.py", "page_services", "services"),
    ("pages/targets.py", "page_targets", "targets"),
    ("pages/data.py", "page_data", "data"),
    ("pages/share.py", "page_share", "share"),
)
# Pages only a signed-in staff member reaches, and the action each needs.
STAFF_PAGES = {"data": "view", "share": "share"}
# The Overview's headline figures and trends.
HEADLINE = ("participants_registered", "graduation_rate", "job_exit_rate", "savings_rate",
            "referral_completion_rate", "people_reached")
TRENDS = ("participants_registered", "job_exit_rate", "graduation_rate", "people_reached")
TREND_GRAINS = ("quarter", "month")     # the first is the default


@st.cache_resource(show_spinner=False)
def store_for(url: str):
    store = open_store(url)
    seed_demo_store(store, config.DEMO_DIR)
    return store


def store():
    return store_for(config.store_url())


@st.cache_resource(show_spinner=False, max_entries=2)
def _prepared(url: str, version: str):
    """Prepared frames of one version of the store; a new upload makes a new version."""
    prepared = prepare(store_for(url).tables())
    prepared.version = f"{url}#{version}"    # what the caches below key on, instead of its frames
    return prepared


def cached(compute_view, *args, **kwargs):
    """Any other `impact/` computation over the prepared data (funnel, cohorts, targets, ...),
    cached per store version and arguments, so a filter change reruns in a blink."""
    return _cached(f"{compute_view.__module__}.{compute_view.__qualname__}", compute_view, *args, **kwargs)


@st.cache_data(show_spinner=False, max_entries=256, hash_funcs={Prepared: lambda p: p.version})
def _cached(name: str, _compute_view, *args, **kwargs):
    return _compute_view(*args, **kwargs)


def prepared():
    return _prepared(config.store_url(), store().data_version())


@st.cache_data(show_spinner=False, max_entries=256)
def _metrics(url: str, version: str, selection: Selection, by: tuple[str, ...], keys: tuple[str, ...] | None):
    return compute(_prepared(url, version), selection, by, keys, today=today())


def warm_up() -> None:
    """What the first visitor of a fresh server would otherwise wait for, done before the
    server lets anyone in (serve.py): the store (seeded with demo data on a first start), its
    prepared tables, every target's progress, and the Overview of the default view as staff
    see it. Each result lands in the cache the pages read."""
    url, version = config.store_url(), store().data_version()
    data, day = prepared(), today()
    default = decode_view({})
    start, end = period_of(default, day, _first_date())
    selection = Selection(start, end, {})
    _metrics(url, version, selection, (), HEADLINE)
    if start:
        _metrics(url, version, Selection(*previous_period(start, end), {}), (), HEADLINE)
    _metrics(url, version, selection, TREND_GRAINS[:1], TRENDS)
    cached(target_progress, data, today=day)
    cached(funnel, data, selection, today=day)


def metrics(selection: Selection, by: tuple[str, ...] = (), keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The metric table of a selection: exact for staff; for a donor, after disclosure control
    (with the breakdown's totals, so no hidden cell can be worked back from them)."""
    url, version = config.store_url(), store().data_version()
    table = _metrics(url, version, selection, by, keys)
    if not donor():
        return table
    time_only = tuple(b for b in by if b in TIME_GRAINS)
    totals = _metrics(url, version, selection, time_only, keys) if time_only != by else None
    dimensions = [b for b in by if b not in TIME_GRAINS]
    return disclosure.protect(table, totals, dimensions=dimensions, **disclosure.settings())


def visitor() -> Visitor:
    return st.session_state["visitor"]


def donor() -> bool:
    """A share-link session: aggregates only, protected, read-only."""
    return visitor().donor


def today() -> dt.date:
    return dt.date.today()


def category_label(dimension: str, value: str, lang: str) -> str:
    """A category in the reader's language (`impact.present.category`)."""
    return present.category(dimension, value, lang)


def options(dimension: str, scope=None) -> list[str]:
    participants = prepared().participants
    if scope is not None:   # a donor sees the names of her scope's programs and sites only
        allowed = sharing.scope_filters(scope, {})
        keep = np.ones(len(participants), dtype=bool)
        for name, values in allowed.items():
            keep &= participants[name].isin(values).to_numpy()
        participants = participants[keep]
    column = participants[dimension]
    return sorted(v for v in column.cat.categories if (column == v).any() or v == NOT_RECORDED)


def filter_sidebar(who: Visitor) -> tuple[View, Selection]:
    """Read the view from the URL, draw the filters, write the view back into the URL. A donor's
    filters and period are clamped to her link's scope: a widened URL gives less, never more."""
    view = decode_view(st.query_params.to_dict())
    # A link made without a start (before links were given their first record's) starts there too.
    scope = sharing.from_first_record(who.link.scope, prepared()) if who.donor else None
    if scope is not None and "period" not in st.query_params:
        view = replace(view, preset="custom", start=scope.period_start, end=scope.period_end)
    defaults = {"lang": view.lang, "preset": view.preset, "start": view.start, "end": view.end,
                **{f"f_{d}": list(view.filters.get(d, ())) for d in FILTER_PARAMS.values()}}
    for key, value in defaults.items():   # kept across pages (AppTest drops unrendered widget keys)
        st.session_state[key] = st.session_state.get(key, value)
    lang = st.session_state["lang"]
    with st.sidebar:
        st.radio(text("language", lang), LANGUAGES, key="lang", horizontal=True,
                 format_func=lambda code: "English" if code == "en" else "ខ្មែរ")
        lang = st.session_state["lang"]
        st.selectbox(text("period", lang), PRESETS, key="preset", format_func=lambda p: text(f"period_{p}", lang))
        if st.session_state["preset"] == "custom":
            if st.session_state["start"] is None:
                st.session_state["start"] = dt.date(today().year, 1, 1)
            if st.session_state["end"] is None:
                st.session_state["end"] = today()
            for key in ("start", "end"):    # Streamlit's default range is only ten years
                st.date_input(text("from" if key == "start" else "to", lang), key=key, format="DD/MM/YYYY",
                              min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))
        for dimension in FILTER_PARAMS.values():
            choices = options(dimension, scope)
            st.session_state[f"f_{dimension}"] = [v for v in st.session_state[f"f_{dimension}"] if v in choices]
            st.multiselect(text(dimension, lang), choices, key=f"f_{dimension}",
                           placeholder=text("all", lang), format_func=lambda v, d=dimension: category_label(d, v, lang))
    view = View(st.session_state["preset"],
                st.session_state["start"] if st.session_state["preset"] == "custom" else None,
                st.session_state["end"] if st.session_state["preset"] == "custom" else None,
                {d: tuple(st.session_state[f"f_{d}"]) for d in FILTER_PARAMS.values() if st.session_state[f"f_{d}"]},
                lang)
    st.query_params.from_dict(url_params(view, who))
    start, end = period_of(view, today(), _first_date())
    if scope is None:
        return view, Selection(start, end, view.filters)
    period = sharing.scope_period(scope, start, end, today())
    filters = sharing.scope_filters(scope, view.filters)
    if period is None:
        return view, Selection(start, end, {"organization": ()})    # outside the scope: nothing
    return view, Selection(period[0], period[1], filters)


def url_params(view: View, who: Visitor) -> dict[str, str]:
    """The query string of a view; a donor's keeps her share token."""
    params = encode_view(view)
    if who.donor:
        params[sharing.SHARE_PARAM] = who.token
    return params


def _first_date() -> dt.date | None:
    first = prepared().first_date
    return None if first is None else first.date()


def data_reaches(selection: Selection, fact: str | None = None) -> dt.date | None:
    """How far the data of a fact (of any, without one) reaches for the selection's
    organizations (a donor's: her link's, so nothing about the others shows)."""
    last = cached(latest_record, prepared(), fact, selection.filters.get("organization"))
    return None if last is None else last.date()


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


def chart_card(fig, table: pd.DataFrame, key: str, lang: str, name: str, dimension: str | None = None,
               definition: str | None = None) -> None:
    """A chart with its definition a click away (the catalog's, or `definition` for a chart that
    is not one metric), its aggregated table downloadable, and (for a breakdown by a filter
    dimension) a click on a bar narrowing the whole view to it."""
    event = st.plotly_chart(fig, key=f"chart_{name}", on_select="rerun" if dimension else "ignore",
                            selection_mode=("points",), config={"displaylogo": False})
    if dimension and event and event.selection and event.selection.points:
        set_filter(dimension, str(event.selection.points[0].get("x")))
    with st.container(horizontal=True):     # buttons as wide as their words, wrapping if need be
        with st.popover(text("definition", lang)):
            st.markdown(definition or f"**{present.metric_label(key, lang)}**: {METRICS[key].description}")
        download_buttons(table, name, lang)


def download_buttons(table: pd.DataFrame, name: str, lang: str) -> None:
    """CSV and Excel of an aggregated table, built only when clicked (formulas escaped); a
    click downloads without rerunning the page."""
    st.download_button(text("download_csv", lang), partial(csv_bytes, table), f"{name}.csv", "text/csv",
                       key=f"csv_{name}", on_click="ignore")
    st.download_button(text("download_excel", lang), partial(excel_bytes, {name: table}), f"{name}.xlsx",
                       key=f"xlsx_{name}", on_click="ignore")


def frame(page_key: str) -> tuple[View, Selection, str]:
    """What every page starts with: who is looking (sign-in, share link), the sidebar (filters,
    language, organization, links to the pages this visitor may open, carrying the view) and
    the page's title and period. Pages draw it themselves, rather than the router, so each page
    also runs alone (AppTest reruns a page without its entry point)."""
    path = next(p for _, key, p in PAGES if key == page_key)
    lang = st.session_state.get("lang") or decode_view(st.query_params.to_dict()).lang
    who = access.gate(store(), path, lang)
    if path in STAFF_PAGES and not who.can(STAFF_PAGES[path]):
        st.error(text("not_allowed", lang))
        st.stop()
    st.session_state["visitor"] = who
    view, selection = filter_sidebar(who)
    with st.sidebar:
        organizations = selection.filters.get("organization") or (who.link.scope.organizations if who.donor else ())
        st.markdown(f"### {', '.join(organizations) if organizations else text('app_title', view.lang)}")
        for file, key, page_path in PAGES:
            allowed = page_path in who.link.scope.pages if who.donor else \
                page_path not in STAFF_PAGES or who.can(STAFF_PAGES[page_path])
            if allowed:
                st.page_link(file, label=text(key, view.lang), query_params=url_params(view, who))
        access.sign_out_button(who, view.lang)
    if who.donor:
        st.info(text("shared_by", view.lang).format(who=who.link.created_by, note=who.link.note,
                                                    until=f"{who.link.expires_at:%d/%m/%Y}"), icon="🔒")
    st.title(text(page_key, view.lang))
    start = selection.start.strftime("%d/%m/%Y") if selection.start else "…"
    latest = data_reaches(selection)
    reaches = f" · {text('latest_record', view.lang)}: {latest:%d/%m/%Y}" if latest else ""
    st.caption(f"{text('showing', view.lang)}: {start} – {selection.end:%d/%m/%Y}{reaches}")
    return view, selection, view.lang
