"""A patient donor's differencing attack, through the functions the pages call.

On a real SQLite store where every small count is known (women registered by month, program,
age band and referral source; savings members with whole-dollar ledgers), a donor with a link
scoped to one organization, one site and 2024 asks for everything her link lets her choose:
every release period (the year, its quarters), every filter (all, or one value of one or two
dimensions), every breakdown the pages draw. Her attacker then does interval arithmetic over
all of it: each cell shown, rounded or withheld is a range of true counts; the ranges of
overlapping views (a year and its quarters and months, a total and its groups) are chained
by constraint propagation over the finest cells. Nothing hidden may come back exact.

The same attacker against the protection before cell keys (suppression and rounding only,
day-free month windows) does recover exact hidden counts: the attack has teeth.
"""
from __future__ import annotations

import datetime as dt
import functools
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import linprog

from impact import disclosure
from impact.access import protection, sharing
from impact.access.sharing import Scope
from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.store import open_store
from tests.frames import DEFAULTS, ledger, person
from tests.helpers import load, make_file

TODAY = dt.date(2025, 6, 1)
SCOPE = Scope(("KWCD",), sites=("Phnom Penh",), period_start=dt.date(2024, 1, 1), period_end=dt.date(2024, 12, 31))
AGES = {"under 18": 2008, "18-24": 2002, "25-34": 1994, "35+": 1980}
PROGRAMS = ("Night Outreach", "Hotline")
REFERRALS = ("hotline", "night_outreach", "peer_educator")
GROUP_TYPES = ("karaoke workers", "community network")
MONTHLY = [0, 1, 2, 3, 5, 8, 12, 20, 30]
# What the attacker knows of the method (the module docstring of impact.disclosure).
SLACK = int(disclosure.NOISE.max()) + 2          # noise, then rounding to 5: +-4
THRESHOLD = 10

pytestmark = pytest.mark.slow       # every view a donor can ask for


def _frame(name: str, rows: list[dict]) -> pd.DataFrame:
    from impact.contract.frames import typed
    records = [{**DEFAULTS[name], **r} for r in rows]
    frame = pd.DataFrame.from_records(records).assign(source_sheet=name, source_row=range(2, len(records) + 2))
    return typed(frame, name)


@pytest.fixture(scope="module")
def women(tmp_path_factory):
    return stored_women(tmp_path_factory.mktemp("attack"))


def stored_women(folder):
    """(prepared data of a store in `folder`, the women of the scope as a frame). Monthly
    counts from 0 (true zeros) to 30, spread over programs, age bands and referral sources, so
    most groups are small; a few women outside the scope; savings members with whole-dollar
    deposits."""
    rng = np.random.default_rng(2024)
    people, savings = [], []
    for month in range(1, 13):
        for i in range(int(rng.choice(MONTHLY))):
            pid = f"P-{month}-{i}"
            age = str(rng.choice(list(AGES)))
            people.append(person(pid, f"2024-{month:02d}-{int(rng.integers(1, 28)):02d}",
                                 program=str(rng.choice(PROGRAMS)), birth_year=AGES[age],
                                 referral_source=str(rng.choice(REFERRALS))))
            if rng.random() < 0.6:
                group = str(rng.choice(GROUP_TYPES))
                savings += [ledger(pid, f"2024-{m:02d}-28", float(rng.integers(1, 20)), group_type=group)
                            for m in range(month, 13, 3)]
    people += [person(f"S-{i}", "2024-05-02", site="Siem Reap") for i in range(3)]
    people += [person(f"L-{i}", "2025-02-02") for i in range(4)]                 # after the period
    store = open_store(folder / "store.db")
    store.ingest(load(make_file("KWCD_attack.xlsx", {"participants": _frame("participants", people),
                                                     "savings": _frame("savings", savings)})))
    prepared = prepare(store.tables())
    p = prepared.participants
    inside = p[(p["site"] == "Phnom Penh") & p["intake_date"].between("2024-01-01", "2024-12-31")]
    return prepared, inside


# --- what a donor may ask for ----------------------------------------------------------------

DIMENSIONS = {"program": PROGRAMS, "age_band": tuple(AGES), "referral_source": REFERRALS}
BREAKDOWNS = [(), ("quarter",), ("month",), ("program",), ("age_band",), ("referral_source",)]


