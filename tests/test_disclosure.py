"""What a donor may see: the spec's Privacy rules on small metric tables written out in full.

Each table is a few rows of the metric table the metrics engine produces (long form, one row
per metric, period and group); the expectations are the figures a donor view would show.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from impact import disclosure
from impact.disclosure import protect, protect_with_totals
from impact.metrics.intervals import wilson_interval

YEAR = {"period_start": pd.Timestamp("2024-01-01"), "period_end": pd.Timestamp("2024-12-31")}
NAN = float("nan")


def count(value, metric="participants_registered", **group):
    return {"metric": metric, "kind": "count", **YEAR, **group, "numerator": NAN, "denominator": NAN,
            "value": float(value), "ci_low": NAN, "ci_high": NAN}


def rate(k, n, metric="savings_rate", **group):
    low, high = wilson_interval(k, n)
    return {"metric": metric, "kind": "rate", **YEAR, **group, "numerator": float(k), "denominator": float(n),
            "value": k / n if n else NAN, "ci_low": float(low), "ci_high": float(high)}


def amount(money, members, metric="savings_per_member", **group):
    return {"metric": metric, "kind": "amount", **YEAR, **group, "numerator": float(money),
            "denominator": float(members), "value": money / members if members else NAN,
            "ci_low": NAN, "ci_high": NAN}


def table(*rows):
    return pd.DataFrame(list(rows))


def only(frame):
    assert len(frame) == 1
    return frame.iloc[0]


# Counts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, shown, display", [
    (7, NAN, "fewer than 10"),
    (0, NAN, "fewer than 10"),        # a true zero discloses too: never shown as 0
    (9, NAN, "fewer than 10"),
    (10, 10, "10"),
    (12, 10, "10"),
    (13, 15, "15"),
    (1234, 1235, "1,235"),
])
def test_counts_are_suppressed_under_the_threshold_and_rounded_to_5(raw, shown, display):
    row = only(protect(table(count(raw, site="Phnom Penh"))))
    assert row["display"] == display
    assert (math.isnan(row["value"]) if math.isnan(shown) else row["value"] == shown)
    assert row["suppressed"] == (raw < 10)
    assert row["suppression"] == ("small count" if raw < 10 else "")


def test_rounding_1_turns_rounding_off_and_the_threshold_is_configurable():
    assert only(protect(table(count(13)), rounding=1))["display"] == "13"
    assert only(protect(table(count(13)), threshold=20))["display"] == "fewer than 20"
    assert only(protect(table(count(7)), threshold=5, rounding=1))["value"] == 7


def test_a_shown_count_is_never_rounded_below_the_threshold():
    # CTDC's "fewer than 11": 11 would round to 10, which reads like a suppressed count.
    assert only(protect(table(count(11)), threshold=11))["display"] == "15"


def test_settings_come_from_the_environment_with_defaults(monkeypatch):
    monkeypatch.delenv("IMPACT_SUPPRESSION_THRESHOLD", raising=False)
    monkeypatch.delenv("IMPACT_ROUNDING", raising=False)
    assert disclosure.settings() == {"threshold": 10, "rounding": 5}
    monkeypatch.setenv("IMPACT_SUPPRESSION_THRESHOLD", "11")
    monkeypatch.setenv("IMPACT_ROUNDING", "1")
    assert disclosure.settings() == {"threshold": 11, "rounding": 1}
    assert only(protect(table(count(13)), **disclosure.settings()))["display"] == "13"


# Rates --------------------------------------------------------------------------------------

def test_a_rate_is_recomputed_from_its_rounded_numerator_and_denominator():
    # The karaoke-worker savings groups: 114 of 124 saved (91.9%); donors see 115 of 125.
    row = only(protect(table(rate(114, 124))))
    assert (row["numerator"], row["denominator"]) == (115, 125)
    assert row["value"] == pytest.approx(0.92) and row["display"] == "92.0%"
    low, high = wilson_interval(115, 125)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(float(low)), pytest.approx(float(high)))
    assert row["ci_low"] != pytest.approx(wilson_interval(114, 124)[0])   # not the exact counts' interval
    assert not row["suppressed"]


def test_40_of_61_shows_as_40_of_60():
    row = only(protect(table(rate(40, 61))))
    assert (row["numerator"], row["denominator"], row["display"]) == (40, 60, "66.7%")


@pytest.mark.parametrize("k, n, reason, denominator", [
    (5, 61, "small count", 60),          # 5 people; the 60 members may still be shown
    (55, 61, "small difference", 60),    # "all but 6 saved" names 6 people
    (0, 0, "small count", NAN),          # no denominator: "no data" about fewer than 10, never 0%
    (3, 8, "small count", NAN),
])
def test_a_rate_is_withheld_when_a_count_or_the_difference_is_small(k, n, reason, denominator):
    row = only(protect(table(rate(k, n))))
    assert row["display"] == "withheld (small numbers)" and row["suppression"] == reason
    assert row["suppressed"] and math.isnan(row["value"]) and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert math.isnan(row["numerator"])                  # else numerator and denominator give the difference
    assert row["denominator"] == denominator or math.isnan(row["denominator"]) and math.isnan(denominator)


def test_a_rate_without_data_says_so():
    row = only(protect(table({**rate(1, 1), "numerator": NAN, "denominator": NAN, "value": NAN})))
    assert row["display"] == "no data" and not row["suppressed"]


def test_wilson_interval_is_vectorized_and_empty_without_a_denominator():
    low, high = wilson_interval(np.array([0, 40, 60]), np.array([0, 60, 60]))
    assert math.isnan(low[0]) and math.isnan(high[0])
    assert low[1] == pytest.approx(0.5406, abs=1e-4) and high[1] == pytest.approx(0.7727, abs=1e-4)
    # Wilson's endpoints are the p where the observed 40/60 is exactly z standard errors away.
    z = 1.959964
    for p in (low[1], high[1]):
        assert abs(40 / 60 - p) == pytest.approx(z * math.sqrt(p * (1 - p) / 60))
    assert high[2] == 1.0 and 0.9 < low[2] < 1.0


# Amounts ------------------------------------------------------------------------------------

def test_an_amount_is_its_total_over_the_shown_member_count_in_whole_dollars():
    row = only(protect(table(amount(1234.56, 61))))
    # 1234.56 / 60, not the exact 20.24 per member: that, against whole-dollar ledgers, gives 61 back
    assert row["value"] == 21 and row["display"] == "$21.00" and row["denominator"] == 60
    # total / value would give the member count back too, so the money total is not published
    assert math.isnan(row["numerator"])


def test_an_amount_is_withheld_with_its_members():
    row = only(protect(table(amount(500.0, 6))))
    assert row["display"] == "withheld (small numbers)" and row["suppressed"]
    assert math.isnan(row["value"]) and math.isnan(row["denominator"]) and math.isnan(row["numerator"])


# Complementary suppression ------------------------------------------------------------------

def test_the_next_smallest_site_is_hidden_so_the_small_one_cannot_be_worked_back():
    sites = table(count(3, site="A"), count(40, site="B"), count(57, site="C"))
    out, totals = protect_with_totals(sites, table(count(100)))
    assert list(out["display"]) == ["fewer than 10", "withheld to protect another cell", "55"]
    assert list(out["suppression"]) == ["small count", "complementary", ""]
    assert list(totals["display"]) == ["100"]        # 100 - 55 = A + B: neither is known
    # Without the total the group is protected the same way: it may be shown on another page.
    assert list(protect(sites)["display"]) == list(out["display"])


def test_two_small_sites_protect_each_other():
    out = protect(table(count(3, site="A"), count(4, site="B"), count(57, site="C")), table(count(64)))
    assert list(out["suppressed"]) == [True, True, False]


def test_a_two_way_breakdown_hides_a_rectangle():
    # site x program: the 3 can be worked back from its site's and its program's margins.
    cells = table(count(3, site="Phnom Penh", program="Outreach"), count(20, site="Phnom Penh", program="Training"),
                  count(30, site="Siem Reap", program="Outreach"), count(45, site="Siem Reap", program="Training"),
                  count(25, site="Kampot", program="Outreach"), count(50, site="Kampot", program="Training"))
    out = protect(cells, table(count(173)))
    hidden = set(out.loc[out["suppressed"], ["site", "program"]].itertuples(index=False, name=None))
    # Phnom Penh's other cell; the smallest other Outreach cell (Kampot); then the Training
    # cell that completes both Kampot's row and the Training column.
    assert hidden == {("Phnom Penh", "Outreach"), ("Phnom Penh", "Training"),
                      ("Kampot", "Outreach"), ("Kampot", "Training")}
    assert list(out.loc[~out["suppressed"], "display"]) == ["30", "45"]


def test_a_lone_suppressed_sibling_hides_its_total():
    out, totals = protect_with_totals(table(count(6, site="Kampot")), table(count(14)))
    assert out.iloc[0]["display"] == "fewer than 10"
    assert totals.iloc[0]["display"] == "withheld to protect another cell" and math.isnan(totals.iloc[0]["value"])


def test_a_missing_dimension_value_is_a_group_not_a_total():
    out = protect(table(count(3, site="A"), count(40, site=None), count(57, site="C")), table(count(100)))
    assert list(out["suppressed"]) == [True, True, False]


def test_rate_numerators_and_denominators_are_protected_separately():
    sites = table(rate(5, 40, site="A"), rate(30, 45, site="B"), rate(40, 60, site="C"))
    out, totals = protect_with_totals(sites, table(rate(75, 145)))
    assert list(out["display"]) == ["withheld (small numbers)", "withheld to protect another cell", "66.7%"]
    assert list(out["denominator"]) == [40, 45, 60]                      # no denominator was small
    assert out["numerator"].isna().tolist() == [True, True, False]
    assert totals.iloc[0]["display"] == "51.7%"                          # 75 of 145


def test_breakdowns_of_different_metrics_and_periods_are_separate():
    later = {"period_start": pd.Timestamp("2025-01-01"), "period_end": pd.Timestamp("2025-12-31")}
    rows = table(count(3, site="A"), count(40, site="B"), count(57, site="C"),
                 {**count(30, site="A"), **later}, {**count(40, site="B"), **later},
                 count(30, metric="new_contacts", site="A"), count(40, metric="new_contacts", site="B"))
    assert list(protect(rows)["suppressed"]) == [True, True, False, False, False, False, False]


# The step itself ----------------------------------------------------------------------------

def test_protect_is_pure_and_keeps_the_table_shape():
    sites = table(count(3, site="A"), count(40, site="B"), rate(114, 124, site="A")).set_index(pd.Index([7, 8, 9]))
    before = sites.copy(deep=True)
    out = protect(sites)
    pd.testing.assert_frame_equal(sites, before)
    assert list(out.index) == [7, 8, 9]
    assert list(out.columns) == list(sites.columns) + ["display", "suppressed", "suppression"]
    assert out["suppressed"].dtype == bool
    pd.testing.assert_frame_equal(protect(sites), out)


def test_bad_tables_are_refused_clearly():
    with pytest.raises(ValueError, match="missing columns"):
        protect(table(count(3)).drop(columns="ci_low"))
    with pytest.raises(ValueError, match="unknown kinds"):
        protect(table({**count(3), "kind": "ratio"}))
    with pytest.raises(ValueError, match="without dimension values"):
        protect(table(count(3, site="A")), table(count(3, site="A")))


def test_an_empty_table_stays_empty():
    out = protect(table(count(3)).iloc[:0])
    assert out.empty and list(out.columns)[-3:] == ["display", "suppressed", "suppression"]


# Properties ---------------------------------------------------------------------------------

FIELDS = disclosure.COUNTS
SITES = ["A", "B", "C", "D", "E", "F", "G", None]


@st.composite
def breakdowns(draw):
    """Random one- or two-way breakdowns of a count, a rate and an amount, with or without totals."""
    if draw(st.booleans()):
        dims = ["site"]
        cells = [{"site": s} for s in draw(st.lists(st.sampled_from(SITES), min_size=1, max_size=8, unique=True))]
    else:
        dims = ["site", "program"]
        pairs = st.tuples(st.sampled_from(SITES[:4]), st.sampled_from(["X", "Y", "Z"]))
        cells = [dict(zip(dims, p)) for p in draw(st.lists(pairs, min_size=1, max_size=8, unique=True))]
    people = st.integers(0, 200)
    of_people = people.flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))    # k of n
    rows, totals = [], []
    for make, numbers in [(count, st.tuples(people)), (rate, of_people),
                          (amount, st.tuples(st.floats(-500, 10_000), people))]:
        drawn = [draw(numbers) for _ in cells]
        rows += [make(*args, **cell) for args, cell in zip(drawn, cells)]
        if draw(st.booleans()):
            totals.append(make(*[sum(column) for column in zip(*drawn)]))
    threshold, rounding = draw(st.sampled_from([(10, 5), (10, 1), (7, 5), (11, 5), (5, 10)]))
    return table(*rows), (table(*totals) if totals else None), dims, threshold, rounding


@pytest.mark.slow
@hypothesis_settings(max_examples=150, deadline=None)
@given(case=breakdowns())
def test_no_suppressed_cell_can_be_worked_back(case):
    rows, totals, dims, threshold, rounding = case
    before = (rows.copy(deep=True), None if totals is None else totals.copy(deep=True))
    out, out_totals = protect_with_totals(rows, totals, threshold=threshold, rounding=rounding)

    # (4) the input is untouched
    pd.testing.assert_frame_equal(rows, before[0])
    if totals is not None:
        pd.testing.assert_frame_equal(totals, before[1])

    # The checks run on NumPy arrays: pandas' per-call cost on tables of a few rows was most
    # of this test's time (150 cases).
    both = [(rows, out)] + ([(totals, out_totals)] if totals is not None else [])
    for raw, shown in both:
        for kind, fields in FIELDS.items():
            mine = (raw["kind"] == kind).to_numpy()
            suppressed = shown["suppressed"].to_numpy()[mine]
            any_hidden = np.zeros(mine.sum(), dtype=bool)
            for f in fields:
                values = shown[f].to_numpy(dtype=float)[mine]
                hidden = np.isnan(values)
                # (1) every shown count is a multiple of the rounding and not under the threshold;
                # every count under the threshold is hidden
                visible = values[~hidden]
                assert (visible % rounding == 0).all() and (visible >= threshold).all()
                assert hidden[raw[f].to_numpy(dtype=float)[mine] < threshold].all()
                # a row is suppressed exactly when one of its counts is hidden
                assert (suppressed | ~hidden).all()
                any_hidden |= hidden
            assert (suppressed == any_hidden).all()
        # (2) every shown rate is a fraction inside its interval, from the counts shown beside it
        rates = shown[(shown["kind"] == "rate") & shown["value"].notna()]
        assert rates["value"].between(0, 1).all()
        assert (rates["ci_low"] <= rates["value"]).all() and (rates["value"] <= rates["ci_high"]).all()
        assert np.allclose(rates["value"], rates["numerator"] / rates["denominator"])
        assert (rates["denominator"] - rates["numerator"] >= threshold).all()
        assert (shown["display"] != "").all()

    # (3) every group of siblings hides no cell or at least two, and so do the breakdown and its total
    for kind, fields in FIELDS.items():
        cells = out[out["kind"] == kind]
        total = out_totals[out_totals["kind"] == kind] if out_totals is not None else out.iloc[:0]
        for f in fields:
            hidden = cells[f].isna()
            for dim in dims:
                others = [o for o in dims if o != dim]
                siblings: dict[tuple, list[int]] = {}     # the other dimensions' values: [cells, hidden]
                for key, is_hidden in zip(zip(*(cells[o].fillna("<NA>") for o in others)) if others
                                          else [()] * len(cells), hidden):
                    counts = siblings.setdefault(key, [0, 0])
                    counts[0], counts[1] = counts[0] + 1, counts[1] + is_hidden
                assert all(size < 2 or n_hidden != 1 for size, n_hidden in siblings.values()), (kind, f, dim, cells)
            if len(total) or len(cells) > 1:
                assert hidden.sum() + total[f].isna().sum() != 1, (kind, f, cells, total)
