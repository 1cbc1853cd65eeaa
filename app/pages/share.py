"""Share with donors: a director makes a link scoped to organizations, programs, sites, a
period and pages, with an expiry; sees every link with its opens; revokes one at once."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from impact.access import sharing
from impact.present.texts import text
from app import gate, session

# Moments of a link the table shows, as days.
LINK_MOMENTS = ("created_at", "expires_at", "revoked_at")

view, selection, lang = session.frame()
store, who = session.store(), session.visitor()


def period_shown(scope: sharing.Scope, start_chosen: bool) -> str:
    """The period a link will show, in words, before it is made."""
    first = text("share_first_record", lang)
    start = f"{scope.period_start:%d/%m/%Y}" if scope.period_start else first
    if scope.period_start and not start_chosen:
        start = f"{start} ({first})"
    end = f"{scope.period_end:%d/%m/%Y}" if scope.period_end else text("share_day_viewed", lang)
    return text("share_period", lang).format(start=start, end=end)


def link_row(link: sharing.ShareLink, opens: dict) -> dict:
    """A link as the table shows it: its moments as days, written from the link's own
    datetimes rather than parsed back from text, and how often it was opened."""
    days = {moment: f"{getattr(link, moment):%d/%m/%Y}" if getattr(link, moment) else "" for moment in LINK_MOMENTS}
    return {**link.to_dict(), **days, "opens": opens.get(link.public_id, {}).get("opens", 0)}


# No form: the period the link will have follows the organizations, programs and sites chosen.
st.subheader(text("share_new", lang))
organizations = st.multiselect(text("organization", lang), session.options("organization"), key="share_org",
                               placeholder=text("choose", lang))
programs = st.multiselect(text("program", lang), session.options("program", chosen={"organization": organizations}),
                          placeholder=text("all", lang), key="share_program")
sites = st.multiselect(text("site", lang), session.options("site", chosen={"organization": organizations,
                                                                           "program": programs}),
                       placeholder=text("all", lang), key="share_site")
left, right = st.columns(2)
start = left.date_input(text("from", lang), None, format="DD/MM/YYYY", min_value=dt.date(1990, 1, 1),
                        max_value=dt.date(2100, 12, 31), help=text("share_from_help", lang), key="share_start")
end = right.date_input(text("to", lang), None, format="DD/MM/YYYY", min_value=dt.date(1990, 1, 1),
                       max_value=dt.date(2100, 12, 31), help=text("share_to_help", lang), key="share_end")
pages = st.multiselect(text("share_pages", lang), sharing.DONOR_PAGES, default=list(sharing.DONOR_PAGES),
                       placeholder=text("choose", lang),
                       format_func=lambda p: text(f"page_{p}", lang))
expires = st.date_input(text("share_expires", lang), session.today() + dt.timedelta(days=90), format="DD/MM/YYYY")
note = st.text_input(text("share_note", lang), key="share_note")
scope = None
if organizations:
    try:
        scope = sharing.from_first_record(sharing.Scope(tuple(organizations), tuple(programs), tuple(sites),
                                                        start, end, tuple(pages)), session.prepared())
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.info(period_shown(scope, start is not None))
if st.button(text("share_create", lang), type="primary", disabled=scope is None):
    try:
        token, link = sharing.create_link(store, gate.server_secret(), who.account, scope, expires, note)
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
    table = pd.DataFrame([link_row(link, opens) for link in links])
    table["status"] = table["status"].map(lambda status: text(f"link_{status}", lang))
    table = table.drop(columns=["scope"])
    st.dataframe(table.rename(columns={c: text(f"share_col_{c}", lang) for c in table.columns}),
                 hide_index=True, width="stretch")
    active = [link.public_id for link in links if link.status() == "active"]
    chosen = st.selectbox(text("share_revoke_which", lang), active, index=None, placeholder=text("choose", lang),
                          format_func=lambda pid: next(f"{l.note or pid} ({l.expires_at:%d/%m/%Y})" for l in links if l.public_id == pid))
    if chosen and st.button(text("share_revoke", lang), type="secondary"):
        sharing.revoke(store, chosen)
        st.rerun()