def donor_choices():
    """Every filter a donor can set: all, or one value of one or two dimensions."""
    singles = [{d: (v,)} for d, values in DIMENSIONS.items() for v in values]
    pairs = [{a: (va,), b: (vb,)} for a, b in itertools.combinations(DIMENSIONS, 2)
             for va in DIMENSIONS[a] for vb in DIMENSIONS[b]]
    return [{}] + singles + pairs


def donor_views(prepared, keys: tuple[str, ...], wanted=lambda selection, by: True):
    """(selection, breakdown, protected table) of everything a donor can choose, as the pages
    compute it (app/session.metrics: protection.protected over compute with cell keys, each
    grouping's exact table computed once a selection, as the pages' cache keeps it); only the
    choices `wanted` are computed."""
    for start, end in sharing.release_periods(SCOPE, TODAY):
        for asked in donor_choices():
            selection = protection.scoped_selection(SCOPE, start, end, asked, TODAY)
            table_by = functools.cache(lambda grouping, selection=selection: compute(
                prepared, selection, grouping, keys, today=TODAY, cell_keys=True))
            for by in BREAKDOWNS:
                if set(by) & set(asked) or not wanted(selection, by):
                    continue
                yield selection, by, protection.protected(table_by, by)


# --- the attacker ------------------------------------------------------------------------------

ATOM_COLUMNS = ["month", "program", "age_band", "referral_source"]


def atoms_of(inside: pd.DataFrame) -> pd.DataFrame:
    """The finest cells the attacker solves for, with their true counts (0 for empty ones)."""
    grid = pd.MultiIndex.from_product([range(1, 13), PROGRAMS, tuple(AGES), REFERRALS], names=ATOM_COLUMNS)
    counts = inside.assign(month=inside["intake_date"].dt.month)[ATOM_COLUMNS].astype(object) \
        .value_counts().reindex(grid, fill_value=0)
    return counts.rename("true").reset_index()


def cell_members(atoms: dict[str, np.ndarray], selection: Selection, by: tuple[str, ...], row) -> np.ndarray:
    """Which atoms (their columns as arrays) a shown cell (a row of its table) adds up."""
    months = atoms["month"]
    start, end = pd.Timestamp(row["period_start"]), pd.Timestamp(row["period_end"])
    keep = (months >= start.month) & (months <= end.month)
    for dimension, values in selection.filters.items():
        if dimension in DIMENSIONS:
            keep &= np.isin(atoms[dimension], list(values))
    for dimension in by:
        if dimension in DIMENSIONS:
            keep &= atoms[dimension] == row[dimension]
    return keep


def interval(row, slack: int, threshold: int = THRESHOLD) -> tuple[float, float]:
    """The true counts a shown cell allows, to an attacker who knows the method."""
    if row["suppression"] == disclosure.SMALL:
        return 0, threshold - 1 + slack - 2        # perturbed (or exact) under the threshold
    if row["suppression"] == disclosure.COMPLEMENTARY:
        return max(threshold - (slack - 2), 0), np.inf
    shown = row["value"]
    low = max(shown - slack, 0)
    return (max(low, threshold - (slack - 2)) if shown == threshold else low), shown + slack


def solve(atoms: pd.DataFrame, constraints: list[tuple[np.ndarray, float, float]], rounds: int = 300):
    """Bounds on every atom, and on every constraint's sum, by interval propagation to a fixpoint."""
    members = np.array([m for m, _, _ in constraints], dtype=float)
    low_c = np.array([lo for _, lo, _ in constraints])
    high_c = np.array([hi for _, _, hi in constraints])
    big = 10_000.0
    high_c = np.minimum(high_c, big)
    lo, hi = np.zeros(len(atoms)), np.full(len(atoms), big)
    for _ in range(rounds):
        sum_lo, sum_hi = members @ lo, members @ hi
        room_hi = np.where(members > 0, (high_c - sum_lo)[:, None], np.inf).min(axis=0)
        room_lo = np.where(members > 0, (low_c - sum_hi)[:, None], -np.inf).max(axis=0)
        new_hi = np.minimum(hi, np.floor(lo + room_hi + 1e-9))
        new_lo = np.maximum(lo, np.ceil(new_hi + room_lo - 1e-9))
        if (new_hi == hi).all() and (new_lo == lo).all():
            break
        lo, hi = new_lo, new_hi
    assert (lo <= atoms["true"]).all() and (atoms["true"] <= hi).all(), "the attacker's bounds must be sound"
    return lo, hi, np.maximum(members @ lo, low_c), np.minimum(members @ hi, high_c)


