"""The gate: access is decided once, in the router (dashboard.py), from the one page registry
(`impact.access.page_registry`) that share links read too. A page whose script checks nothing is
still closed to whoever its registry entry leaves out. AppTest on a real (empty) SQLite store.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from impact.access import accounts

from impact.access import page_registry

from impact.access import sharing
from impact.access.page_registry import DIRECTOR, DONOR, EVERYONE, PAGES, STAFF, Page
from impact.store import open_store
from impact.present.texts import text
from impact.view import LANGUAGES
from tests.helpers import APP, REPO

SECRET = "s" * 40
UNCHECKED = "A page that checks nothing"


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(tmp_path / "store.db"))
    monkeypatch.setenv(sharing.SECRET_ENV, SECRET)
    monkeypatch.setattr("app.session.seed_demo_store", lambda store, folder: False)    # empty is enough
    return tmp_path / "store.db"


@pytest.fixture
def unchecked_page(tmp_path, monkeypatch) -> Path:
    """A page added to the registry for staff, whose script calls no gate, no frame, nothing."""
    script = tmp_path / "unchecked.py"
    script.write_text(f"import streamlit as st\nst.markdown({UNCHECKED!r})\n", encoding="utf-8")
    monkeypatch.setattr(page_registry, "PAGES", PAGES + (
        Page("unchecked", str(script), "page_data", "🧪", frozenset({DIRECTOR, STAFF})),))
    return script


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def donor_app(store_path, pages=()) -> AppTest:
    token, _ = sharing.create_link(open_store(store_path), SECRET, "director", sharing.Scope(("KWCD",), pages=pages),
                                   expires_at=dt.date.today() + dt.timedelta(days=30))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params[sharing.SHARE_PARAM] = token
    return at.run()


# --- the registry ---------------------------------------------------------------------------

def test_share_links_offer_the_registrys_donor_pages():
    assert sharing.DONOR_PAGES == tuple(p.path for p in PAGES if DONOR in p.audience)
    assert "data" not in sharing.DONOR_PAGES and "share" not in sharing.DONOR_PAGES
    assert sharing.link_url("https://x.org", "T") == "https://x.org/?share=T"      # the home page is the root
    assert sharing.link_url("https://x.org", "T", "training") == "https://x.org/training?share=T"


def test_every_page_is_declared_whole():
    assert len({p.path for p in PAGES}) == len(PAGES)
    for page in PAGES:
        assert (REPO / page.file).is_file(), page.file
        assert all(text(page.title, lang) != page.title for lang in LANGUAGES), page.title
    with pytest.raises(ValueError, match="unknown role"):
        Page("x", "x.py", "page_data", "🧪", frozenset({"directr"}))


def test_who_may_open_what():
    data, share, training = (next(p for p in PAGES if p.path == path) for path in ("data", "share", "training"))
    assert [p.path for p in page_registry.pages_for(STAFF)] == [p.path for p in PAGES if p.path != "share"]
    assert page_registry.may_open(share, DIRECTOR) and not page_registry.may_open(share, STAFF)
    assert page_registry.may_open(training, DONOR, ("overview", "training"))
    assert not page_registry.may_open(training, DONOR, ("overview",))      # not in her link
    assert not page_registry.may_open(data, DONOR, ("data",))              # never, whatever the link says
    assert not any(page_registry.may_open(p, None) for p in PAGES)          # nobody signed in
    assert training.audience == EVERYONE


def test_no_page_scripts_in_a_pages_folder_beside_the_entry_point():
    """Streamlit runs a script of a `pages/` folder beside the entry point directly, without
    the router until the entry point has run once since the server started (and on every
    AppTest page switch): the page scripts live in app/pages."""
    assert not list((REPO / "pages").glob("*.py"))


# --- the router -----------------------------------------------------------------------------

def test_a_page_that_checks_nothing_is_closed_to_a_donor(store_path, unchecked_page):
    at = donor_app(store_path)
    assert not at.exception, at.exception
    at.switch_page(str(unchecked_page)).run()
    assert not at.exception, at.exception
    assert UNCHECKED not in markdown(at)
    assert text("share_page_not_included") in [e.value for e in at.error]


def test_a_page_that_checks_nothing_is_closed_to_a_visitor_not_signed_in(store_path, unchecked_page):
    accounts.add_user(open_store(store_path), "dara", "correct horse battery", STAFF)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(str(unchecked_page)).run()
    assert not at.exception, at.exception
    assert UNCHECKED not in markdown(at)
    assert [t.label for t in at.text_input] == [text("username"), text("password")]     # the sign-in form

    at.session_state["account"] = "dara"     # signed in: staff may open it
    at.run()
    assert UNCHECKED in markdown(at)


def test_staff_cannot_open_the_share_page(store_path):
    accounts.add_user(open_store(store_path), "dara", "correct horse battery", STAFF)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["account"] = "dara"
    at.run()
    at.switch_page("app/pages/share.py").run()
    assert not at.exception, at.exception
    assert text("not_allowed") in [e.value for e in at.error]
    assert not at.button        # no "make a link"


def test_a_donor_reaches_only_the_pages_of_her_link(store_path):
    at = donor_app(store_path, pages=("overview", "savings"))
    assert not at.exception, at.exception
    assert at.title[0].value == text("page_overview")
    at.switch_page("app/pages/training.py").run()
    assert text("share_page_not_included") in [e.value for e in at.error]
    assert at.title[0].value == text("app_title")
    at.switch_page("app/pages/savings.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == text("page_savings")


def test_a_download_of_an_open_page_serves_nothing_once_its_link_is_revoked(store_path):
    """A download's file is made when it is clicked, maybe long after the page was drawn: the
    maker a donor's page hands Streamlit checks her link again then."""
    from app import gate
    store = open_store(store_path)
    token, link = sharing.create_link(store, SECRET, "director", sharing.Scope(("KWCD",)),
                                      expires_at=dt.date.today() + dt.timedelta(days=7))
    made = []

    def build():
        made.append(1)
        return b"figures"

    donor = gate.Visitor(link=link, token=token)
    serve = gate.served(store, donor, build)
    assert serve() == b"figures"
    sharing.revoke(store, link.public_id)
    with pytest.raises(sharing.InvalidShareLink, match="revoked"):
        serve()
    assert made == [1]                                   # nothing made after the revocation
    staff = gate.Visitor(accounts.Account("sokha", DIRECTOR))
    assert gate.served(store, staff, build) is build     # staff downloads are not a link's
