"""What a donor sees (`impact.access.protection`), on metric tables computed from real frames: the
totals that feed complementary suppression, the filter options of her scope, her link's
period, and a selection clamped to her scope."""
from __future__ import annotations

import datetime as dt

import pytest

from impact import disclosure

from impact.access import protection
from impact.metrics.engine import Selection, compute
from impact.access.page_registry import DIRECTOR, DONOR, STAFF
from impact.metrics.prepared import NOT_RECORDED, prepare
from impact.access.sharing import Scope
from impact.view import View
from tests.frames import clean_tables, person

TODAY = dt.date(2025, 6, 1)
SCOPE = Scope(("KWCD",), sites=("Phnom Penh",), period_start=dt.date(2024, 1, 1), period_end=dt.date(2024, 12, 31))


@pytest.fixture(scope="module")
def prepared():
    """12 women registered in Phnom Penh, 3 in Siem Reap (KWCD), 4 with another NGO."""
    return prepare(clean_tables(participants=[
        *[person(f"P-{i}", "2024-02-01", site="Phnom Penh") for i in range(12)],
        *[person(f"S-{i}", "2024-05-01", site="Siem Reap") for i in range(3)],
        *[person(f"O-{i}", "2024-05-01", site="Battambang", organization="Other NGO") for i in range(4)],
    ]))


def test_only_a_donor_is_kept_from_exact_figures():
    assert protection.sees_exact_figures(DIRECTOR) and protection.sees_exact_figures(STAFF)
    assert not protection.sees_exact_figures(DONOR) and not protection.sees_exact_figures(None)


@pytest.mark.parametrize("by, totals", [((), None), (("quarter",), None), (("site",), ()),
                                        (("quarter", "site"), ("quarter",)), (("site", "program"), ())])
def test_the_totals_of_a_breakdown_are_its_time_grain_alone(by, totals):
    assert protection.suppression_totals(by) == totals


def test_a_breakdown_is_protected_with_its_totals(prepared):
    """A donor sees a breakdown by site protected together with the total over sites: 3 is
    hidden, and 12 too, since with the total (15) it would give the 3 away."""
    asked = []

    def table_by(grouping):
        asked.append(grouping)
        return compute(prepared, Selection(None, TODAY, {"organization": ("KWCD",)}), grouping,
                       ("participants_registered",), today=TODAY, cell_keys=True)

    shown = protection.protected(table_by, ("site",)).set_index("site")
    assert asked == [(), ("site",)]
    assert shown["suppressed"].all()
    expected = disclosure.donor_table(table_by(("site",)), table_by(()), dimensions=["site"], **disclosure.settings())[0]
    assert shown.reset_index()[expected.columns].equals(expected)
    assert not set(disclosure.KEY_COLUMNS) & set(shown.reset_index())     # keys are never shown


def test_a_donor_is_offered_the_sites_of_her_scope_only(prepared):
    participants = prepared.participants
    assert set(protection.filter_options(participants, "site")) >= {"Phnom Penh", "Siem Reap", "Battambang"}
    assert protection.filter_options(participants, "site", SCOPE) == ["Phnom Penh"]
    assert protection.filter_options(participants, "organization", Scope(("KWCD",))) == ["KWCD"]
    assert NOT_RECORDED in protection.filter_options(participants, "age_band", SCOPE)   # no age given


def test_a_donor_opens_on_her_links_period_unless_the_url_names_one_of_its_quarters_or_years():
    assert protection.link_view(View("last_quarter"), SCOPE, TODAY) == \
        View("custom", dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    quarter = View("custom", dt.date(2024, 4, 1), dt.date(2024, 6, 30), {"age_band": ("18-24",)})
    assert protection.link_view(quarter, SCOPE, TODAY) == quarter
    days = View("custom", dt.date(2024, 4, 1), dt.date(2024, 6, 29), {"age_band": ("18-24", "25-34")})
    assert protection.link_view(days, SCOPE, TODAY) == View("custom", dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def test_a_widened_selection_gives_less_never_more():
    asked = {"organization": ("KWCD", "Other NGO"), "site": ("Siem Reap", "Phnom Penh")}
    assert protection.scoped_selection(SCOPE, dt.date(2020, 1, 1), TODAY, asked, TODAY) == \
        Selection(dt.date(2024, 1, 1), dt.date(2024, 12, 31), {"organization": ("KWCD",), "site": ("Phnom Penh",)})
    outside = protection.scoped_selection(SCOPE, dt.date(2025, 1, 1), TODAY, {}, TODAY)
    assert (outside.start, outside.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
