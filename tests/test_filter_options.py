"""Issue 10, defect 13: a filter offers what the filters above it leave (Site lists only the
chosen organization's sites), by the pure function and in the sidebar (AppTest, demo store)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from impact.access.protection import filter_options
from impact.metrics.prepared import prepare
from impact.store import open_store
from tests.helpers import APP


@pytest.fixture(scope="module")
def participants(demo_template):
    return prepare(open_store(demo_template).tables()).participants


def sites_of(participants, *organizations: str) -> list[str]:
    return sorted(participants.loc[participants["organization"].isin(organizations), "site"].unique())


def test_the_options_follow_the_other_filters(participants):
    every = filter_options(participants, "site")
    kwcd = filter_options(participants, "site", chosen={"organization": ("KWCD",)})
    assert kwcd == sites_of(participants, "KWCD") and set(kwcd) < set(every)
    both = filter_options(participants, "site", chosen={"organization": ["KWCD", "SRP"], "site": ["Battambang"]})
    assert both == sites_of(participants, "KWCD", "SRP")        # a filter's own choice never narrows its list
    assert filter_options(participants, "organization", chosen={"organization": ("KWCD",)}) == \
        filter_options(participants, "organization")


@pytest.mark.usefixtures("today")
def test_the_site_filter_lists_the_chosen_organizations_sites(shared_demo_store, participants, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.multiselect(key="f_organization").set_value(["SRP"]).run()
    assert at.multiselect(key="f_site").options == sites_of(participants, "SRP")
    srp_only = next(s for s in sites_of(participants, "SRP") if s not in sites_of(participants, "KWCD"))
    at.multiselect(key="f_site").set_value([srp_only]).run()
    at.multiselect(key="f_organization").set_value(["KWCD"]).run()     # a site of the other organization goes
    assert not at.exception
    assert at.multiselect(key="f_organization").value == ["KWCD"]
    assert at.multiselect(key="f_site").options == sites_of(participants, "KWCD")
    assert at.multiselect(key="f_site").value == []
