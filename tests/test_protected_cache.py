"""A donor's protected tables are cached per (store version, link scope, selection, grouping,
day, disclosure settings) (`app.session.protected_metrics`), so the twentieth donor of a link
costs almost nothing; the cache never lets one scope's table reach another scope, and never
lets a revoked link past the gate. AppTest and the real demo SQLite store; today frozen."""
from __future__ import annotations

import datetime as dt

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import session
from impact.access import protection, sharing
from impact.access.sharing import Scope
from impact.metrics.engine import Selection
from impact.store import open_store
from tests.helpers import APP, TODAY

SECRET = "s" * 40

pytestmark = pytest.mark.usefixtures("today")


@pytest.fixture
def store_path(demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(demo_store))
    monkeypatch.setenv(sharing.SECRET_ENV, SECRET)
    st.cache_data.clear()
    yield demo_store
    st.cache_data.clear()


@pytest.fixture
def protections(monkeypatch) -> list[tuple]:
    """Every time disclosure control is applied to a metric table: (grouping,)."""
    made, protect = [], protection.protected
    monkeypatch.setattr(protection, "protected", lambda table_by, by=(): made.append(by) or protect(table_by, by))
    return made


def link(store_path, scope: Scope) -> str:
    token, _ = sharing.create_link(open_store(store_path), SECRET, "director", scope,
                                   expires_at=dt.date.today() + dt.timedelta(days=30))
    return token


def overview(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params[sharing.SHARE_PARAM] = token
    return at.run()


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_twentieth_donor_of_a_scope_gets_its_tables_from_the_cache(store_path, protections):
    token = link(store_path, Scope(("KWCD",)))
    first = overview(token)
    assert not first.exception, first.exception
    made = len(protections)
    assert made                                   # the first donor's tables were protected
    later = [overview(token) for _ in range(3)]
    assert len(protections) == made               # nothing protected again
    assert all(tiles(at) == tiles(first) for at in later) and tiles(first)


def test_one_scopes_cached_table_never_reaches_another_scope(store_path, protections):
    """The same selection asked for by two scopes is protected for each; each donor's Overview,
    drawn after the other's filled the cache, shows what it shows from a cold cache."""
    selection = Selection(dt.date(2025, 1, 1), TODAY, {"organization": ("KWCD",)})
    whole, one_site = Scope(("KWCD",)), Scope(("KWCD",), sites=("Phnom Penh",))
    session.protected_metrics(whole, selection, keys=("participants_registered",))
    session.protected_metrics(one_site, selection, keys=("participants_registered",))
    assert len(protections) == 2                  # the scope is part of the key
    session.protected_metrics(whole, selection, keys=("participants_registered",))
    assert len(protections) == 2

    kwcd, srp = link(store_path, Scope(("KWCD",))), link(store_path, Scope(("SRP",)))
    warm = {token: tiles(overview(token)) for token in (kwcd, srp)}
    assert warm[kwcd] != warm[srp]
    for token in (srp, kwcd):
        st.cache_data.clear()
        assert tiles(overview(token)) == warm[token]


def test_a_revoked_link_is_refused_though_its_tables_are_cached(store_path, protections):
    store = open_store(store_path)
    token, record = sharing.create_link(store, SECRET, "director", Scope(("KWCD",)),
                                        expires_at=dt.date.today() + dt.timedelta(days=30))
    at = overview(token)
    assert at.metric and protections              # the cache now holds this link's tables
    sharing.revoke(store, record.public_id)
    at.run()                                      # the open session's next run
    assert not at.metric and any("revoked" in e.value for e in at.error)
    fresh = overview(token)                       # a new session with the revoked link
    assert not fresh.metric and any("revoked" in e.value for e in fresh.error)
