"""Two dashboard servers on one PostgreSQL, as docs/deploy.md runs them behind nginx: two
real `streamlit run serve.py` processes on two ports, started together on one empty schema of
their own, with one share-link secret (each server's environment file in production), driven
by Debian's Chromium.

What must hold when a person's session lives on one server and the change comes through the
other: the demo is seeded once although both start together; a workbook uploaded through
server A shows in an open session on server B at its next run; a share link revoked through
A stops at once on B, in an open session too.

Runs with the browser tests (scripts/test.sh runs both and sets IMPACT_TEST_POSTGRES_URL);
skips without PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from contextlib import ExitStack

import pytest

from impact.access import sharing
from impact.store import open_store
from tests.conftest import POSTGRES, empty_postgres
from tests.helpers import demo_file_count
from tests.test_browser import (FIRST_PAINT, RERUN, address, browser, expect, kpi, number, open_app,  # noqa: F401 (browser: the fixture)
                                streamlit_server, wait_until_healthy)
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("two_servers")]   # two servers, one worker

if not POSTGRES:
    pytest.skip("IMPACT_TEST_POSTGRES_URL not set (scripts/test.sh sets it)", allow_module_level=True)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Servers A and B, started at the same moment on one empty PostgreSQL schema, with the
    same secret and demo folder (one machine's defaults), each answering its health check."""
    folder = tmp_path_factory.mktemp("two_servers")
    url = empty_postgres("impact_two_servers")
    secret = secrets.token_urlsafe(32)
    settings = {"DATABASE_URL": url, sharing.SECRET_ENV: secret, "IMPACT_DEMO_DIR": str(folder / "demo")}
    with ExitStack() as stack:
        started = {name: (stack.enter_context(streamlit_server(folder / f"{name}.log", **settings)),
                          folder / f"{name}.log") for name in "AB"}
        for (process, base), log in started.values():
            wait_until_healthy(process, base, log)
        yield {"A": started["A"][0][1], "B": started["B"][0][1], "url": url, "secret": secret,
               "logs": [log for _, log in started.values()]}


@pytest.fixture
def pages(browser):
    """Two people's fresh browser sessions: one for each server."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2)]
    for context in contexts:
        context.set_default_timeout(RERUN)
    yield [context.new_page() for context in contexts]
    for context in contexts:
        context.close()


def rerun(page) -> None:
    """Run the open session's script again, as any click does (Streamlit's R key); what it
    should show next is awaited by the caller."""
    page.keyboard.press("r")


def test_two_servers_starting_together_seed_the_store_once(servers):
    store = open_store(servers["url"])
    uploads = store.uploads()
    assert len(uploads) == demo_file_count() and set(uploads["uploader"]) == {"demo"}
    assert not uploads.duplicated(["organization", "file_name"]).any()
    assert store.data_version().endswith("-1")          # one ingest changed the store, once
    for log in servers["logs"]:
        assert "Traceback" not in log.read_text(errors="replace")


def test_an_upload_through_one_server_shows_on_the_others_next_run(servers, pages, tmp_path):
    on_a, on_b = pages
    open_app(on_b, servers["B"])
    before = number(kpi(on_b, "Women registered").inner_text())
    today = dt.date.today().strftime("%d/%m/%Y")
    path = write_xlsx(tmp_path / "KWCD_Second_server.xlsx", {"Participants": [
        PARTICIPANT_HEADER, *(participant(f"TWO-{i}", intake=today) for i in range(3))]})
    open_app(on_a, f"{servers['A']}/data", ready='[data-testid="stFileUploader"]')
    on_a.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    load = on_a.get_by_role("button", name="Load", exact=True)
    expect(load).to_be_enabled(timeout=RERUN)
    load.click()
    expect(on_a.get_by_text("KWCD_Second_server.xlsx (KWCD): 3 row(s) loaded")).to_be_visible(timeout=FIRST_PAINT)
    rerun(on_b)                                         # B's open session, its next run
    expect(kpi(on_b, "Women registered")).to_have_text(f"{before + 3:,}", timeout=FIRST_PAINT)


def test_a_link_revoked_through_one_server_stops_at_once_on_the_other(servers, pages):
    on_a, on_b = pages
    store = open_store(servers["url"])
    token, link = sharing.create_link(store, servers["secret"], "Sokha Director", sharing.Scope(("CPN",)),
                                      dt.date.today() + dt.timedelta(days=7), note="two servers")
    for page, server in ((on_a, "A"), (on_b, "B")):
        open_app(page, address(servers[server], "overview", share=token))
        expect(page.get_by_text("Shared by Sokha Director (two servers)")).to_be_visible()
    sharing.revoke(store, link.public_id)              # what server A's Share page does
    revoked = re.compile(r"This share link was revoked on \d\d/\d\d/\d{4}")
    rerun(on_b)                                         # the donor's open session on B
    expect(on_b.get_by_text(revoked)).to_be_visible()
    assert not on_b.locator('[data-testid="stMetric"]').count()
    on_b.goto(address(servers["B"], "overview", share=token))   # and a new one
    expect(on_b.get_by_text(revoked)).to_be_visible(timeout=FIRST_PAINT)
    assert not on_b.locator('[data-testid="stMetric"]').count()
    assert {o["opens"] for o in sharing.open_counts(store).values()} == {2}   # one log, both servers
