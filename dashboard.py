"""The dashboard's entry point and router: `streamlit run dashboard.py`.

Pages are declared once (pages/shared.py, PAGES), each with its own URL path. Each page draws
the shared sidebar itself; the view (filters, period, language) lives in the query string so
a copied URL reopens the same view. The first start seeds the embedded store with demo data.
"""
from __future__ import annotations

import streamlit as st

from impact.texts import text
from pages import shared

st.set_page_config(page_title="Impact dashboard", page_icon="🌱", layout="wide")
lang = st.session_state.get("lang") or st.query_params.get("lang", "en")
st.navigation([st.Page(file, title=text(key, lang), url_path=path, default=(path == "overview"))
               for file, key, path in shared.PAGES], position="hidden").run()
