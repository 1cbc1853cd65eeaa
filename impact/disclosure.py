"""Statistical disclosure control: what a donor may see of a metric table.

The people behind these numbers are survivors of sex trafficking and women at risk, often
counted in small groups (one savings group, one district, one month). A small count next to a
site name can point at a person, so donor views show figures only after the spec's Privacy
rules, applied here in one pure step. We follow trusted publishers of such data: OpenSAFELY
suppresses counts of 7 or less and rounds the rest to a multiple of 5; the Counter Trafficking
Data Collaborative publishes nothing about fewer than 11 people. Our defaults sit between them,
a threshold of 10 and rounding to 5 (after the cell-key noise below), both configurable (`settings()` reads
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
- amounts (money per member) are withheld with their denominator; a shown amount is its
  (perturbed) money total over its shown member count, in whole dollars (thousand riel), never
  the exact figure: an exact amount per member against whole-dollar ledgers gives the member
  count back. The money total itself is not shown.

Before those rules, a donor table is perturbed (`donor_table`), with the cell-key method of
the Australian Bureau of Statistics' TableBuilder. Suppression and rounding alone do not hold
against a patient donor: overlapping views of one rounded count (a year and its quarters, a
total and its groups) are each a range, and chained together the ranges pin exact small
counts. So every record keeps a permanent random key in the store (`record_key`, uniform in
[0, KEY_MODULUS), drawn at ingest; never shown, never exported), the metrics engine sums the
keys of each cell's contributors (`numerator_key`, `denominator_key`), and:

- every count (a count metric's value; a rate's or an amount's numerator and denominator of
  people) gets the noise NOISE[i] with probability NOISE_PROBABILITIES[i], i chosen by its
  cell key (key sum mod KEY_MODULUS, read as a fraction): -2..+2, mean 0, variance 1.2. An
  empty cell stays 0 and no count goes below 0. The same contributors always give the same
  noise, so asking again (another page, another day, a year that holds one quarter's records)
  never averages it away; a cell with other contributors gets independent noise.
- a money total (an amount's numerator) is moved by up to MONEY_NOISE (10%) either way, by
  a second draw from its cell key.
- then the rules above, on the perturbed counts: suppression under the threshold, rounding,
  rates recomputed, complementary suppression, amounts in whole dollars.

What it protects against: differencing and chaining of what a donor may ask for (the periods
and filters of her link, the breakdowns the pages draw): a shown count is the true one within
NOISE plus rounding (+-4 with the defaults) and a suppressed one is under threshold + 2, and
however views are combined, the noise of each stays. What it does not: a donor who knows
most people of a cell from elsewhere still learns about the rest within those bounds; shown
figures of a breakdown add up to its total only within (cells + 1) x 4; a re-uploaded file
makes new records with new keys, so its cells get new noise (each version of the data is
one more draw); and amounts are protected as figures of groups, not of a person's ledger.
  A median (days from report to verdict) is withheld with its count, and shown in whole days.

Directors see exact figures; this module is for donor views only.
"""
from __future__ import annotations

import secrets

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

# Cell-key perturbation (see the module docstring): record keys are uniform in [0, KEY_MODULUS),
# so that they fit an SQL INTEGER; a cell's key is its contributors' key sum mod KEY_MODULUS.
KEY_MODULUS = 2 ** 31
KEY_COLUMNS = ("numerator_key", "denominator_key")
NOISE = np.array([-2, -1, 0, 1, 2])
NOISE_PROBABILITIES = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
MONEY_NOISE = 0.10
# A second, independent-looking draw from a cell key: multiplying by an odd constant is a
# bijection of the keys mod 2**31, and scatters neighbouring keys across the whole range.
_MONEY_MIXER = 2_654_435_761
# Shown amounts: whole dollars, thousand riel.
MONEY_ROUNDING = {"USD": 1, "KHR": 1000}


def settings() -> dict[str, int]:
    """The disclosure settings for `protect(table, **settings())`: threshold 10 and rounding 5
    unless IMPACT_SUPPRESSION_THRESHOLD / IMPACT_ROUNDING say otherwise."""
    return {"threshold": config.suppression_threshold(), "rounding": config.rounding()}


def new_record_keys(n: int) -> np.ndarray:
    """Permanent keys for n new records: uniform in [0, KEY_MODULUS), from the operating
    system's random source (a donor must not be able to guess them)."""
    return np.frombuffer(secrets.token_bytes(4 * n), dtype=np.uint32).astype(np.int64) % KEY_MODULUS


def noise(cell_keys) -> np.ndarray:
    """The noise of cells from their cell keys: NOISE[i], i drawn with NOISE_PROBABILITIES by
    the key read as a fraction (a fixed function: same key, same noise)."""
    fraction = (np.asarray(cell_keys, dtype=np.int64) % KEY_MODULUS) / KEY_MODULUS
    return NOISE[np.searchsorted(np.cumsum(NOISE_PROBABILITIES)[:-1], fraction, side="right")]


def money_factor(cell_keys) -> np.ndarray:
    """The factor a money total is multiplied by, in [1 - MONEY_NOISE, 1 + MONEY_NOISE), from
    a second draw of its cell key."""
    mixed = (np.asarray(cell_keys, dtype=np.int64) % KEY_MODULUS * _MONEY_MIXER) % KEY_MODULUS
    return 1 + MONEY_NOISE * (2 * mixed / KEY_MODULUS - 1)


