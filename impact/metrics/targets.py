"""Progress against what the programs promised their donors (the targets table).

Each target row names a metric of the catalog, an optional program and site, and a period;
its actual is that metric computed by the one engine (`impact.metrics.engine.compute`) for the
target's organization, program and site, from the period's start to its end or today,
whichever comes first. Nothing here re-derives a metric.
"""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import numpy as np
import pandas as pd

from impact.present import formatting
from impact.metrics.catalog import METRICS, Kind, Timing
from impact.metrics.intervals import ratio
from impact.metrics.engine import Selection, compute


class Status(StrEnum):
    """How a target stands (see `target_progress`)."""
    ACHIEVED = "achieved"
    ON_TRACK = "on track"
    BEHIND = "behind"
    NO_DATA = "no data"


# While a period runs, a rate within 5 percentage points of its target is on track.
RATE_TOLERANCE = 0.05
COLUMNS = ["organization", "indicator", "label", "program", "site", "period_start", "period_end", "target",
           "target_display", "actual", "numerator", "denominator", "percent_achieved", "expected_share",
           "expected", "status", "note"]


def rate_as_fraction(written: pd.Series) -> pd.Series:
    """A rate target as a fraction. The spec reads `80%` and `80` as 80 %; a value of at most 1
    is read as a fraction already, because Excel stores a cell formatted `80%` as 0.8 (and
    nobody promises a donor a 1 % rate)."""
    return written.where(written <= 1, written / 100)


def elapsed_share(start: pd.Series, end: pd.Series, today: pd.Timestamp) -> np.ndarray:
    """Share of each period's days (both ends inclusive) that have begun by `today`, 0..1."""
    days = (end - start).dt.days.to_numpy(dtype=float) + 1
    done = (today - start).dt.days.to_numpy(dtype=float) + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(done / days, 0, 1)


def _labels(prepared) -> dict[str, dict[str, str]]:
    """Known program and site labels by their lower-cased, space-trimmed spelling, so a target
    written `phnom penh ` still finds Phnom Penh."""
    sites = [site for frame in (prepared.participants, prepared.activities, prepared.network_members, prepared.cases)
             for site in frame["site"].cat.categories]
    return {"program": {str(v).strip().lower(): v for v in prepared.participants["program"].cat.categories},
            "site": {str(v).strip().lower(): v for v in sites}}


def _blank(values: pd.Series) -> pd.Series:
    """Empty cells and blank text as missing: a target with no site is for all sites."""
    text = values.astype(object)
    return text.where(text.notna() & (text.astype(str).str.strip() != ""))


def target_progress(prepared, targets: pd.DataFrame | None = None, today: dt.date | None = None) -> pd.DataFrame:
    """One row per target: the actual, how far along it is and a status.

    - target: as a fraction for rates (a written 80 is 0.80), else as written; target_display
      writes it back as `80%`, `2,500` or `$30`.
    - actual: `compute` for [period_start, min(period_end, today)] filtered by the target's
      organization, program and site (empty = all). A metric that cannot take a filter (people
      reached by program) gives no data, with the engine's note.
    - expected_share: share of the period's days begun by today. Count flows accumulate, so
      their expected progress is target × expected_share; for rates and stocks it is the full
      target.
    - status: "no data" when the actual is missing (or the period has not started);
      "achieved" when the actual reaches the target, whether or not the period has ended;
      "on track" while the period runs (today ≤ period_end) and the actual reaches the
      expected progress (for rates, within 5 percentage points of the target); else "behind".
      For a lower-is-better metric the comparisons flip and "achieved" waits for the period's end.
    """
    today = pd.Timestamp(today or dt.date.today())
    t = (prepared.targets if targets is None else targets).reset_index(drop=True)
    optional = {c: _blank(t[c]) if c in t else pd.Series(np.nan, index=t.index, dtype=object)
                for c in ("organization", "program", "site")}
    labels = _labels(prepared)
    out = pd.DataFrame({
        "organization": optional["organization"],
        "indicator": t["indicator"].astype(object),
        "program": optional["program"].map(lambda v: labels["program"].get(str(v).strip().lower(), v)),
        "site": optional["site"].map(lambda v: labels["site"].get(str(v).strip().lower(), v)),
        "period_start": pd.to_datetime(t["period_start"]), "period_end": pd.to_datetime(t["period_end"]),
    }, index=t.index)
    written = pd.to_numeric(t["target"]).astype(float)
    known = out["indicator"].isin(list(METRICS))
    meta = out["indicator"].map(lambda k: METRICS.get(k))
    kind = meta.map(lambda m: m.kind if m else None)
    out["label"] = meta.map(lambda m: m.label if m else None)
    out["target"] = np.where(kind == Kind.RATE, rate_as_fraction(written), written)
    out["target_display"] = [formatting.written(v, k) for v, k in zip(out["target"], kind)]

    actuals = _actuals(prepared, out[known & (out["period_start"] <= today)], today)
    out = out.join(actuals)
    out["note"] = out["note"].astype(object).fillna("")
    out.loc[~known, "note"] = "unknown indicator"
    out.loc[known & (out["period_start"] > today), "note"] = "period has not started"

    out["expected_share"] = elapsed_share(out["period_start"], out["period_end"], today)
    accumulates = meta.map(lambda m: bool(m) and m.timing == Timing.FLOW and m.kind == Kind.COUNT).to_numpy(dtype=bool)
    out["expected"] = np.where(accumulates, out["target"] * out["expected_share"], out["target"])
    out["percent_achieved"] = ratio(out["actual"], out["target"])
    out["status"] = _status(out, meta, kind, today)
    return out[COLUMNS]


