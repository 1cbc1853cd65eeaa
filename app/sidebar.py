"""The sidebar and the head of every page, drawn by the router before the page's script runs:
the filters, period and language (kept in the URL, so a copied URL reopens the same view; a
donor's clamped to her link's scope), the links to the pages this visitor may open, carrying
the view, sign-out, and the page's title and period.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

from impact.access import page_registry

from impact.present import formatting

from impact.access import protection

from impact.access import sharing
from impact.metrics.engine import Selection
from impact.access.page_registry import Page
from impact.present.texts import text
from impact.view import FILTER_PARAMS, LANGUAGES, PRESETS, View, decode_view, encode_view, period_of

from app import cards, gate, session
from app.gate import Visitor


def language() -> str:
    """The reader's language before the sidebar is drawn (the gate and the page titles need it)."""
    return st.session_state.get("lang") or decode_view(st.query_params.to_dict()).lang


def draw(who: Visitor, page: Page) -> session.Frame:
    """The sidebar and the page's head; the frame the page reads (`session.frame()`)."""
    view, selection = filter_sidebar(who)
    cards.page_style()
    with st.sidebar:
        organizations = selection.filters.get("organization") or (who.link.scope.organizations if who.donor else ())
        st.markdown(f"### {', '.join(organizations) if organizations else text('app_title', view.lang)}")
        for shown in page_registry.pages_for(who.role, who.shared_pages):
            st.page_link(shown.file, label=text(shown.title, view.lang), query_params=url_params(view, who))
        gate.sign_out_button(who, view.lang)
    if who.donor:
        note = f" ({who.link.note})" if who.link.note else ""    # a link made without a note: no "()"
        st.info(text("shared_by", view.lang).format(who=who.link.created_by, note=note,
                                                    until=f"{who.link.expires_at:%d/%m/%Y}"), icon="🔒")
    st.title(text(page.title, view.lang))
    start = selection.start.strftime("%d/%m/%Y") if selection.start else "…"
    latest = session.data_reaches(who, selection)
    reaches = f" · {text('latest_record', view.lang)}: {latest:%d/%m/%Y}" if latest else ""
    st.caption(f"{text('showing', view.lang)}: {start} – {selection.end:%d/%m/%Y}{reaches}")
    return session.Frame(who, view, selection)


def filter_sidebar(who: Visitor) -> tuple[View, Selection]:
    """Read the view from the URL, draw the filters, write the view back into the URL. A donor's
    filters and period are clamped to her link's scope (`impact.access.protection`)."""
    view = decode_view(st.query_params.to_dict())
    # A link made without a start (before links were given their first record's) starts there too.
    scope = sharing.from_first_record(who.link.scope, session.prepared()) if who.donor else None
    today = session.today()
    if scope is not None:
        view = protection.link_view(view, scope, today)
    defaults = {"lang": view.lang, "preset": view.preset, "start": view.start, "end": view.end,
                **{f"f_{d}": list(view.filters.get(d, ())) for d in FILTER_PARAMS.values()}}
    for key, value in defaults.items():   # kept across pages (a page switch drops unrendered widget keys)
        st.session_state[key] = st.session_state.get(key, value)
    lang = st.session_state["lang"]
    with st.sidebar:
        st.radio(text("language", lang), LANGUAGES, key="lang", horizontal=True,
                 format_func=lambda code: "English" if code == "en" else "ខ្មែរ")
        lang = st.session_state["lang"]
        if scope is not None:
            _release_period(scope, (view.start, view.end), today, lang)
        else:
            st.selectbox(text("period", lang), PRESETS, key="preset", format_func=lambda p: text(f"period_{p}", lang))
        if st.session_state["preset"] == "custom" and scope is None:
            if st.session_state["start"] is None:
                st.session_state["start"] = dt.date(today.year, 1, 1)
            if st.session_state["end"] is None:
                st.session_state["end"] = today
            for key in ("start", "end"):    # Streamlit's default range is only ten years
                st.date_input(text("from" if key == "start" else "to", lang), key=key, format="DD/MM/YYYY",
                              min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))
        above = {}      # each filter offers what the filters above it leave: the chosen organization's sites
        for dimension in FILTER_PARAMS.values():
            choices = session.options(dimension, scope, above)
            st.session_state[f"f_{dimension}"] = [v for v in st.session_state[f"f_{dimension}"] if v in choices]
            if scope is not None:     # a donor: one value or all
                st.session_state[f"f_{dimension}"] = st.session_state[f"f_{dimension}"][:1]
            st.multiselect(text(dimension, lang), choices, key=f"f_{dimension}", placeholder=text("all", lang),
                           max_selections=1 if scope is not None else None,
                           format_func=lambda v, d=dimension: formatting.category(d, v, lang))
            above[dimension] = st.session_state[f"f_{dimension}"]
    view = View(st.session_state["preset"],
                st.session_state["start"] if st.session_state["preset"] == "custom" else None,
                st.session_state["end"] if st.session_state["preset"] == "custom" else None,
                {d: tuple(st.session_state[f"f_{d}"]) for d in FILTER_PARAMS.values() if st.session_state[f"f_{d}"]},
                lang)
    st.query_params.from_dict(url_params(view, who))
    start, end = period_of(view, today, session.first_date())
    if scope is None:
        return view, Selection(start, end, view.filters)
    return view, protection.scoped_selection(scope, start, end, view.filters, today)


def _release_period(scope: sharing.Scope, asked: tuple, today: dt.date, lang: str) -> None:
    """A donor's period: one of her link's whole quarters and years (no day-level dates)."""
    periods = sharing.release_periods(scope, today)
    if st.session_state.get("release") not in periods:
        st.session_state["release"] = asked if asked in periods else periods[0]
    whole = text("period_shared", lang)
    st.selectbox(text("period", lang), periods, key="release",
                 format_func=lambda p: whole if p == periods[0] else formatting.release(*p, whole))
    st.session_state["preset"] = "custom"
    st.session_state["start"], st.session_state["end"] = st.session_state["release"]


def url_params(view: View, who: Visitor) -> dict[str, str]:
    """The query string of a view; a donor's keeps her share token."""
    params = encode_view(view)
    if who.donor:
        params[sharing.SHARE_PARAM] = who.token
    return params
