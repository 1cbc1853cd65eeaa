"""The state a page reads: the cached store, its prepared tables and every computation over
them, the visitor the router admitted, and the view and selection it drew in the sidebar.

Caches are keyed on (store URL, `store.data_version()`): an upload, a re-read or a restore
makes a new version in the store's database, so every page of every server on that store sees
it on its next run without clearing anything. The version is read once a run (`pin_version`,
called by the router): one query, and one version for everything the run draws.
"""
from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from impact import config, disclosure
from impact.disclosure import KEY_COLUMNS

from impact.access import protection, sharing
from impact.access.sharing import Scope
from impact.metrics.engine import Selection, latest_record, reported_metrics
from impact.metrics.funnel import FUNNEL_KEYS
from impact.memory import release_freed_memory, small_pages_for_arrays
from impact.metrics.prepared import prepare
from impact.demo.seed import seed_demo_store
from impact.store import open_store
from impact.metrics.targets import target_progress
from impact.view import View, decode_view, period_of, previous_period

from app.gate import Visitor

# The Overview's headline figures and trends (here, so the start-up step can warm them).
HEADLINE = ("participants_registered", "graduation_rate", "job_exit_rate", "savings_rate",
            "referral_completion_rate", "people_reached")
TRENDS = ("participants_registered", "job_exit_rate", "graduation_rate", "people_reached")
OVERVIEW_KEYS = tuple(dict.fromkeys(HEADLINE + FUNNEL_KEYS))   # the tiles and the funnel: one table
TREND_GRAINS = ("quarter", "month")     # the first is the default
_PINNED = "data_version"                # session state: this run's (store URL, data version)


@dataclass(frozen=True)
class Frame:
    """What the router decided for this run, before the page's script runs."""
    visitor: Visitor
    view: View
    selection: Selection


@st.cache_resource(show_spinner=False)
def store_for(url: str):
    store = open_store(url)
    seed_demo_store(store, config.DEMO_DIR)
    return store


def store():
    return store_for(config.store_url())


def _read_version() -> tuple[str, str]:
    url = config.store_url()
    return url, store_for(url).data_version()


def pin_version() -> None:
    """Read the store's data version for this run (the router, first thing in every run)."""
    st.session_state[_PINNED] = _read_version()


def _version() -> tuple[str, str]:
    """(store URL, data version): what every cache below is keyed on; the run's pinned one in
    a session, read from the store outside one (the start-up step)."""
    if get_script_run_ctx(suppress_warning=True) is not None and _PINNED in st.session_state:
        return st.session_state[_PINNED]
    return _read_version()


@st.cache_resource(show_spinner=False, max_entries=2)
def _prepared(url: str, version: str):
    """Prepared frames of one version of the store. What reading and preparing the tables
    freed is handed back to the system afterwards (`impact.memory`): else the server holds it.
    (Not in between: `prepare` reuses those pages; handing them back first costs it 2.6 s at 1M.)
    The selections over them make their arrays on small pages (`small_pages_for_arrays`)."""
    prepared = prepare(store_for(url).tables())
    release_freed_memory()
    small_pages_for_arrays()
    return prepared


def prepared():
    return _prepared(*_version())


@st.cache_data(show_spinner=False, max_entries=512)
def _computed(url: str, version: str, name: str, _compute, args: tuple, kwargs: dict):
    return _compute(_prepared(url, version), *args, **kwargs)


def computed(compute_view, *args, **kwargs):
    """`compute_view(prepared, *args, **kwargs)`: any `impact/` computation over the prepared
    data (metrics, funnel, cohorts, targets, ...), cached per store version and arguments, so
    a filter change reruns in a blink."""
    return _computed(*_version(), _name(compute_view), compute_view, args, kwargs)


def _name(function) -> str:
    """A function's name in a cache key (the function itself is not hashed)."""
    return f"{function.__module__}.{function.__qualname__}"


