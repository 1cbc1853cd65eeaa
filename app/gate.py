"""The gate: who is looking (a donor with a share link, a signed-in staff member, or the
single local director of a dashboard on this computer) and whether they may open the page.
The router (dashboard.py) calls `admit` once, before any page's script runs, and decides from
the page registry (`impact.access.page_registry`) alone, so a page cannot skip or forget it. A donor
link is checked against the store on every run, so a revoked link stops at once, even in an
open session. A file a page offers for download is made when it is clicked, maybe long after
the page was drawn, so a donor's link is checked again then (`served`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st

from impact.access import accounts

from impact.access import page_registry

from impact.access import sharing
from impact.access.accounts import Account, TooManyAttempts
from impact.access.page_registry import DONOR, Page
from impact.access.sharing import InvalidShareLink, ShareLink
from impact.present.texts import text

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


@dataclass(frozen=True)
class Visitor:
    """Who is looking: an account (a signed-in person or the local director), or a share link."""
    account: Account | None = None
    link: ShareLink | None = None
    token: str | None = None
    local: bool = False

    @property
    def donor(self) -> bool:
        return self.link is not None

    @property
    def role(self) -> str | None:
        """The role pages are declared for: donor, or the account's (None: nobody yet)."""
        return DONOR if self.donor else self.account.role if self.account else None

    @property
    def shared_pages(self) -> tuple[str, ...]:
        """The pages a donor's link names (none for staff: their role decides)."""
        return self.link.scope.pages if self.donor else ()

    def may_open(self, page: Page) -> bool:
        return page_registry.may_open(page, self.role, self.shared_pages)


def _secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except Exception:   # no secrets.toml at all: the embedded default
        return {}


def server_secret() -> bytes:
    return sharing.server_secret(_secrets())


def _oidc_configured() -> bool:
    return "auth" in _secrets()


def _request_is_local() -> bool:
    """A browser on this computer: no reverse proxy put another host name in front."""
    host = (st.context.headers.get("Host") or "localhost") if st.context.headers else "localhost"
    return host.rsplit(":", 1)[0] in _LOCAL_HOSTS or host in _LOCAL_HOSTS


def admit(store, page: Page, lang: str) -> Visitor:
    """The visitor of this run, admitted to the page; else a sign-in or refusal and `st.stop()`."""
    who = _visitor(store, lang)
    if not who.may_open(page):
        st.title(text("app_title", lang))
        st.error(text("share_page_not_included" if who.donor else "not_allowed", lang))
        st.stop()
    if who.donor:
        _log_open(store, who.link, page.path)
    return who


def _visitor(store, lang: str) -> Visitor:
    """Who is looking, or a sign-in page (or why nobody can sign in) and `st.stop()`."""
    token = st.query_params.get(sharing.SHARE_PARAM)
    if token:
        return _donor(store, token, lang)
    if _oidc_configured():
        return _oidc_visitor(lang)
    if accounts.has_accounts(store):
        return _local_account(store, lang)
    if accounts.local_director_mode(st.get_option("server.address"), False, False) and _request_is_local():
        st.info(text("local_director_banner", lang), icon="🏠")
        return Visitor(accounts.LOCAL_DIRECTOR, local=True)
    st.title(text("app_title", lang))
    st.error(text("no_accounts", lang))
    st.stop()


def _donor(store, token: str, lang: str) -> Visitor:
    try:
        link = sharing.verify(store, server_secret(), token)
    except InvalidShareLink as exc:
        st.title(text("app_title", lang))
        st.error(str(exc))
        st.stop()
    return Visitor(link=link, token=token)


def served(store, who: Visitor, build: Callable[[], bytes]) -> Callable[[], bytes]:
    """`build` as a download button's file maker: for a donor, it checks her link against the
    store first and raises InvalidShareLink (the download fails, nothing is served) once the
    link is revoked or expired."""
    if not who.donor:
        return build
    secret, token = server_secret(), who.token

    def build_while_valid() -> bytes:
        sharing.verify(store, secret, token)
        return build()
    return build_while_valid


def _log_open(store, link: ShareLink, page_path: str) -> None:
    """Log a page a link showed, once a session."""
    seen = st.session_state.setdefault("share_pages_logged", set())
    if (link.public_id, page_path) not in seen:
        sharing.log_open(store, link, [page_path])
        seen.add((link.public_id, page_path))


def _oidc_visitor(lang: str) -> Visitor:
    if not st.user.get("is_logged_in", False):
        st.title(text("app_title", lang))
        st.button(text("sign_in", lang), on_click=st.login, type="primary")
        st.stop()
    email = str(st.user.get("email", "")).lower()
    directors = {d.lower() for d in _secrets().get("impact", {}).get("directors", [])}
    return Visitor(Account(email, "director" if email in directors else "staff"))


def _local_account(store, lang: str) -> Visitor:
    username = st.session_state.get("account")
    account = accounts.get_account(store, username) if username else None   # removal takes effect now
    if account is not None:
        return Visitor(account)
    st.title(text("app_title", lang))
    with st.form("sign_in"):
        name = st.text_input(text("username", lang))
        password = st.text_input(text("password", lang), type="password")
        submitted = st.form_submit_button(text("sign_in", lang), type="primary")
    if submitted:
        try:
            account = accounts.authenticate(store, name, password)
        except TooManyAttempts as exc:
            st.error(str(exc))
            st.stop()
        if account is None:
            st.error(text("sign_in_failed", lang))
        else:
            st.session_state["account"] = account.username
            st.rerun()
    st.stop()


def sign_out_button(visitor: Visitor, lang: str) -> None:
    if visitor.account is None or visitor.local:
        return
    st.caption(f"{visitor.account.username} ({visitor.account.role})")
    if _oidc_configured():
        st.button(text("sign_out", lang), on_click=st.logout)
    elif st.button(text("sign_out", lang)):
        st.session_state.pop("account", None)
        st.rerun()
