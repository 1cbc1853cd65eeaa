"""The presentation layer (impact.present.formatting): one way to write every figure, and category words
from the dashboard's own label table."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from impact.contract import aliases

from impact.present import formatting
from impact.metrics.catalog import Kind
from impact.disclosure import protect
from impact.contract.tables import TABLES

NAN = math.nan


def test_values_are_written_one_way_for_every_kind():
    assert [formatting.value(Kind.COUNT, 1234), formatting.value(Kind.RATE, 0.6564), formatting.value(Kind.AMOUNT, 12.345),
            formatting.value(Kind.AMOUNT, -0.5), formatting.value(Kind.AMOUNT, 121000, "KHR")] == \
        ["1,234", "65.6%", "$12.35", "-$0.50", "121,000 ៛"]
    assert {formatting.value(kind, NAN) for kind in Kind} == {"–"}                 # no data is never 0
    assert formatting.metric_value("savings_per_member", 30.25) == "$30.25"
    assert [formatting.written(0.8, Kind.RATE), formatting.written(30, Kind.AMOUNT), formatting.written(NAN, Kind.RATE)] == \
        ["80.0%", "$30", ""]
    assert [formatting.change(Kind.RATE, 0.025), formatting.change(Kind.COUNT, -12)] == ["+2.5%", "-12"]


def test_rates_carry_their_counts_and_interval():
    row = {"value": 0.65625, "numerator": 21, "denominator": 32, "ci_low": 0.4833, "ci_high": 0.7960}
    assert formatting.rate_detail(row) == "65.6% (21 of 32)<br>95% CI 48.3% – 79.6%"
    assert formatting.amount_detail({"value": 30.25, "denominator": 12}, "members") == "$30.25 (12 members)"
    assert formatting.interval(NAN, NAN) == ""


def test_dates_periods_and_quarters():
    assert formatting.period(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31")) == "01/01/2024 – 31/12/2024"
    assert formatting.period(None, pd.Timestamp("2024-12-31")) == "… – 31/12/2024"
    dates = pd.Series(pd.to_datetime(["2024-03-31", "2024-04-01", "2025-12-31"]))
    assert formatting.quarters(dates).tolist() == ["2024 Q1", "2024 Q2", "2025 Q4"]
    assert formatting.quarter(pd.Timestamp("2024-04-01")) == "2024 Q2"
    days = pd.Series(pd.date_range("1999-11-30", "2031-02-01", freq="17D"))
    assert [formatting.quarter(d) for d in days] == formatting.quarters(days).tolist()
    assert formatting.quarter(dt.date(2026, 12, 31)) == "2026 Q4"


def test_amounts_convert_to_riel_and_nothing_else_does():
    table = pd.DataFrame({"metric": ["savings_per_member", "savings_rate"], "kind": ["amount", "rate"],
                          "numerator": [60.0, 3.0], "denominator": [2.0, 4.0], "value": [30.0, 0.75]})
    riel = formatting.in_currency(table, "KHR", khr_per_usd=4000)
    assert riel["value"].tolist() == [120_000, 0.75] and riel["numerator"].tolist() == [240_000, 3.0]


def test_every_contract_category_has_words_in_both_languages():
    columns = {"referral_source": ("participants", "referral_source"), "work_setting": ("participants", "work_setting"),
               "course_type": ("enrollments", "course_type"), "enrollment_status": ("enrollments", "status"),
               "employment_status": ("followups", "employment_status"),
               "activity_type": ("activities", "activity_type"), "service_type": ("services", "service_type"),
               "service_status": ("services", "status")}
    labels = formatting.read_labels()
    for dimension, (table, column) in columns.items():
        for value in TABLES[table].column(column).categories:
            assert labels[(dimension, value)]["en"] and labels[(dimension, value)]["km"], (dimension, value)
    assert formatting.category("employment_status", "own_business", "km") == "អាជីវកម្មផ្ទាល់ខ្លួន"
    assert formatting.category("employment_status", "own_business") == "own business"
    assert formatting.category("site", "Phnom Penh", "km") == "Phnom Penh"        # names are shown as written
    assert formatting.category("site", "not recorded", "km") == "មិនបានកត់ត្រា"


def test_a_new_loader_alias_does_not_change_what_the_dashboard_shows(tmp_path, monkeypatch):
    """A field team's new Khmer spelling, added first in the alias file, is read by the loader
    and changes nothing on the dashboard."""
    before = formatting.categories("employment_status", ["own_business", "studying"], "km")
    header, *rows = aliases.ALIAS_FILE.read_text(encoding="utf-8").splitlines()
    extended = tmp_path / "aliases.csv"
    extended.write_text("\n".join([header, "value,own_business,employment_status,អាជីវកម្មខ្នាតតូច", *rows]) + "\n",
                        encoding="utf-8")
    monkeypatch.setattr(aliases, "ALIAS_FILE", extended)
    aliases.read_aliases.cache_clear()
    try:
        assert aliases.aliases_by_name()[("value", "own_business")][0] == "អាជីវកម្មខ្នាតតូច"   # the loader reads it
        assert formatting.categories("employment_status", ["own_business", "studying"], "km") == before
    finally:
        monkeypatch.undo()
        aliases.read_aliases.cache_clear()


def test_disclosure_writes_figures_as_the_presentation_layer_does():
    table = pd.DataFrame({"metric": ["people_reached", "savings_per_member"], "kind": ["count", "amount"],
                          "period_start": pd.Timestamp("2024-01-01"), "period_end": pd.Timestamp("2024-12-31"),
                          "numerator": [NAN, 1234.5], "denominator": [NAN, 40.0], "value": [1234.0, 30.8625],
                          "ci_low": NAN, "ci_high": NAN})
    shown = protect(table)["display"].tolist()
    assert shown == [formatting.value(Kind.COUNT, 1235), formatting.value(Kind.AMOUNT, 31)] == ["1,235", "$31.00"]
