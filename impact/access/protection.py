"""What a donor sees, decided here and not in the pages: a donor (a share link) sees protected
aggregates of her link's scope only, and staff see exact figures.

- Metric tables go through disclosure control with the totals of the same grouping without
  its dimensions, so no hidden cell can be worked back as a total minus its visible siblings.
- Breakdowns made outside the metric engine, and comparisons of overlapping periods, are for
  staff only: they have not been through disclosure control, and chaining overlapping windows
  of one rounded figure recovers exact small counts.
- The filters offer a donor the programs and sites of her scope only, her view opens on her
  link's period, and the selection she asks for is clamped to her scope: never more.

The Streamlit glue (app/session.py, app/sidebar.py) calls these; none of them knows Streamlit.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from impact import disclosure

from impact.access import sharing
from impact.metrics.engine import TIME_GRAINS, Selection
from impact.access.page_registry import DONOR
from impact.metrics.prepared import NOT_RECORDED
from impact.access.sharing import Scope
from impact.view import View

# What a donor's selection becomes when it lies outside her scope: no organization, no data.
NOTHING = {"organization": ()}


def sees_exact_figures(role: str | None) -> bool:
    """Whether this role sees figures that skipped disclosure control (exact breakdowns,
    change since the previous period): staff and directors, never a donor."""
    return role is not None and role != DONOR


def suppression_totals(by: tuple[str, ...]) -> tuple[str, ...] | None:
    """The grouping whose totals feed complementary suppression of a breakdown by `by`: its
    time grain alone. None for a breakdown without a dimension: its rows are the totals."""
    time_only = tuple(b for b in by if b in TIME_GRAINS)
    return None if time_only == tuple(by) else time_only


def protected(table_by: Callable[[tuple[str, ...]], pd.DataFrame], by: tuple[str, ...] = ()) -> pd.DataFrame:
    """A metric table broken down by `by` as a donor sees it. `table_by(grouping)` gives the
    exact table of a grouping (the caller caches it); the totals it needs are taken from it."""
    totals_by = suppression_totals(by)
    totals = None if totals_by is None else table_by(totals_by)
    dimensions = [b for b in by if b not in TIME_GRAINS]
    return disclosure.protect(table_by(by), totals, dimensions=dimensions, **disclosure.settings())


def protected_rows(table: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Rows in the engine's shape made beside it from protected units (the steps of the case
    pathway, the intervals of a life table) as a donor sees them: through disclosure control
    along `dimension`, without totals (the steps are nested, not parts of a whole)."""
    return disclosure.protect(table, dimensions=[dimension], **disclosure.settings())


def filter_options(participants: pd.DataFrame, dimension: str, scope: Scope | None = None) -> list[str]:
    """The values a filter offers: those the participants have (and "not recorded"); with a
    donor's scope, only of the participants in it, so no other program's or site's name shows."""
    if scope is not None:
        keep = np.ones(len(participants), dtype=bool)
        for name, values in sharing.scope_filters(scope, {}).items():
            keep &= participants[name].isin(values).to_numpy()
        participants = participants[keep]
    column = participants[dimension]
    return sorted(v for v in column.cat.categories if (column == v).any() or v == NOT_RECORDED)


def link_view(view: View, scope: Scope, period_asked: bool) -> View:
    """The view a donor opens: her link's period, unless the URL asks for another one."""
    return view if period_asked else replace(view, preset="custom", start=scope.period_start, end=scope.period_end)


def scoped_selection(scope: Scope, start: dt.date | None, end: dt.date,
                     filters: Mapping[str, tuple[str, ...]], today: dt.date) -> Selection:
    """The selection a donor asked for, clamped to her scope: a widened URL gives less, never
    more, and a period outside the scope gives nothing."""
    period = sharing.scope_period(scope, start, end, today)
    if period is None:
        return Selection(start, end, NOTHING)
    return Selection(period[0], period[1], sharing.scope_filters(scope, filters))
