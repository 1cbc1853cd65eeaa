"""A `Selection` applied to people outside the metric engine, by the views (funnel, cohorts,
status mix, income by status) that follow women rather than sum a catalog fact.

The filter is the engine's array lookup on `pidx` (`impact.metrics.engine.participant_mask`) and the
period's bounds are the engine's own (`impact.metrics.engine.bounds`), so the views read a selection
exactly as `impact.metrics.engine.compute` does.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from impact.metrics.facts import registrations
from impact.metrics.engine import Selection, bounds, participant_mask
from impact.metrics.prepared import PARTICIPANT_DIMENSIONS, Prepared


def passes(prepared: Prepared, pidx, selection: Selection) -> np.ndarray:
    """Whether each pidx passes the selection's filters on participant attributes (the others
    name courses or groups, which a person has not)."""
    filters = {k: v for k, v in selection.filters.items() if k in PARTICIPANT_DIMENSIONS}
    return participant_mask(prepared, pidx, filters)


def registered_in(prepared: Prepared, selection: Selection, today: dt.date | None = None) -> np.ndarray:
    """pidx of the participants registered in the selection's period who pass its filters."""
    start, end = bounds(selection, today)
    pidx = registrations(prepared, start, end)["pidx"].to_numpy()
    return pidx[passes(prepared, pidx, selection)]
