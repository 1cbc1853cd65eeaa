"""Statistical disclosure control: what a donor may see of a metric table.

The people behind these numbers are survivors of sex trafficking and women at risk, often
counted in small groups (one savings group, one district, one month). A small count next to a
site name can point at a person, so donor views show figures only after the spec's Privacy
rules, applied here in one pure step. We follow trusted publishers of such data: OpenSAFELY
suppresses counts of 7 or less and rounds the rest to a multiple of 5; the Counter Trafficking
Data Collaborative publishes nothing about fewer than 11 people. Our defaults sit between them,
a threshold of 10 and rounding to 5, both configurable (`settings()` reads
`IMPACT_SUPPRESSION_THRESHOLD` and `IMPACT_ROUNDING`; the caller passes them to `protect`,
which reads no environment and keeps no state, so the same table always gives the same view).

The rules, for every count a row holds (a count metric's value; a rate's numerator and
denominator; an amount's denominator, which counts members):

- primary suppression: a count under the threshold, a true 0 included, shows as
  "fewer than 10", never as a number (a 0 discloses too: "nobody at this site left");
- rounding: the other counts are rounded to the nearest multiple of `rounding`, and never
  below the threshold, so a shown figure never reads as a suppressed one;
- rates are recomputed, with their Wilson interval, from the protected counts (so value,
  numerator and denominator agree and none gives the exact counts back), and withheld when
  the numerator, the denominator or their difference is under the threshold; a small
  difference is a small count too ("all but 6 saved"), so the numerator is then suppressed;
- complementary suppression: within a breakdown (same metric and period) and its total, a
  suppressed cell could be worked back by subtraction when it is the only one missing from
  a group of siblings (cells differing along one dimension) or from the breakdown and its
  total. Each such group gets a second suppressed cell (the smallest one, preferring one
  that also completes another group, so two-way tables lose a rectangle rather than a
  cascade), until every group hides either no cell or at least two. Groups are checked as
  if their margins were published, because they may be, on another page of a share link.
- amounts (money per member) are withheld with their denominator; a shown amount keeps its
  value to the cent, but not its money total, which with the value gives the exact member
  count back; a median (days from report to verdict) likewise, in whole days.

Directors see exact figures; this module is for donor views only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from impact import config

from impact.present import formatting
from impact.metrics.catalog import Kind
from impact.metrics.intervals import rate

KEY = ["metric", "period_start", "period_end"]
NUMBERS = ["numerator", "denominator", "value", "ci_low", "ci_high"]
CORE = ["metric", "kind", *KEY[1:], *NUMBERS]
OUTPUT = ["display", "suppressed", "suppression"]
# Columns of the engine's table that describe a row, not a group of it.
DESCRIPTIVE = ["note"]
# The fields of a row of each kind that count people, and so are protected as counts.
COUNTS = {Kind.COUNT: ["value"], Kind.RATE: ["numerator", "denominator"], Kind.AMOUNT: ["denominator"],
          Kind.MEDIAN: ["denominator"]}
# Kinds whose value is per counted unit (money per member, median days per verdict): shown
# with their protected denominator, withheld with it.
PER_UNIT = [Kind.AMOUNT, Kind.MEDIAN]

# Values of the `suppression` column.
SMALL = "small count"            # a count under the threshold
DIFFERENCE = "small difference"  # a rate's denominator minus numerator under the threshold
COMPLEMENTARY = "complementary"  # hidden so that another hidden cell cannot be worked back
WITHHELD_SMALL = "withheld (small numbers)"
WITHHELD_OTHER = "withheld to protect another cell"


def settings() -> dict[str, int]:
    """The disclosure settings for `protect(table, **settings())`: threshold 10 and rounding 5
    unless IMPACT_SUPPRESSION_THRESHOLD / IMPACT_ROUNDING say otherwise."""
    return {"threshold": config.suppression_threshold(), "rounding": config.rounding()}


def protect(table: pd.DataFrame, totals: pd.DataFrame | None = None, threshold: int = 10,
            rounding: int = 5, dimensions: list[str] | None = None) -> pd.DataFrame:
    """The donor view of a metric table (see the module docstring for the rules).

    `totals` holds the same metrics and periods without dimensions: they are counted as
    known when deciding what else to hide. If you show the totals too, take them from
    `protect_with_totals`, which may have to hide a total (a lone suppressed sibling equals
    it); protecting them on their own would miss that. `dimensions` defaults to every column
    that is not a metric-table column. Returns a copy of `table` with the protected numbers
    and the columns `display`, `suppressed` and `suppression`.
    """
    return protect_with_totals(table, totals, threshold, rounding, dimensions)[0]


def protect_with_totals(table: pd.DataFrame, totals: pd.DataFrame | None = None,
                        threshold: int = 10, rounding: int = 5,
                        dimensions: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """`protect` for a breakdown and its totals together: (protected table, protected totals)."""
    if rounding < 1 or threshold < 0:
        raise ValueError("rounding must be at least 1 and threshold at least 0")
    dims = list(dimensions) if dimensions is not None else [c for c in table if c not in CORE + OUTPUT + DESCRIPTIVE]
    frames = [table] + ([totals] if totals is not None and len(totals) else [])
    for frame, name in zip(frames, ["table", "totals"]):
        missing = [c for c in CORE if c not in frame]
        unknown = set(frame["kind"]) - COUNTS.keys() if "kind" in frame else set()
        if missing or unknown:
            raise ValueError(f"{name}: missing columns {missing}" if missing else f"{name}: unknown kinds {unknown}")
    if len(frames) == 2 and (totals.reindex(columns=dims).notna().any().any() or totals.duplicated(KEY).any()):
        raise ValueError("totals must hold one row per metric and period, without dimension values")

    keys = pd.concat([f.reindex(columns=KEY + dims) for f in frames], ignore_index=True)
    for col in KEY[1:]:
        keys[col] = pd.to_datetime(keys[col])
    is_total = np.arange(len(keys)) >= len(table)
    kind = np.concatenate([f["kind"].to_numpy(dtype=object) for f in frames])
    raw = {c: np.concatenate([f[c].to_numpy(dtype=float, na_value=np.nan) for f in frames])
           for c in ("value", "numerator", "denominator")}

    def rounded(x):
        """Nearest multiple of `rounding` (halves up), never below the threshold."""
        return np.maximum(np.floor(x / rounding + 0.5) * rounding, np.ceil(threshold / rounding) * rounding)

    # One cell per count: (row, field), with its primary-suppression reason.
    rows = {f: np.flatnonzero(np.isin(kind, [k for k, fs in COUNTS.items() if f in fs])) for f in raw}
    cells = pd.concat([keys.iloc[r].assign(field=f, row=r) for f, r in rows.items()], ignore_index=True)
    row, field = cells["row"].to_numpy(), cells["field"].to_numpy()
    x = np.concatenate([raw[f][r] for f, r in rows.items()])
    n, d = raw["numerator"], raw["denominator"]
    small_difference = (kind == Kind.RATE) & (n >= threshold) & (d >= threshold) & (
        (d - n < threshold) | (rounded(d) - rounded(n) < threshold))
    reason = np.where(x < threshold, SMALL,
                      np.where((field == "numerator") & small_difference[row], DIFFERENCE, ""))

    # Sibling groups along each dimension (breakdown cells only), and the whole breakdown with
    # its total; -1 marks a cell outside the grouping.
    groups = [np.where(is_total[row], -1, _group_ids(cells, KEY + ["field"] + [o for o in dims if o != dim]))
              for dim in dims]
    groups.append(_group_ids(cells, KEY + ["field"]))
    hidden = _complete(groups, x, reason != "", is_total[row])

    # Back to rows: a row is suppressed when any of its counts is; primary reasons first.
    row_hidden = np.zeros(len(keys), bool)
    row_reason = np.full(len(keys), "", dtype=object)
    shown = {}
    for f, counts in raw.items():
        mine = field == f
        h = np.zeros(len(keys), bool)
        h[row[mine]] = hidden[mine]
        r = np.full(len(keys), "", dtype=object)
        r[row[mine]] = reason[mine]
        row_hidden |= h
        row_reason = np.where(row_reason == "", r, row_reason)
        shown[f] = np.where(h, np.nan, rounded(counts))
    row_reason = np.where(row_hidden & (row_reason == ""), COMPLEMENTARY, row_reason)

    nan = np.full(len(keys), np.nan)
    is_rate, is_amount = kind == Kind.RATE, np.isin(kind, PER_UNIT)
    numerator = np.where(is_rate, shown["numerator"], nan)
    denominator = np.where(is_rate | is_amount, shown["denominator"], nan)
    share, low, high = rate(numerator, denominator)
    value = np.select([kind == Kind.COUNT, is_rate, is_amount & np.isfinite(denominator)],
                      [shown["value"], share, np.where(kind == Kind.MEDIAN, np.round(raw["value"]), np.round(raw["value"], 2))], np.nan)
    out = {"numerator": numerator, "denominator": denominator, "value": value,
           "ci_low": np.where(is_rate, low, nan), "ci_high": np.where(is_rate, high, nan),
           "display": np.array(_display(kind, value, row_reason, threshold), dtype=object),
           "suppressed": row_hidden, "suppression": row_reason}

    def part(frame, rows):
        return frame.assign(**{c: v[rows] for c, v in out.items()}).astype({"display": "str", "suppression": "str"})

    protected = part(table, slice(0, len(table)))
    protected_totals = None if totals is None else part(totals, slice(len(table), len(keys)))
    return protected, protected_totals


def _group_ids(cells: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Group number of each cell by `columns`, a missing dimension value being a value too."""
    return cells.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()


