"""The view in the URL: pure encode/decode functions, exact query strings."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode

import pytest

from impact.present.texts import read_texts
from impact.view import View, decode_view, encode_view, period_of, previous_period

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize("view, query", [
    (View(), ""),
    (View(lang="km"), "lang=km"),
    (View("last_quarter", filters={"organization": ("KWCD",), "site": ("Phnom Penh", "Siem Reap - Pouk")}),
     "period=last_quarter&org=KWCD&site=Phnom+Penh%2CSiem+Reap+-+Pouk"),
    (View("custom", dt.date(2024, 1, 1), dt.date(2024, 6, 30), {"work_setting": ("karaoke",)}),
     "period=custom&from=2024-01-01&to=2024-06-30&work=karaoke"),
])
def test_views_round_trip_through_exact_query_strings(view, query):
    assert urlencode(encode_view(view)) == query
    assert decode_view(dict(parse_qsl(query))) == view


def test_a_hand_edited_url_falls_back_quietly():
    view = decode_view({"period": "someday", "from": "not-a-date", "lang": "fr", "org": ",,KWCD", "x": "1"})
    assert view == View(filters={"organization": ("KWCD",)})
    assert decode_view({"period": "custom", "from": "2024-02-30"}) == View("custom")


@pytest.mark.parametrize("preset, expected", [
    ("this_quarter", (dt.date(2026, 10, 1), TODAY)),
    ("last_quarter", (dt.date(2026, 7, 1), dt.date(2026, 9, 30))),
    ("this_year", (dt.date(2026, 1, 1), TODAY)),
    ("last_year", (dt.date(2025, 1, 1), dt.date(2025, 12, 31))),
    ("all_time", (None, TODAY)),
])
def test_period_presets(preset, expected):
    assert period_of(View(preset), TODAY) == expected


@pytest.mark.parametrize("period, previous", [
    ((dt.date(2026, 7, 1), dt.date(2026, 9, 30)), (dt.date(2026, 4, 1), dt.date(2026, 6, 30))),
    ((dt.date(2026, 1, 1), dt.date(2026, 11, 23)), (dt.date(2025, 1, 1), dt.date(2025, 11, 23))),
    ((dt.date(2026, 3, 1), dt.date(2026, 3, 31)), (dt.date(2026, 2, 1), dt.date(2026, 2, 28))),
    ((dt.date(2024, 3, 10), dt.date(2024, 3, 19)), (dt.date(2024, 2, 29), dt.date(2024, 3, 9))),
])
def test_previous_period(period, previous):
    assert previous_period(*period) == previous


def test_every_text_is_in_english_and_khmer():
    missing = [key for key, t in read_texts().items() if not t["en"] or not t["km"]]
    assert missing == []
    assert all(any("\u1780" <= ch <= "\u17ff" for ch in t["km"]) for t in read_texts().values())
