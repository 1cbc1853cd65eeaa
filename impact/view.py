"""The dashboard's view (period, filters, language) and its URL query string.

A copied URL must reopen the same view, so the view is encoded in the query string by these
pure functions; the pages only call them. Query values are strings: lists are joined with
commas, dates are ISO.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

PRESETS = ("this_quarter", "last_quarter", "this_year", "last_year", "all_time", "custom")
DEFAULT_PRESET = "this_year"
LANGUAGES = ("en", "km")
# Filters of the shared sidebar, in the order of the query string: parameter -> dimension.
FILTER_PARAMS = {"org": "organization", "program": "program", "site": "site", "age": "age_band",
                 "work": "work_setting", "ref": "referral_source"}


@dataclass(frozen=True)
class View:
    preset: str = DEFAULT_PRESET
    start: dt.date | None = None          # used by the custom preset
    end: dt.date | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)   # dimension -> values
    lang: str = "en"


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period_of(view: View, today: dt.date, first_date: dt.date | None = None) -> tuple[dt.date | None, dt.date]:
    """The [start, end] a view's preset means on `today` (start None: from the first record)."""
    q = _quarter_start(today)
    if view.preset == "this_quarter":
        return q, today
    if view.preset == "last_quarter":
        end = q - dt.timedelta(days=1)
        return _quarter_start(end), end
    if view.preset == "this_year":
        return dt.date(today.year, 1, 1), today
    if view.preset == "last_year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    if view.preset == "custom":
        return view.start or first_date, view.end or today
    return None, today


def _months_earlier(day: dt.date, months: int) -> dt.date:
    month = day.year * 12 + day.month - 1 - months
    year, month = divmod(month, 12)
    last = (dt.date(year + (month == 11), (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period to compare with, for 'change since': a period starting on the 1st of a month
    moves back a whole month, quarter or year (so this quarter compares with last quarter and
    this year to date with the same dates last year); any other, its own length."""
    span = (end.year - start.year) * 12 + end.month - start.month + 1
    if start.day == 1 and span <= 12:
        months = next(m for m in (1, 3, 12) if m >= span)
        return _months_earlier(start, months), _months_earlier(end, months)
    prev_end = start - dt.timedelta(days=1)
    return prev_end - (end - start), prev_end


def encode_view(view: View) -> dict[str, str]:
    """Query parameters for a view; defaults are left out so URLs stay short."""
    params: dict[str, str] = {}
    if view.preset != DEFAULT_PRESET:
        params["period"] = view.preset
    if view.preset == "custom":
        if view.start:
            params["from"] = view.start.isoformat()
        if view.end:
            params["to"] = view.end.isoformat()
    for param, dimension in FILTER_PARAMS.items():
        if view.filters.get(dimension):
            params[param] = ",".join(view.filters[dimension])
    if view.lang != "en":
        params["lang"] = view.lang
    return params


def decode_view(params: Mapping[str, str | list[str]]) -> View:
    """The view a query string names; anything malformed falls back to the default quietly,
    since a hand-edited URL must never break the page."""
    def one(name: str) -> str:
        value = params.get(name, "")
        return value[-1] if isinstance(value, list) and value else (value if isinstance(value, str) else "")

    def day(name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(one(name))
        except ValueError:
            return None

    preset = one("period") if one("period") in PRESETS else DEFAULT_PRESET
    filters = {dimension: tuple(v for v in one(param).split(",") if v)
               for param, dimension in FILTER_PARAMS.items() if one(param)}
    return View(preset, day("from") if preset == "custom" else None, day("to") if preset == "custom" else None,
                filters, one("lang") if one("lang") in LANGUAGES else "en")
