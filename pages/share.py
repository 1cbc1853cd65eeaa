"""Share with donors: a director makes a link scoped to organizations, programs, sites, a
period and pages, with an expiry; sees every link with its opens; revokes one at once."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from impact import sharing
from impact.texts import text
from pages import access, shared

view, selection, lang = shared.frame("page_share")
store, who = shared.store(), shared.visitor()

with st.form("new_link"):
    st.subheader(text("share_new", lang))
    organizations = st.multiselect(text("organization", lang), shared.options("organization"))
    programs = st.multiselect(text("program", lang), shared.options("program"), placeholder=text("all", lang))
    sites = st.multiselect(text("site", lang), shared.options("site"), placeholder=text("all", lang))
    left, right = st.columns(2)
    start = left.date_input(text("from", lang), dt.date(shared.today().year, 1, 1), format="DD/MM/YYYY")
    end = right.date_input(text("to", lang), shared.today(), format="DD/MM/YYYY")
    pages = st.multiselect(text("share_pages", lang), sharing.DONOR_PAGES, default=list(sharing.DONOR_PAGES),
                           format_func=lambda p: text(f"page_{p}", lang))
    expires = st.date_input(text("share_expires", lang), shared.today() + dt.timedelta(days=90), format="DD/MM/YYYY")
    note = st.text_input(text("share_note", lang))
    if st.form_submit_button(text("share_create", lang), type="primary"):
        try:
            scope = sharing.Scope(tuple(organizations), tuple(programs), tuple(sites), start, end, tuple(pages))
            token, link = sharing.create_link(store, access.server_secret(), who.account, scope, expires, note)
        except (ValueError, PermissionError) as exc:
            st.error(str(exc))
        else:
            base = st.context.url.split("/share")[0] if st.context.url else ""
            st.success(text("share_created", lang))
            st.code(sharing.link_url(base, token, scope.first_page), language=None)

st.subheader(text("share_links", lang))
links = sharing.list_links(store)
opens = sharing.open_counts(store)
if not links:
    st.info(text("share_none", lang))
else:
    table = pd.DataFrame([{**link.to_dict(), "opens": opens.get(link.public_id, {}).get("opens", 0)} for link in links])
    for column in ("created_at", "expires_at", "revoked_at"):
        table[column] = pd.to_datetime(table[column], utc=True).dt.strftime("%d/%m/%Y").fillna("")
    table["status"] = table["status"].map(lambda status: text(f"link_{status}", lang))
    table = table.drop(columns=["scope"])
    st.dataframe(table.rename(columns={c: text(f"share_col_{c}", lang) for c in table.columns}),
                 hide_index=True, width="stretch")
    active = [link.public_id for link in links if link.status() == "active"]
    chosen = st.selectbox(text("share_revoke_which", lang), active, index=None,
                          format_func=lambda pid: next(f"{l.note or pid} ({l.expires_at:%d/%m/%Y})" for l in links if l.public_id == pid))
    if chosen and st.button(text("share_revoke", lang), type="secondary"):
        sharing.revoke(store, chosen)
        st.rerun()