def perturbed(table: pd.DataFrame) -> pd.DataFrame:
    """A metric table with cell keys, its counts and money totals perturbed (see the module
    docstring) and its key columns dropped. Values are not recomputed: `protect` does that
    from the protected counts."""
    missing = [c for c in KEY_COLUMNS if c not in table]
    if missing:
        raise ValueError(f"a donor table needs the cell keys of its rows: missing {missing}")
    keys = {c: table[c].to_numpy(dtype=np.int64) for c in KEY_COLUMNS}
    kind = table["kind"].to_numpy(dtype=object)
    is_count, is_rate, is_amount = kind == Kind.COUNT, kind == Kind.RATE, kind == Kind.AMOUNT
    is_per_unit = np.isin(kind, PER_UNIT)

    def counted(x, key):
        """A count with its noise; 0 stays 0 (no contributor), none goes below 0."""
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, np.maximum(x + noise(key), 0), x)

    value, numerator, denominator = (table[c].to_numpy(dtype=float, na_value=np.nan)
                                     for c in ("value", "numerator", "denominator"))
    shown_denominator = counted(denominator, keys["denominator_key"])
    return table.drop(columns=list(KEY_COLUMNS)).assign(
        value=np.where(is_count, counted(value, keys["numerator_key"]), value),
        numerator=np.select([is_rate, is_amount], [
            np.minimum(counted(numerator, keys["numerator_key"]), shown_denominator),
            numerator * money_factor(keys["numerator_key"])], numerator),
        denominator=np.where(is_rate | is_per_unit, shown_denominator, denominator))


def donor_table(table: pd.DataFrame, totals: pd.DataFrame | None = None, dimensions: list[str] | None = None,
                threshold: int = 10, rounding: int = 5) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """What a donor sees of any long metric table with cell keys (the engine's rows, with
    `numerator_key` and `denominator_key`) and of its totals: perturbed, then protected
    (`protect_with_totals`). The one disclosure step of every donor view."""
    return protect_with_totals(perturbed(table), None if totals is None else perturbed(totals),
                               threshold, rounding, dimensions)


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
        if set(KEY_COLUMNS) & set(frame):
            raise ValueError(f"{name} holds cell keys: perturb it first (donor_table); keys are never shown")
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
    row = np.concatenate(list(rows.values()))
    field = np.concatenate([np.full(len(r), f, dtype=object) for f, r in rows.items()])
    x = np.concatenate([raw[f][r] for f, r in rows.items()])
    # Each key column's values as numbers (a missing value is a value too), for the cells' groups.
    codes = {c: pd.factorize(keys[c], use_na_sentinel=False)[0][row] for c in KEY + dims}
    codes["field"] = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows.values())])
    n, d = raw["numerator"], raw["denominator"]
    small_difference = (kind == Kind.RATE) & (n >= threshold) & (d >= threshold) & (
        (d - n < threshold) | (rounded(d) - rounded(n) < threshold))
    reason = np.where(x < threshold, SMALL,
                      np.where((field == "numerator") & small_difference[row], DIFFERENCE, ""))

    # Sibling groups along each dimension (breakdown cells only), and the whole breakdown with
    # its total; -1 marks a cell outside the grouping.
    groups = [np.where(is_total[row], -1, _group_ids(codes, KEY + ["field"] + [o for o in dims if o != dim]))
              for dim in dims]
    groups.append(_group_ids(codes, KEY + ["field"]))
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
    with np.errstate(divide="ignore", invalid="ignore"):     # money per member, in whole dollars
        per_member = np.round(raw["numerator"] / np.where(is_amount, denominator, np.nan) / MONEY_ROUNDING["USD"]) \
            * MONEY_ROUNDING["USD"]
    value = np.select([kind == Kind.COUNT, is_rate, is_amount & np.isfinite(denominator)],
                      [shown["value"], share, np.where(kind == Kind.MEDIAN, np.round(raw["value"]), per_member)], np.nan)
    out = {"numerator": numerator, "denominator": denominator, "value": value,
           "ci_low": np.where(is_rate, low, nan), "ci_high": np.where(is_rate, high, nan),
           "display": np.array(_display(kind, value, row_reason, threshold), dtype=object),
           "suppressed": row_hidden, "suppression": row_reason}

    out["display"], out["suppression"] = pd.array(out["display"], dtype="str"), pd.array(row_reason, dtype="str")

    def part(frame, rows):
        return frame.assign(**{c: v[rows] for c, v in out.items()})

    protected = part(table, slice(0, len(table)))
    protected_totals = None if totals is None else part(totals, slice(len(table), len(keys)))
    return protected, protected_totals


def _group_ids(codes: dict[str, np.ndarray], columns: list[str]) -> np.ndarray:
    """Group number of each cell by `columns` (their value codes): the same numbers make the
    same group; which number a group gets does not matter to `_complete`."""
    return np.unique(np.column_stack([codes[c] for c in columns]), axis=0, return_inverse=True)[1].ravel()


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
