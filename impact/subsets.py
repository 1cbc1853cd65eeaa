"""A `Selection` applied outside the metric engine, by the outcome views (funnel, cohorts,
savings groups) that follow people rather than sum a catalog fact.

They need the same two things the engine does: the period's bounds ("no end" is today, "no
start" is from the first record) and a participant filter that is an array lookup on `pidx`.
Keeping them here means the views read a selection exactly as `impact.metrics.compute` does.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from impact.facts import registrations
from impact.metrics import Selection
from impact.prepared import PARTICIPANT_DIMENSIONS, Prepared


def bounds(selection: Selection, today: dt.date | None = None) -> tuple[pd.Timestamp | None, pd.Timestamp]:
    """(start, end) of the selection as timestamps; start None means from the first record."""
    end = pd.Timestamp(selection.end or today or dt.date.today())
    return (pd.Timestamp(selection.start) if selection.start else None), end


def participant_filters(selection: Selection) -> dict[str, tuple[str, ...]]:
    """The selection's filters on participant attributes (the others name courses or groups)."""
    return {k: v for k, v in selection.filters.items() if k in PARTICIPANT_DIMENSIONS}


def participant_mask(prepared: Prepared, pidx, filters: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Whether each pidx passes the participant filters. An unregistered person (pidx -1) has
    no attributes: she passes only when there is no filter."""
    pidx = np.asarray(pidx, dtype=np.int64)
    keep = np.ones(len(pidx), dtype=bool)
    for name, allowed in filters.items():
        column = prepared.participants[name].cat
        ok = np.append(column.categories.isin(list(allowed)), False)   # code -1 -> False
        keep &= ok[np.append(column.codes.to_numpy(), -1)[pidx]]      # pidx -1 -> code -1
    return keep


def registered_in(prepared: Prepared, selection: Selection, today: dt.date | None = None) -> np.ndarray:
    """pidx of the participants registered in the selection's period who pass its filters."""
    start, end = bounds(selection, today)
    pidx = registrations(prepared, start, end)["pidx"].to_numpy()
    return pidx[participant_mask(prepared, pidx, participant_filters(selection))]
