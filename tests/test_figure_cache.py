"""Built figures are cached (app.cards.chart) on every argument: the table drawn, whose
protected version differs from one link scope to another, and the language."""
from __future__ import annotations

import pandas as pd

from app import cards


def _table(value: float, site: str = "Phnom Penh") -> pd.DataFrame:
    return pd.DataFrame({"metric": ["participants_registered"], "site": [site], "value": [value]})


def test_a_figure_is_built_once_per_table_and_language():
    built = []

    def figure(table: pd.DataFrame, lang: str) -> dict:
        built.append((table["value"].iloc[0], lang))
        return {"value": table["value"].iloc[0], "lang": lang}

    first = cards.chart(figure, _table(42.0), "en")
    assert cards.chart(figure, _table(42.0), "en") is first     # a new session: nothing built again
    assert len(built) == 1
    assert cards.chart(figure, _table(42.0), "km")["lang"] == "km"
    assert len(built) == 2


def test_a_donor_scopes_figure_is_never_served_for_another_scope():
    """Two links' protected tables of one selection differ (scope, rounding, noise): each gets
    the figure of its own table, never the other's, whichever was built first."""
    def figure(table: pd.DataFrame, lang: str) -> dict:
        return {"sites": tuple(table["site"]), "values": tuple(table["value"])}

    one_site = cards.chart(figure, _table(40.0, "Siem Reap"), "en")
    other_site = cards.chart(figure, _table(40.0, "Battambang"), "en")
    rounded = cards.chart(figure, _table(45.0, "Siem Reap"), "en")
    assert one_site == {"sites": ("Siem Reap",), "values": (40.0,)}
    assert other_site == {"sites": ("Battambang",), "values": (40.0,)}
    assert rounded["values"] == (45.0,)


def test_figures_of_different_builders_do_not_mix():
    def count(table, lang):
        return "count"

    def share(table, lang):
        return "share"

    assert cards.chart(count, _table(1.0), "en") == "count"
    assert cards.chart(share, _table(1.0), "en") == "share"
