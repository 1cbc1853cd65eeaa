"""What a donor sees, decided here and not in the pages: a donor (a share link) sees protected
aggregates of her link's scope only, and staff see exact figures.

- Metric tables go through disclosure control (cell-key noise, then suppression and rounding)
  with the totals of the same grouping without
  its dimensions, so no hidden cell can be worked back as a total minus its visible siblings.
- Breakdowns made outside the metric engine, and comparisons of overlapping periods, are for
  staff only: they have not been through disclosure control, and chaining overlapping windows
  of one rounded figure recovers exact small counts. So a donor sees targets as promised,
  without their actuals.
- The filters offer a donor the programs and sites of her scope only, one value each or all;
  her periods are the whole calendar quarters and years of her link's period (a release, not
  a query engine), and the selection she asks for is clamped to her scope: never more.

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
    exact table of a grouping with its cell keys (the caller caches it); the totals it needs
    are taken from it."""
    totals_by = suppression_totals(by)
    totals = None if totals_by is None else table_by(totals_by)
    dimensions = [b for b in by if b not in TIME_GRAINS]
    return disclosure.donor_table(table_by(by), totals, dimensions=dimensions, **disclosure.settings())[0]


# What a target's row says that is not a measurement: the promise itself.
PROMISE = ["organization", "indicator", "label", "program", "site", "period_start", "period_end", "target",
           "target_display"]


def promised_targets(progress: pd.DataFrame) -> pd.DataFrame:
    """Targets as a donor sees them: what was promised, for which scope and period, without the
    actuals measured against them (exact figures, and the actuals of overlapping target periods
    could be worked against each other)."""
    return progress[PROMISE].copy()


def protected_rows(table: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Rows in the engine's shape with cell keys, made beside it (the steps of the case
    pathway, the intervals of a life table), as a donor sees them: through the one disclosure
    step along `dimension`, without totals (the steps are nested, not parts of a whole)."""
    return disclosure.donor_table(table, dimensions=[dimension], **disclosure.settings())[0]


def filter_options(participants: pd.DataFrame, dimension: str, scope: Scope | None = None,
                   chosen: Mapping[str, tuple[str, ...] | list[str]] | None = None) -> list[str]:
    """The values a filter offers: those the participants have (and "not recorded") within the
    values `chosen` in the other filters (Site offers the chosen organization's sites; a
    dimension's own choice never narrows its own list); with a donor's scope, only of the
    participants in it, so no other program's or site's name shows."""
    narrowing = [*(sharing.scope_filters(scope, {}).items() if scope is not None else ()),
                 *((name, values) for name, values in (chosen or {}).items() if values and name != dimension)]
    keep = np.ones(len(participants), dtype=bool)
    for name, values in narrowing:
        keep &= participants[name].isin(list(values)).to_numpy()
    column = participants[dimension][keep]
    return sorted(v for v in column.cat.categories if (column == v).any() or v == NOT_RECORDED)


def link_view(view: View, scope: Scope, today: dt.date) -> View:
    """The view a donor may have: one of her link's release periods (the one the URL asks
    for, else the whole period) and one value per filter or all, whatever the URL says."""
    start, end = sharing.release_period(scope, view.start, view.end, today) if view.preset == "custom" \
        else sharing.release_periods(scope, today)[0]
    filters = {d: values for d, values in view.filters.items() if len(values) == 1}
    return replace(view, preset="custom", start=start, end=end, filters=filters)


def scoped_selection(scope: Scope, start: dt.date | None, end: dt.date | None,
                     filters: Mapping[str, tuple[str, ...]], today: dt.date) -> Selection:
    """The selection a donor asked for, within her link: a release period and one value per
    filter, clamped to her scope. A widened or day-level URL gives less, never more."""
    return Selection(*sharing.release_period(scope, start, end, today), sharing.scope_filters(scope, filters))