def _lonely(group: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Cells of a group that hides exactly one cell: that one could be worked back."""
    inside = group >= 0
    count = np.bincount(group[inside], weights=hidden[inside], minlength=max(group.max(initial=-1) + 1, 1))
    return inside & (count[np.where(inside, group, 0)] == 1)


def _complete(groups: list[np.ndarray], x: np.ndarray, hidden: np.ndarray, is_total: np.ndarray) -> np.ndarray:
    """Secondary suppression until no group hides exactly one cell.

    In each such group, hide one more shown cell: a breakdown cell before the total, then one
    that also completes another group, then the smallest (the least information lost), then
    the first. Cells are only ever added, so this ends."""
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for group in groups:
            candidates = np.flatnonzero(_lonely(group, hidden) & ~hidden & np.isfinite(x))
            if not len(candidates):
                continue
            completes = sum(_lonely(g, hidden) for g in groups)[candidates]
            c = candidates[np.lexsort((x[candidates], -completes, is_total[candidates], group[candidates]))]
            _, first = np.unique(group[c], return_index=True)
            hidden[c[first]] = True
            changed = True
    return hidden


def _display(kind: np.ndarray, value: np.ndarray, reason: np.ndarray, threshold: int) -> list[str]:
    """The protected value as people read it: "1,234", "65.6%", "$12.34" or why it is hidden."""
    def one(k, v, why):
        if why:
            if why == COMPLEMENTARY:
                return WITHHELD_OTHER
            return f"fewer than {threshold:,}" if k == Kind.COUNT else WITHHELD_SMALL
        return formatting.value(k, v) if np.isfinite(v) else "no data"
    return [one(k, v, why) for k, v, why in zip(kind, value, reason)]
