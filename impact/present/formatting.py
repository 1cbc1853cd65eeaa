"""Values and categories as people read them, in one place: counts, rates, amounts in dollars
or riel, intervals, dates, periods and quarters, and the words for category codes.

Views compute with canonical keys (`own_business`, `2024-01-01`, 0.656); only this module
turns them into text, so a chart, a donor report, a download and the command line write a
figure the same way. Category words come from `labels.csv` (dimension, value, en, km), the
dashboard's own table: the loader's aliases say what a cell may be written as, not what the
dashboard shows.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from impact import config, disclosure
from impact.metrics.catalog import METRICS, Kind
from impact.metrics.prepared import NOT_RECORDED
from impact.contract.tables import CURRENCIES
from impact.present.texts import text

LABEL_FILE = Path(__file__).with_name("labels.csv")
MISSING = "–"
DAY = "%d/%m/%Y"


def money(value: float, currency: str = "USD") -> str:
    """An amount as a director reads it: `$30.25`, `-$0.50`, or whole riel `121,000 ៛`."""
    if value != value:
        return MISSING
    if currency == "KHR":
        return f"{value:,.0f} ៛"
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def count(value: float) -> str:
    return MISSING if value != value else f"{value:,.0f}"


def percent(value: float) -> str:
    return MISSING if value != value else f"{value:.1%}"


def value(kind: Kind | str, number: float, currency: str = "USD") -> str:
    """A metric value of a kind: `1,234`, `65.6%`, `$12.34` (or riel); "–" for no data."""
    if kind == Kind.RATE:
        return percent(number)
    if kind == Kind.AMOUNT:
        return money(number, currency)
    return count(number)


def metric_value(key: str, number: float, currency: str = "USD") -> str:
    """A catalog metric's value (see `value`)."""
    return value(METRICS[key].kind, number, currency)


def written(number: float, kind: Kind | str) -> str:
    """A figure as a target is written to a donor: `80.0%` (a rate as every rate is written,
    `percent`), `2,500`, `$30`, `$30.50` (no cents that say nothing)."""
    if pd.isna(number):
        return ""
    if kind == Kind.RATE:
        return percent(number)
    shown = f"{number:,.0f}" if float(number).is_integer() else f"{number:,.2f}"
    return "$" + shown if kind == Kind.AMOUNT else shown


def achieved(percent: float) -> str:
    """How far along a target is, a number of percent: `95%` (of the target, not a rate)."""
    return MISSING if percent != percent else f"{percent:,.0f}%"


def change(kind: Kind | str, difference: float) -> str:
    """A change between two periods: `+2.5%` (points, for a rate) or `+12`."""
    return f"{difference:+.1%}" if kind == Kind.RATE else f"{difference:+,.0f}"


def interval(low: float, high: float) -> str:
    """A rate's 95% interval: `12.3% – 45.6%`; empty without one."""
    return "" if low != low else f"{low:.1%} – {high:.1%}"


def n_of(numerator: float, denominator: float) -> str:
    """`12 of 40`: the counts behind a rate."""
    return f"{numerator:,.0f} of {denominator:,.0f}"


def rate_detail(row) -> str:
    """A rate with its counts and interval, for a hover or a line of text:
    `65.6% (21 of 32)<br>95% CI 48.3% – 79.6%` (the line break is the caller's to replace)."""
    return f"{percent(row['value'])} ({n_of(row['numerator'], row['denominator'])})<br>95% CI " \
        + interval(row["ci_low"], row["ci_high"])


def amount_detail(row, unit: str = "members", currency: str = "USD") -> str:
    """An amount with the units it is per: `$30.25 (n=12)`, or with `unit`: `$30.25 (12 members)`."""
    base = f"n={row['denominator']:,.0f}" if unit == "n" else f"{row['denominator']:,.0f} {unit}"
    return f"{money(row['value'], currency)} ({base})"


def day(date) -> str:
    """A date as Cambodian offices write it: 31/12/2024."""
    return "…" if date is None or pd.isna(date) else f"{pd.Timestamp(date):{DAY}}"


def period(start, end) -> str:
    """A period: `01/01/2024 – 31/12/2024`; `… – 31/12/2024` without a start."""
    return f"{day(start)} – {day(end)}"


def quarters(dates: pd.Series) -> pd.Series:
    """Quarters' labels for a column of dates: `2024 Q1`."""
    q = pd.to_datetime(dates).dt.to_period("Q")
    return q.dt.year.astype(str) + " Q" + q.dt.quarter.astype(str)


def quarter(date) -> str:
    """One date's quarter, as `quarters` labels a column. A Period, not a one-row Series: a
    donor's period list labels every quarter and year of her link on every run (through a
    Series, a fifth of the server's time per visit)."""
    period = pd.Period(date, freq="Q")
    return f"{period.year} Q{period.quarter}"


def release(start, end, whole: str) -> str:
    """A donor's period choice: `2024 Q3` within one quarter, `2024` within one year, else
    `whole` (the link's whole period) with its dates."""
    if start is not None and quarter(start) == quarter(end):
        return quarter(start)
    if start is not None and start.year == end.year:
        return str(start.year)
    return f"{whole} ({period(start, end)})"


def month(date) -> str:
    return f"{pd.Timestamp(date):%m/%Y}"


def currency_rate(currency: str, khr_per_usd: float | None = None) -> float:
    """Display units per stored US dollar (KHR at `khr_per_usd`, by default the configured rate)."""
    if currency not in CURRENCIES:
        raise ValueError(f"currency must be USD or KHR, not {currency!r}")
    return 1.0 if currency == "USD" else float(khr_per_usd or config.khr_per_usd())


def in_currency(table: pd.DataFrame, currency: str = "USD", khr_per_usd: float | None = None) -> pd.DataFrame:
    """A metric table with its amounts (value and numerator of amount metrics, stored in USD)
    in `currency`; rates and counts unchanged. A donor's table (one that went through
    disclosure control: it has `suppressed`) shows amounts in whole dollars or thousand riel."""
    out = table.copy()
    amounts = (out["kind"] == Kind.AMOUNT).to_numpy()
    factor = currency_rate(currency, khr_per_usd)
    step = disclosure.MONEY_ROUNDING[currency] if "suppressed" in out else None
    for column in ("value", "numerator"):
        out[column] = out[column].astype(float)
        converted = out.loc[amounts, column] * factor
        out.loc[amounts, column] = converted if step is None else np.round(converted / step) * step
    return out


@lru_cache(maxsize=1)
def read_labels() -> dict[tuple[str, str], dict[str, str]]:
    with LABEL_FILE.open(encoding="utf-8") as f:
        return {(row["dimension"], row["value"]): {"en": row["en"], "km": row["km"]} for row in csv.DictReader(f)}


def category(dimension: str, value: str, lang: str = "en") -> str:
    """A category in the reader's language from the label table; "not recorded" in words; a
    value the table does not hold (an organization, a site, a course) as it is."""
    if value == NOT_RECORDED:
        return text("not_recorded", lang)
    entry = read_labels().get((dimension, value))
    return (entry.get(lang) or entry["en"]) if entry else value


def categories(dimension: str, values, lang: str = "en") -> dict[str, str]:
    """`category` for every distinct value: value -> label, for a chart's ticks and legend."""
    return {value: category(dimension, value, lang) for value in dict.fromkeys(str(v) for v in values)}


def metric_label(key: str, lang: str = "en") -> str:
    m = METRICS[key]
    return m.label_km if lang == "km" else m.label


def metric_question(key: str, lang: str = "en") -> str:
    m = METRICS[key]
    return m.question_km if lang == "km" else m.question