def exact_metrics(selection: Selection, by: tuple[str, ...] = (), keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The metric table of a selection, periods after the data's reach "not reported yet"."""
    return computed(reported_metrics, selection, by, keys, today=today())


def metrics(selection: Selection, by: tuple[str, ...] = (), keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The metric table of a selection: exact for staff; for a donor, after disclosure control."""
    if exact_figures():
        return exact_metrics(selection, by, keys)
    return protected_metrics(visitor().link.scope, selection, by, keys)


def protected_metrics(scope: Scope, selection: Selection, by: tuple[str, ...] = (),
                      keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A metric table as a donor of `scope` sees it (disclosure control applied), made once per
    (store version, scope, selection, grouping, day, disclosure settings): the twentieth donor
    of a link gets it from the cache. The scope is part of the key, so one scope's table never
    reaches another's; the link itself is checked by the gate on every run before any page asks."""
    return _protected_metrics(*_version(), scope, selection, by, keys, today(), _disclosure_settings())


@st.cache_data(show_spinner=False, max_entries=1024)
def _protected_metrics(url: str, version: str, scope: Scope, selection: Selection, by: tuple[str, ...],
                       keys: tuple[str, ...] | None, day: dt.date, settings: tuple) -> pd.DataFrame:
    return protection.protected(lambda grouping: _computed(url, version, _name(reported_metrics), reported_metrics,
                                                           (selection, grouping, keys),
                                                           {"today": day, "cell_keys": True}), by)


def protected_rows(breakdown, dimension: str, *args, **kwargs) -> pd.DataFrame:
    """Rows in the engine's shape made beside it (`impact.metrics.justice`): exact for staff;
    for a donor, after disclosure control along `dimension`, cached per scope as
    `protected_metrics` is."""
    if exact_figures():
        return computed(breakdown, *args, **kwargs).drop(columns=list(KEY_COLUMNS))   # keys feed a donor's noise
    return _protected_rows(*_version(), visitor().link.scope, _name(breakdown), breakdown, dimension, args, kwargs,
                           _disclosure_settings())


@st.cache_data(show_spinner=False, max_entries=1024)
def _protected_rows(url: str, version: str, scope: Scope, name: str, _breakdown, dimension: str, args: tuple,
                    kwargs: dict, settings: tuple) -> pd.DataFrame:
    return protection.protected_rows(_computed(url, version, name, _breakdown, args, kwargs), dimension)


def _disclosure_settings() -> tuple:
    """The disclosure settings, part of a protected table's cache key (a changed threshold or
    rounding never serves tables made under the old one)."""
    return tuple(sorted(disclosure.settings().items()))


def staff(breakdown, *args, **kwargs):
    """A breakdown made outside the metric engine (activities, time to exit, savings groups,
    targets) of the prepared data, or None for a visitor who sees only figures that went
    through disclosure control (a donor)."""
    return computed(breakdown, *args, **kwargs) if exact_figures() else None


def warm_up() -> None:
    """What the first visitor of a fresh server would otherwise wait for, done before the
    server lets anyone in (serve.py): the store (seeded with demo data on a first start), its
    prepared tables, every target's progress, and the Overview of the default view as staff
    see it. Each result lands in the cache the pages read."""
    day, default = today(), decode_view({})
    start, end = period_of(default, day, first_date())
    selection = Selection(start, end, {})
    exact_metrics(selection, (), OVERVIEW_KEYS)
    if start:
        exact_metrics(Selection(*previous_period(start, end), {}), (), HEADLINE)
    exact_metrics(selection, TREND_GRAINS[:1], TRENDS)
    exact_metrics(selection, ("province",), HEADLINE[:1])      # the map
    computed(target_progress, today=day)


_warming: dict = {}     # the start-up warm-up of this process: when it started, and its end


def start_warm_up() -> None:
    """`warm_up` in a thread of its own, started with the server (serve.py): the server answers
    health checks and visitors at once, a visitor arriving meanwhile is told how long it has
    been preparing (`warming_for`) instead of facing a blank page, and the caches it fills are
    the ones the pages read (a page asking for one of them waits for it, not computing it twice)."""
    done = threading.Event()
    _warming.update(started=time.monotonic(), done=done)

    def run() -> None:
        try:
            warm_up()
        except Exception:   # a store busy, read-only or not reachable yet: the pages say why, as when cold
            logging.getLogger("impact").exception("warm start failed; serving the dashboard cold")
        finally:
            # What start-up made (imports, prepared tables, cached figures) lives as long as the
            # server: frozen out of the cycle collector, so the full collection Streamlit runs
            # after every script run (runner.postScriptGC) walks only what that run made. It was
            # a third of the server's CPU per donor visit.
            gc.collect()
            gc.freeze()
            done.set()

    threading.Thread(target=run, name="warm-up", daemon=True).start()


def warming_for() -> float | None:
    """Seconds the start-up warm-up has been running, or None once it is over (or never began)."""
    done = _warming.get("done")
    return None if done is None or done.is_set() else time.monotonic() - _warming["started"]


def today() -> dt.date:
    return dt.date.today()


def first_date() -> dt.date | None:
    first = prepared().first_date
    return None if first is None else first.date()


def frame() -> tuple[View, Selection, str]:
    """What every page starts with: the view, the selection and the language of this run."""
    current = st.session_state["frame"]
    return current.view, current.selection, current.view.lang


def visitor() -> Visitor:
    return st.session_state["frame"].visitor


def exact_figures() -> bool:
    """Whether this run's visitor sees figures that skipped disclosure control."""
    return protection.sees_exact_figures(visitor().role)


def options(dimension: str, scope=None, chosen: dict | None = None) -> list[str]:
    """The values a filter offers within the other filters `chosen` (a donor's: within her
    link's scope)."""
    return protection.filter_options(prepared().participants, dimension, scope, chosen)


def data_reaches(who: Visitor, selection: Selection, fact: str | None = None) -> dt.date | None:
    """How far the data of a fact (of any, without one) reaches for the selection's
    organizations; a donor's, within her link's scope and period only, so nothing about the
    rest shows (not even that there is more)."""
    if who.donor:
        scope = who.link.scope
        last = computed(latest_record, fact, sharing.scope_filters(scope), sharing.release_periods(scope, today())[0][1])
    else:
        organizations = selection.filters.get("organization")
        last = computed(latest_record, fact, {"organization": organizations} if organizations else {})
    return None if last is None else last.date()