def constraints_of(atoms, views, slack):
    columns = {c: atoms[c].to_numpy() for c in ATOM_COLUMNS}
    true = atoms["true"].to_numpy()
    out, truths = [], []
    for selection, by, table in views:
        for row in table[table["metric"] == "participants_registered"].to_dict("records"):
            members = cell_members(columns, selection, by, row)
            out.append((members, *interval(row, slack)))
            truths.append(true[members].sum())
    return out, np.array(truths)


def lp_bounds(atoms: pd.DataFrame, constraints, targets: list[np.ndarray]) -> list[tuple[float, float]]:
    """The least and most each target (a set of atoms) can hold under every constraint, by
    linear programming, rounded inward to whole people: a relaxation of the integer problem,
    so a range it leaves wider than one value is at least as wide as the attacker's."""
    members = sparse.csr_matrix(np.array([m for m, _, _ in constraints], dtype=float))
    low = np.array([lo for _, lo, _ in constraints], dtype=float)
    high = np.minimum(np.array([hi for _, _, hi in constraints], dtype=float), 10_000)
    a_ub, b_ub = sparse.vstack([members, -members]), np.r_[high, -low]
    out = []
    for target in targets:
        c = target.astype(float)
        least = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs").fun
        most = -linprog(-c, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs").fun
        out.append((np.ceil(least - 1e-6), np.floor(most + 1e-6)))
    return out


def test_a_donor_recovers_no_hidden_count_from_everything_her_link_lets_her_ask(women):
    prepared, inside = women
    atoms = atoms_of(inside)
    views = list(donor_views(prepared, ("participants_registered",)))
    constraints, truths = constraints_of(atoms, views, SLACK)
    assert len(constraints) > 1000                                    # the attacker asked a lot
    lo, hi, sum_lo, sum_hi = solve(atoms, constraints)
    # Every count a donor sees is hidden behind noise and rounding (or suppression):
    # none comes back exact, however the views are chained.
    pinned = [(t, l) for t, l, h in zip(truths, sum_lo, sum_hi) if l == h]
    assert pinned == [], f"{len(pinned)} cells recovered exactly, e.g. {pinned[:5]}"
    small = (atoms["true"] > 0) & (atoms["true"] < THRESHOLD)
    assert (hi[small] > lo[small]).all()
    # The strongest question, by linear programming over all of it at once: how many women
    # joined each month, and each program in each month ("exactly 1 joined the Hotline in September")?
    months = [(atoms["month"] == m).to_numpy() for m in range(1, 13)]
    targets = months + [m & (atoms["program"] == p).to_numpy() for m in months for p in PROGRAMS]
    for target, (least, most) in zip(targets, lp_bounds(atoms, constraints, targets)):
        assert least <= atoms.loc[target, "true"].sum() <= most
        assert most > least, ("recovered", least)
    # The small months are there to be found: some months hold fewer than 10 women, some none.
    monthly = inside["intake_date"].dt.month.value_counts().reindex(range(1, 13), fill_value=0)
    assert (monthly < THRESHOLD).sum() >= 3 and (monthly == 0).any()


def window_bounds(counts: np.ndarray, windows: list[tuple[int, int, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Interval arithmetic over overlapping windows, exactly: each window [i, j] bounds the
    difference of two running totals, and shortest paths over those differences give the
    tightest range of every day (Floyd-Warshall; running totals never go down)."""
    n = len(counts) + 1
    most = np.full((n, n), np.inf)
    np.fill_diagonal(most, 0)
    for i, j, low, high in windows:         # P[j+1] - P[i] in [low, high]
        most[i, j + 1] = min(most[i, j + 1], high)
        most[j + 1, i] = min(most[j + 1, i], -low)
    for k in range(n - 1):
        most[k + 1, k] = min(most[k + 1, k], 0)
    for k in range(n):
        most = np.minimum(most, most[:, [k]] + most[[k], :])
    days = np.arange(n - 1)
    return -most[days + 1, days], most[days, days + 1]


def test_the_same_attack_recovers_exact_counts_from_rounding_alone(women):
    """The protection before cell keys, with the day-level From/To a donor could choose then:
    every window of a quarter, rounded or suppressed, pins every day's exact count, small ones
    and true zeros included. The attacks above are real ones."""
    _, inside = women
    days = pd.date_range("2024-07-01", "2024-09-30")
    counts = inside["intake_date"].value_counts().reindex(days, fill_value=0).to_numpy()
    running = np.r_[0, np.cumsum(counts)]
    first, last = np.triu_indices(len(days))
    nan = np.nan
    table = pd.DataFrame({"metric": "participants_registered", "kind": "count", "period_start": days[first],
                          "period_end": days[last], "numerator": nan, "denominator": nan,
                          "value": (running[last + 1] - running[first]).astype(float), "ci_low": nan, "ci_high": nan})
    shown = disclosure.protect(table, **disclosure.settings())
    windows = [(i, j, *interval(row, slack=2)) for i, j, (_, row) in zip(first, last, shown.iterrows())]
    least, most = window_bounds(counts, windows)
    assert (least <= counts).all() and (counts <= most).all()
    assert shown["suppressed"].any() and (least == most).mean() > 0.9, (least == most).mean()


def test_per_member_amounts_give_no_member_count_or_hidden_total_away(women):
    """Savings per member against the member count: every shown amount fits every member count
    the count's range allows, and a withheld group's money total cannot be worked back from
    the total and its shown siblings."""
    prepared, _ = women
    keys = ("savings_per_member",)
    seen = 0
    whole_year = lambda selection, by: (by in [(), ("age_band",)] and selection.start.month == 1  # noqa: E731
                                        and selection.end.month == 12)
    for selection, by, table in donor_views(prepared, keys, whole_year):
        exact = compute(prepared, selection, by, keys, today=TODAY)
        for (_, shown), (_, true) in zip(table.iterrows(), exact.iterrows()):
            if true["denominator"] < THRESHOLD - disclosure.NOISE.max():
                assert np.isnan(shown["value"]), "a small group's amount is withheld with its members"
            if np.isnan(shown["value"]):
                continue
            seen += 1
            assert shown["value"] == round(shown["value"])             # whole dollars
            members = shown["denominator"]
            # whole-dollar totals T with round(T * f / members) == value for a noise factor f
            fits = [n for n in range(int(members) - SLACK, int(members) + SLACK + 1)
                    if n >= 0 and _whole_dollar_total_fits(shown["value"], members, n)]
            assert len(fits) > 1 and true["denominator"] in fits
        if by == ("age_band",) and not selection.filters.get("age_band"):
            total = protection.protected(lambda grouping: compute(
                prepared, selection, grouping, keys, today=TODAY, cell_keys=True), ())
            _no_hidden_total(table, total, exact)
    assert seen >= 3


def _whole_dollar_total_fits(value: float, shown_members: float, n: int) -> bool:
    """Whether n members with some whole-dollar total could show `value` per member."""
    low = (value - 0.5) * shown_members / (1 + disclosure.MONEY_NOISE)
    high = (value + 0.5) * shown_members / (1 - disclosure.MONEY_NOISE)
    return np.floor(high) >= np.ceil(low) or n == 0


def _no_hidden_total(groups: pd.DataFrame, total: pd.DataFrame, exact: pd.DataFrame) -> None:
    """The money of a withheld group, as the total minus its shown siblings: a range, never
    the exact amount (before cell keys: "under 18: 4 savers, $203"). Its width is what the
    README documents: each money total moves by up to 10%, so the difference of a total and its
    siblings brackets a hidden group's money to within about a quarter either way, and its
    member count stays unknown below the threshold."""
    def money(row):
        value, members = row["value"], row["denominator"]
        return ((value - 0.5) * (members - SLACK) / (1 + disclosure.MONEY_NOISE),
                (value + 0.5) * (members + SLACK) / (1 - disclosure.MONEY_NOISE))
    hidden = groups["value"].isna()
    if not hidden.any() or total["value"].isna().all():
        return
    shown = [money(r) for _, r in groups[~hidden].iterrows()]
    all_low, all_high = money(total.iloc[0])
    low = all_low - sum(h for _, h in shown)
    high = all_high - sum(lo for lo, _ in shown)
    truth = exact.loc[hidden.to_numpy(), "numerator"].sum()
    assert low <= truth <= high and high - low > max(0.2 * truth, 20), (low, truth, high)
