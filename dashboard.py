"""The dashboard's entry point and router: `streamlit run dashboard.py`.

Every run comes through here before a page's script: the page is looked up in the one page
registry (`impact.access.page_registry`), the visitor is admitted to it or stopped (`app.gate`), and
the sidebar and the page's head are drawn (`app.sidebar`). A page's script only reads the
frame (`app.session.frame()`), asks `impact/` and draws; one that forgets to check anything is
still gated, and one that fails shows a plain message with an error id, never a traceback
(`app.errors`). The view (filters, period, language) lives in the query string so a copied URL
reopens the same view. The first start seeds the embedded store with demo data.
"""
from __future__ import annotations

import streamlit as st

from impact.access import page_registry
from impact.present.texts import text

from app import cards, errors, gate, session, sidebar

st.set_page_config(page_title="Impact dashboard", page_icon="🌱", layout="wide")
lang = sidebar.language()
if session.warming_for() is not None:     # a big store's first start: say so, never a blank page
    cards.warming_notice(lang)
    st.stop()
routes = {page.path: page for page in page_registry.PAGES}
streamlit_pages = [st.Page(page.file, title=text(page.title, lang), icon=page.icon, url_path=page.path,
                           default=page.path == page_registry.HOME) for page in routes.values()]
chosen = st.navigation(streamlit_pages, position="hidden")
page = routes[chosen.url_path or page_registry.HOME]     # the home page's URL path is ""
with errors.shown_plainly(lang, page.path):
    session.pin_version()     # one read of the store's version a run; every cache is keyed on it
    visitor = gate.admit(session.store(), page, lang)
    st.session_state["frame"] = sidebar.draw(visitor, page)
    chosen.run()
