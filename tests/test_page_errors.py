"""Issue 10, defect 1: a click on a bar narrows the view instead of crashing the page, and a
page that fails anyway shows a plain sentence with an error id to everyone (the details go to
the server log), never a traceback. AppTest on the demo store; a click is sent as the browser
sends it (the chart's selection as its widget value)."""
from __future__ import annotations

import datetime as dt
import json
import re
import tomllib

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from impact.access import sharing
from impact.present.texts import text
from impact.store import open_store
from impact.view import FILTER_PARAMS
from tests.helpers import REPO, open_page

pytestmark = pytest.mark.usefixtures("today")


def click_first_bar(at: AppTest) -> str:
    """Click the first bar of the page's first chart that filters, as the browser reports a
    click (the chart's selection); the value clicked."""
    chart, bars = next((c, trace) for c in at.get("plotly_chart") if c.proto.selection_mode
                       for trace in json.loads(c.proto.spec)["data"] if trace.get("type") == "bar")
    value = str(bars["x"][0])
    selection = {"selection": {"points": [{"x": value, "point_index": 0, "curve_number": 0}],
                               "point_indices": [0], "box": [], "lasso": []}}
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    at._run(states)
    return value


@pytest.mark.parametrize("page", ("training", "services", "livelihoods", "outreach"))
@pytest.mark.parametrize("lang", ("en", "km"))
def test_a_click_on_a_bar_narrows_the_view(page, lang, shared_demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page(page, lang=lang)
    clicked = click_first_bar(at)
    assert not at.exception, at.exception[0].message
    assert not at.error, at.error[0].value
    narrowed = {d: at.session_state[f"f_{d}"] for d in FILTER_PARAMS.values() if at.session_state[f"f_{d}"]}
    assert list(narrowed.values()) == [[clicked]], narrowed
    assert at.query_params[next(p for p, d in FILTER_PARAMS.items() if d in narrowed)] == clicked


@pytest.mark.parametrize("page", ("training", "services"))
def test_a_donors_click_on_a_bar_narrows_her_view(page, shared_demo_store, monkeypatch):
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    monkeypatch.setenv(sharing.SECRET_ENV, "s" * 40)
    token, _ = sharing.create_link(open_store(shared_demo_store), "s" * 40, "director", sharing.Scope(("KWCD",)),
                                   expires_at=dt.date.today() + dt.timedelta(days=30))
    at = open_page(page, **{sharing.SHARE_PARAM: token})
    clicked = click_first_bar(at)
    assert not at.exception, at.exception[0].message
    assert at.session_state["f_site"] == [clicked] and at.query_params[sharing.SHARE_PARAM] == token


def test_a_failing_page_shows_a_plain_message_with_an_error_id(shared_demo_store, monkeypatch, page_failures):
    from app import session

    def broken(*args, **kwargs):
        raise RuntimeError("/srv/secret/path.py exploded")
    monkeypatch.setenv("IMPACT_STORE", str(shared_demo_store))
    at = open_page("training", lang="km")
    monkeypatch.setattr(session, "metrics", broken)
    at.run()
    assert not at.exception
    shown = at.error[0].value
    assert shown.startswith(text("page_failed", "km").split("{id}")[0])
    assert "/srv/secret" not in shown and "Traceback" not in shown and "RuntimeError" not in shown
    error_id = re.search(r"\b[0-9a-f]{8}\b", shown).group()
    [record] = page_failures      # the details are in the server log, under the id shown
    assert record.exc_info[0] is RuntimeError and f"[error {error_id}]" in record.getMessage()
    page_failures.clear()


def test_the_served_dashboard_watches_no_source_files():
    """Streamlit's default set up watchers on every imported module for every new session: a
    sixth of the server's CPU per donor visit, for code that does not change under a server."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_streamlit_shows_no_error_details():
    """The exceptions the router cannot catch (a callback's) show no message or traceback."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