def _actuals(prepared, rows: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    """actual, numerator, denominator and note per target row, one `compute` per distinct
    (organization, program, site, period)."""
    scope = ["organization", "program", "site", "period_start", "period_end"]
    found = []
    for key, group in rows.groupby(scope, dropna=False, sort=False):
        org, program, site, start, end = key
        filters = {name: (value,) for name, value in
                   (("organization", org), ("program", program), ("site", site)) if pd.notna(value)}
        result = compute(prepared, Selection(start.date(), min(end, today).date(), filters),
                         keys=tuple(group["indicator"].unique())).set_index("metric")
        found.append(pd.DataFrame({
            "actual": result["value"], "numerator": result["numerator"],
            "denominator": result["denominator"], "note": result["note"],
        }).reindex(group["indicator"]).set_index(group.index))
    columns = ["actual", "numerator", "denominator", "note"]
    return pd.concat(found) if found else pd.DataFrame(columns=columns, dtype=float)


def _status(out: pd.DataFrame, meta: pd.Series, kind: pd.Series, today: pd.Timestamp) -> np.ndarray:
    higher = meta.map(lambda m: m.higher_is_better if m else True).to_numpy(dtype=bool)
    sign = np.where(higher, 1.0, -1.0)
    actual, target, expected = (out[c].to_numpy(dtype=float) * sign for c in ("actual", "target", "expected"))
    tolerance = np.where(kind == Kind.RATE, RATE_TOLERANCE, 0.0)
    running = (out["period_end"] >= today).to_numpy()
    achieved = (actual >= target - 1e-9) & (higher | ~running)    # 57/100 written vs 57 of 100 found
    on_track = running & (actual >= expected - tolerance - 1e-9)
    return np.select([np.isnan(actual), achieved, on_track], [Status.NO_DATA.value, Status.ACHIEVED.value,
                                                               Status.ON_TRACK.value], Status.BEHIND.value)


def targets_in_view(progress: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The rows of `target_progress` a view covers: target periods overlapping the selection's
    period, and, for each organization, program or site filter, targets scoped to one of its
    values (a target for all sites is not one site's)."""
    keep = progress["period_end"].notna().to_numpy(dtype=bool, copy=True)
    if selection.end is not None:
        keep &= (progress["period_start"] <= pd.Timestamp(selection.end)).to_numpy()
    if selection.start is not None:
        keep &= (progress["period_end"] >= pd.Timestamp(selection.start)).to_numpy()
    for name in ("organization", "program", "site"):
        if name in selection.filters:
            keep &= progress[name].isin(selection.filters[name]).to_numpy()
    return progress[keep].reset_index(drop=True)


def tile_targets(progress: pd.DataFrame, selection: Selection, today: dt.date,
                 organizations: list[str]) -> pd.DataFrame:
    """The target each headline figure of `selection` stands beside, one row per indicator
    (the columns of `target_progress`), so that its actual is the figure on the tile:

    - a target whose scope and period are the selection's: the same organization, program and
      site (a blank one is all of them), starting on the selection's first day and counted to
      its last (the end of the target's period, or today while it runs);
    - without one organization chosen (all `organizations`, or several), a count's targets of
      every one of those organizations for that same period, added up.

    Anything else (a quarter beside an annual target, one organization's target beside all
    organizations' figure, a filter that targets do not have) stands beside no tile; the
    Targets page lists every target of a view."""
    none = progress.iloc[0:0]
    if selection.start is None or set(selection.filters) - {"organization", "program", "site"}:
        return none
    end = pd.Timestamp(selection.end or today)
    same = (progress["period_start"] == pd.Timestamp(selection.start)) & \
        (progress["period_end"].clip(upper=pd.Timestamp(today)) == end)
    for name in ("program", "site"):
        chosen = selection.filters.get(name, ())
        if len(chosen) > 1:
            return none
        same &= progress[name].eq(chosen[0]) if chosen else progress[name].isna()
    matching = progress[same]
    chosen = tuple(selection.filters.get("organization", ()))
    if len(chosen) == 1:
        return matching[matching["organization"] == chosen[0]].drop_duplicates("indicator")
    whole = matching[matching["organization"].isna()] if not chosen else none
    return pd.concat([whole, _summed(matching, chosen or tuple(organizations))]).drop_duplicates("indicator")


def _summed(progress: pd.DataFrame, organizations: tuple[str, ...]) -> pd.DataFrame:
    """Counts' targets of every one of `organizations` (one target each) added up, with their
    actuals; an indicator some organization has no target for is left out."""
    counts = progress[progress["indicator"].map(lambda k: METRICS[k].kind == Kind.COUNT if k in METRICS else False)
                      & progress["organization"].isin(organizations)]
    complete = counts.groupby("indicator").filter(
        lambda g: len(g) == len(organizations) and set(g["organization"]) == set(organizations))
    if complete.empty:
        return progress.iloc[0:0]
    summed = complete.groupby("indicator", sort=False).agg(
        label=("label", "first"), period_start=("period_start", "first"), period_end=("period_end", "first"),
        target=("target", "sum"), actual=("actual", lambda a: a.sum(min_count=len(a)))).reset_index()
    summed["organization"] = ", ".join(organizations)
    summed["target_display"] = [formatting.written(v, Kind.COUNT) for v in summed["target"]]
    summed["percent_achieved"] = ratio(summed["actual"], summed["target"])
    return summed.reindex(columns=COLUMNS)
