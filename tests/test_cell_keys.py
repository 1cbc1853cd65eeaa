"""The cell-key step of donor views (`impact.disclosure`): records' permanent keys in the store,
a cell's noise a fixed function of its contributors' keys, within its range, independent
between overlapping cells, and protected totals that still add up within the documented bounds.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from impact import disclosure
from impact.disclosure import KEY_COLUMNS, KEY_MODULUS, NOISE, NOISE_PROBABILITIES
from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.store import KEYED_TABLES, open_store
from tests.helpers import load, make_file, participants

YEAR = {"period_start": pd.Timestamp("2024-01-01"), "period_end": pd.Timestamp("2024-12-31")}
NAN = float("nan")
# A shown count is its true one within the noise and the rounding (to 5: +-2).
BOUND = int(NOISE.max()) + 2


def count(value, key, **group):
    return {"metric": "participants_registered", "kind": "count", **YEAR, **group, "numerator": NAN,
            "denominator": NAN, "value": float(value), "ci_low": NAN, "ci_high": NAN,
            "numerator_key": key, "denominator_key": 0}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A real store: 23 women registered in the second quarter of 2024, 2 in 2023."""
    store = open_store(tmp_path_factory.mktemp("keys") / "store.db")
    days = [dt.date(2024, 4 + i % 3, 1 + i) for i in range(23)] + [dt.date(2023, 5, 1)] * 2
    store.ingest(load(make_file("KWCD_reg.xlsx", {"participants": participants(
        [f"P{i}" for i in range(25)], intake_date=days)})))
    return store


def test_every_record_has_a_permanent_random_key_that_stays_in_the_store(stored):
    tables = stored.tables()
    keys = tables["participants"]["record_key"]
    assert keys.between(0, KEY_MODULUS - 1).all() and keys.nunique() == 25
    assert keys.tolist() == stored.tables()["participants"]["record_key"].tolist()   # permanent
    assert "record_key" not in tables["targets"] and set(KEYED_TABLES) < set(tables)
    fresh = disclosure.new_record_keys(10_000)
    assert fresh.min() >= 0 and fresh.max() < KEY_MODULUS and len(set(fresh)) > 9_950


def test_same_contributors_same_noise(stored):
    """The year and its second quarter hold the same women of 2024: the same noise, so asking
    for both (or again, another day) never averages it away."""
    prepared = prepare(stored.tables())

    def perturbed(start, end):
        table = compute(prepared, Selection(start, end), (), ("participants_registered",), cell_keys=True)
        return disclosure.perturbed(table)["value"].iloc[0], table["numerator_key"].iloc[0]

    year, quarter = perturbed(dt.date(2024, 1, 1), dt.date(2024, 12, 31)), perturbed(dt.date(2024, 4, 1), dt.date(2024, 6, 30))
    assert year == quarter and abs(year[0] - 23) <= NOISE.max()
    keys = stored.tables()["participants"].set_index("participant_id")["record_key"]
    assert year[1] == keys.drop(["P23", "P24"]).sum() % KEY_MODULUS      # the contributors' key sum
    table = pd.DataFrame([count(23, year[1])])
    assert disclosure.donor_table(table)[0].equals(disclosure.donor_table(table)[0])


def test_noise_stays_in_its_range_with_the_documented_probabilities():
    keys = np.random.default_rng(1).integers(0, KEY_MODULUS, 200_000)
    noise = disclosure.noise(keys)
    assert set(np.unique(noise)) == set(NOISE)
    shares = np.array([(noise == n).mean() for n in NOISE])
    assert np.abs(shares - NOISE_PROBABILITIES).max() < 0.005 and abs(noise.mean()) < 0.01
    factors = disclosure.money_factor(keys)
    assert factors.min() >= 1 - disclosure.MONEY_NOISE and factors.max() < 1 + disclosure.MONEY_NOISE
    # counts never go below 0, and an empty cell stays empty
    table = pd.DataFrame([count(x, int(k)) for x, k in zip([0, 1, 2] * 50, keys)])
    shown = disclosure.perturbed(table)["value"]
    assert (shown >= 0).all() and (shown[table["value"] == 0] == 0).all()


def test_the_noise_of_overlapping_cells_is_independent():
    """Cells sharing contributors (a total and a group, two windows): the noise of one says
    nothing of the other's. Record keys drawn as the store draws them."""
    trials, shared, own = 20_000, 5, 5
    keys = disclosure.new_record_keys(trials * (shared + 2 * own)).reshape(trials, -1)
    common = keys[:, :shared].sum(axis=1)
    first = disclosure.noise(common + keys[:, shared:shared + own].sum(axis=1))
    second = disclosure.noise(common + keys[:, shared + own:].sum(axis=1))
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.03
    for a in NOISE:
        for b in NOISE:
            joint = ((first == a) & (second == b)).mean()
            expected = NOISE_PROBABILITIES[a + 2] * NOISE_PROBABILITIES[b + 2]
            assert abs(joint - expected) < 0.015, (a, b, joint, expected)


@pytest.mark.parametrize("seed", range(20))
def test_protected_totals_add_up_within_the_documented_bounds(seed):
    """Each shown count is within +-4 of its true one (noise +-2, rounding +-2), so a breakdown
    of k shown groups adds up to its shown total within (k + 1) x 4."""
    rng = np.random.default_rng(seed)
    sites = [f"S{i}" for i in range(rng.integers(2, 8))]
    sizes = rng.integers(15, 200, len(sites))
    keys = [disclosure.new_record_keys(n) for n in sizes]
    cells = pd.DataFrame([count(n, int(k.sum() % KEY_MODULUS), site=s) for s, n, k in zip(sites, sizes, keys)])
    totals = pd.DataFrame([count(sizes.sum(), int(np.concatenate(keys).sum() % KEY_MODULUS))])
    shown, shown_total = disclosure.donor_table(cells, totals, dimensions=["site"])
    assert not shown["suppressed"].any() and not shown_total["suppressed"].any()
    assert (np.abs(shown["value"] - sizes) <= BOUND).all()
    assert abs(shown_total["value"].iloc[0] - sizes.sum()) <= BOUND
    assert abs(shown["value"].sum() - shown_total["value"].iloc[0]) <= (len(sites) + 1) * BOUND
    assert (shown["value"] % 5 == 0).all()


def test_keys_are_never_shown():
    table = pd.DataFrame([count(40, 12345, site="A"), count(3, 678, site="B")])
    shown, _ = disclosure.donor_table(table, dimensions=["site"])
    assert not set(KEY_COLUMNS) & set(shown)
    with pytest.raises(ValueError, match="cell keys"):
        disclosure.protect(table)                    # a table with keys must go through donor_table
    with pytest.raises(ValueError, match="cell keys"):
        disclosure.donor_table(table.drop(columns=list(KEY_COLUMNS)))


def test_an_amount_is_derived_from_protected_figures_only():
    """Savings per member: the perturbed money total over the shown member count, in whole
    dollars; never the exact total over the exact count."""
    row = {"metric": "savings_per_member", "kind": "amount", **YEAR, "numerator": 1234.0, "denominator": 61.0,
           "value": 1234 / 61, "ci_low": NAN, "ci_high": NAN, "numerator_key": 99, "denominator_key": 7}
    shown = disclosure.donor_table(pd.DataFrame([row]))[0].iloc[0]
    members = 61 + disclosure.noise(7)
    assert shown["denominator"] == 5 * np.floor(members / 5 + 0.5)
    assert shown["value"] == round(1234 * disclosure.money_factor(99) / shown["denominator"])
    assert np.isnan(shown["numerator"])
