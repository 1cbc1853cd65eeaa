"""The dashboard in a real browser: one Streamlit server as scripts/run.sh starts it (serve.py)
on a demo store it seeds itself, driven by
Debian's Chromium through Playwright (never `playwright install`).

What AppTest cannot see is tested here: the view carried by the URL, the language switch and
Khmer glyphs, a workbook going through the uploader, real downloads, and a donor's share link
(scope, rounding, hidden pages, widened URL, revocation, no participant identifier on screen).
Screenshots of every page go to test-artifacts/screenshots/ (ignored by git) for a person to
look at.

Run: `.venv/bin/python -m pytest tests/test_browser.py -q -m browser` (scripts/test.sh installs
Chromium and the Khmer fonts).
"""
from __future__ import annotations

import csv
import datetime as dt
import http.client
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import openpyxl
import pandas as pd
import pytest

from impact.access import sharing
from impact.store import open_store
from impact.present.texts import text
from tests.helpers import demo_file_count
from tests.workbooks import PARTICIPANT_HEADER, participant

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]   # one server, one worker
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
FIRST_PAINT = 60_000          # ms: a cold server computes and caches everything once
RERUN = 30_000
STAFF_PAGES = ("overview", "outreach", "training", "livelihoods", "savings", "services", "networks", "justice",
               "targets", "data", "share")
BAD_DATE = "31/11/2025"       # no such day; the demo files use other impossible dates

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium", allow_module_level=True)


# --- the server and the browser -------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(log_path: Path, **environment: str):
    """`streamlit run serve.py` (scripts/run.sh's server) on a free port, with these settings
    over this process's environment (none of its store or secret settings): its process and
    address, as soon as it started; `wait_until_healthy` waits for it to answer."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "IMPACT_STORE", sharing.SECRET_ENV)}
    env.update(environment)
    port = _free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "localhost",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process, f"http://localhost:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(process: subprocess.Popen, base: str, log_path: Path, timeout: float = 180) -> None:
    """Until the server answers its health check (after its start-up step seeded the store)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited ({process.returncode}): "
                               f"{log_path.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not answer within {timeout:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run serve.py` on an empty store of its own, which its start-up step seeds;
    the same secret key file for it and for this process, so links made here open there."""
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "store.db"
    secret = folder / "secret.key"
    log = folder / "server.log"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(sharing.SECRET_ENV, raising=False)
        mp.setenv(sharing.SECRET_FILE_ENV, str(secret))
        sharing.server_secret()                       # made once, here, read by both
        with streamlit_server(log, IMPACT_STORE=str(db), IMPACT_SECRET_FILE=str(secret),
                              IMPACT_DEMO_DIR=str(folder / "demo")) as (process, base):
            wait_until_healthy(process, base, log)    # seeding the demo store first
            yield {"base": base, "db": db, "secret": secret, "folder": folder,
                   "uploads_when_ready": len(open_store(db).uploads())}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile per test: a new Streamlit session, as another person would."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(RERUN)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


# --- helpers --------------------------------------------------------------------------------

def settle(page, timeout: int = RERUN) -> None:
    """Wait until the script run is over and every Plotly chart is drawn."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.main-svg'))""", timeout=timeout)


def open_app(page, url: str, ready: str = '[data-testid="stMetric"]') -> None:
    page.goto(url)
    page.wait_for_selector(ready, timeout=FIRST_PAINT)
    settle(page, FIRST_PAINT)


def kpi(page, label: str):
    """The value shown by the metric card with this label."""
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label))
    expect(card).to_have_count(1)
    return card.locator('[data-testid="stMetricValue"]')


def multiselect(page, label: str):
    return page.locator('[data-testid="stMultiSelect"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(f"^{re.escape(label)}$")))


def choose(page, label: str, option: str) -> None:
    """Pick one option of a Streamlit multiselect, then close its list."""
    widget = multiselect(page, label)
    widget.locator("input").click()
    page.locator('[role="option"]').filter(has_text=re.compile(f"^{re.escape(option)}$")).click()
    page.keyboard.press("Escape")


def offered(page, label: str) -> list[str]:
    """The options a multiselect offers (besides 'Select all'), by opening its list."""
    widget = multiselect(page, label)
    widget.locator("input").click()
    page.wait_for_selector('[role="option"]')
    options = [o.strip() for o in page.locator('[role="option"]').all_inner_texts()]
    page.keyboard.press("Escape")
    return [o for o in options if o != "Select all"]


def chosen(page, label: str) -> list[str]:
    return multiselect(page, label).locator("span[data-tag]").evaluate_all(
        "tags => tags.map(t => t.getAttribute('aria-label'))")


def sidebar_links(page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').all_inner_texts()]


def screenshot(page, name: str) -> Path:
    """A full-page screenshot: Streamlit scrolls inside its main panel, not the window, so the
    window is made as tall as the content first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("""() => Math.max(...['stMain', 'stSidebarContent', 'stAppViewContainer']
        .map(id => document.querySelector(`[data-testid="${id}"]`)).filter(Boolean)
        .map(e => e.scrollHeight), document.body.scrollHeight)""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 40), 12000)})
    page.wait_for_timeout(400)                 # Plotly redraws on resize
    settle(page)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    assert path.stat().st_size > 10_000
    return path


def address(base: str, path: str, **params: str) -> str:
    """A page's address as the app links it: the default page (Overview) is the root, because
    Streamlit serves a default page at "/" only ("/overview" opens it under a "Page not found"
    dialog)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base}/{'' if path == 'overview' else path}" + (f"?{query}" if query else "")


def not_found_dialog(page):
    return page.locator('[role="dialog"]').filter(has_text="Page not found")


def number(text: str) -> int:
    return int(text.replace(",", ""))


# --- the staff views ------------------------------------------------------------------------

def test_the_server_seeds_its_store_before_it_lets_anyone_in(server):
    assert demo_file_count() == 9 and server["uploads_when_ready"] == demo_file_count()   # one upload each


def test_the_server_answers_a_kept_alive_connection_at_once(server):
    """A cold browser fetches about a hundred JavaScript chunks, six connections at a time: with
    Nagle's algorithm on (Streamlit's socket, `app.sockets`) each small response after a
    connection's first waited 40 ms for the client's delayed ACK (the health check's too)."""
    host, port = urlparse(server["base"]).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        seconds = []
        for _ in range(7):
            start = time.perf_counter()
            connection.request("GET", "/_stcore/health")
            assert connection.getresponse().read()
            seconds.append(time.perf_counter() - start)
    finally:
        connection.close()
    assert sorted(seconds)[3] < 0.025, seconds


def test_the_overview_opens_with_its_kpis(server, page):
    open_app(page, server["base"])
    cards = page.locator('[data-testid="stMetric"]')
    expect(cards).to_have_count(6)
    assert number(kpi(page, "Women registered").inner_text()) > 0
    assert re.fullmatch(r"\d+\.\d%", kpi(page, "Graduation rate").inner_text())
    expect(page.locator("h1")).to_have_text("Overview")
    # Tiles are drawn before charts: wait for the third chart, not just count what is there.
    expect(page.locator('[data-testid="stPlotlyChart"]').nth(2)).to_be_attached(timeout=FIRST_PAINT)
    assert not page.locator('[data-testid="stException"]').count()
    screenshot(page, "overview_open")


def test_a_filter_changes_the_kpis_and_the_url(server, page):
    open_app(page, server["base"])
    before = kpi(page, "Women registered").inner_text()
    choose(page, "Organization", "SRP")
    page.wait_for_url(re.compile(r"[?&]org=SRP"))
    expect(kpi(page, "Women registered")).not_to_have_text(before, timeout=RERUN)
    settle(page)
    assert parse_qs(urlparse(page.url).query)["org"] == ["SRP"]
    assert chosen(page, "Organization") == ["SRP"]
    # What impact/ computes: the organization's share of this year's registrations.
    assert 0 < number(kpi(page, "Women registered").inner_text()) < number(before)


def test_a_copied_url_reopens_the_same_view(server, page, browser):
    open_app(page, server["base"])
    choose(page, "Organization", "CPN")
    page.wait_for_url(re.compile(r"[?&]org=CPN"))
    settle(page)
    expect(multiselect(page, "Organization").locator("span[data-tag]")).to_have_count(1)
    shown = {label: kpi(page, label).inner_text() for label in ("Women registered", "Graduation rate")}
    url = page.url
    other = browser.new_context(viewport={"width": 1400, "height": 900})     # another person
    try:
        copy = other.new_page()
        open_app(copy, url)
        # A retrying wait, as for the first page: the sidebar's tags may draw after the charts.
        expect(multiselect(copy, "Organization").locator("span[data-tag]")).to_have_count(1)
        assert chosen(copy, "Organization") == ["CPN"]
        assert {label: kpi(copy, label).inner_text() for label in shown} == shown
        assert parse_qs(urlparse(copy.url).query).get("org") == ["CPN"]
    finally:
        other.close()


def _renders_khmer(page) -> bool:
    """Distinct Khmer letters draw distinct glyphs in the page's font (missing fonts draw the
    same empty box for every one)."""
    return page.evaluate("""() => {
        const font = getComputedStyle(document.querySelector('h1')).fontFamily;
        const draw = ch => {
            const c = document.createElement('canvas'); c.width = 80; c.height = 80;
            const g = c.getContext('2d'); g.font = `48px ${font}`; g.fillText(ch, 10, 60);
            return Array.from(g.getImageData(0, 0, 80, 80).data).join(',');
        };
        const [ka, kha, nya, box] = ['\\u1780', '\\u1781', '\\u1789', '\\u0378'].map(draw);
        return ka !== kha && kha !== nya && ka !== box && ka !== draw(' ');
    }""")


def test_khmer(server, page):
    fonts = subprocess.run(["fc-list", ":lang=km", "family"], capture_output=True, text=True).stdout \
        if shutil.which("fc-list") else ""
    assert fonts.strip(), "no Khmer font: scripts/test.sh installs fonts-khmeros"
    open_app(page, server["base"])
    # Trends by month or quarter: pick the one not chosen by default.
    grain = page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"]').first
    other = grain.locator('button[aria-checked="false"]')
    expect(other).to_have_count(1)
    picked = other.inner_text().strip()
    assert picked in (text("month"), text("quarter"))
    other.click()
    expect(grain.locator('button[aria-checked="true"]')).to_have_text(picked)
    settle(page)
    page.locator('[data-testid="stSidebar"] [data-testid="stRadio"]').get_by_text("ខ្មែរ", exact=True).click()
    expect(page.locator("h1")).to_have_text("ទិដ្ឋភាពទូទៅ", timeout=RERUN)
    page.wait_for_url(re.compile(r"[?&]lang=km"))
    settle(page)
    # The choices made stay chosen, under their Khmer names.
    khmer = text("month" if picked == text("month") else "quarter", "km")
    expect(grain.locator('button[aria-checked="true"]')).to_have_text(khmer)
    expect(kpi(page, "អ្នកចូលរួមដែលបានចុះឈ្មោះ")).to_have_count(1)
    assert "ទិដ្ឋភាពទូទៅ" in sidebar_links(page)
    assert _renders_khmer(page)
    screenshot(page, "overview_km")


# --- the map of Cambodia --------------------------------------------------------------------

def _province_point(page, iso: str) -> dict:
    """A point of the window inside a province of the map, after scrolling it into view: the
    point of a grid over its outline's box nearest the box's centre that lies inside the
    outline (plotly's drag layer is on top, so the SVG geometry says, not elementFromPoint)."""
    find = "iso => [...document.querySelectorAll('path.choroplethlocation')].find(p => p.__data__.loc === iso)"
    page.evaluate(f"iso => ({find})(iso).scrollIntoView({{block: 'center'}})", iso)
    page.wait_for_timeout(500)      # the scroll may be smooth
    return page.evaluate(f"""iso => {{
        const path = ({find})(iso);
        const box = path.getBoundingClientRect(), toPath = path.getScreenCTM().inverse();
        const inside = [];
        for (let i = 1; i < 16; i++) for (let j = 1; j < 16; j++) {{
            const x = box.left + box.width * i / 16, y = box.top + box.height * j / 16;
            if (path.isPointInFill(new DOMPoint(x, y).matrixTransform(toPath)))
                inside.push({{x, y, d: Math.hypot(i - 8, j - 8)}});
        }}
        return inside.sort((a, b) => a.d - b.d)[0] || null;
    }}""", iso)


def test_clicking_a_province_filters_the_page_to_its_sites_offline(server, page):
    asked = []      # anything the page asks of another host: the map must work offline
    page.route(re.compile(r"^(?!http://localhost[:/]).*"), lambda route: (asked.append(route.request.url),
                                                                        route.abort()))
    open_app(page, address(server["base"], "training"))
    before = kpi(page, "Graduation rate").inner_text()
    provinces = page.locator("path.choroplethlocation")
    expect(provinces).to_have_count(25)
    point = _province_point(page, "KH-17")          # Siem Reap: the demo's "Siem Reap - Pouk"
    assert point, "Siem Reap is not on the map"
    page.mouse.move(point["x"], point["y"])
    expect(page.locator(".hoverlayer .hovertext").get_by_text("Siem Reap", exact=True)).to_be_visible()
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(re.compile(r"[?&]site=Siem"))
    settle(page)
    assert parse_qs(urlparse(page.url).query)["site"] == ["Siem Reap - Pouk"]
    assert chosen(page, "Site") == ["Siem Reap - Pouk"]
    expect(kpi(page, "Graduation rate")).not_to_have_text(before)
    assert not page.locator('[data-testid="stException"]').count()
    # Filtered: Siem Reap alone keeps its colour; the other provinces are grey.
    colours = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('path.choroplethlocation')]
        .map(p => [p.__data__.loc, getComputedStyle(p).fill]))""")
    assert colours["KH-17"] != colours["KH-12"] == colours["KH-1"]
    assert asked == []
    screenshot(page, "training_siem_reap")


# --- the Data page --------------------------------------------------------------------------

def _workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = "Participants"
    today = dt.date.today().strftime("%d/%m/%Y")
    for row in ([PARTICIPANT_HEADER, participant("BRW-0001", today), participant("BRW-0002", BAD_DATE)]):
        wb.active.append(row)
    wb.save(path)
    return path


def test_upload_a_workbook_and_find_its_bad_row(server, page, tmp_path):
    path = _workbook(tmp_path / "KWCD_Browser_test.xlsx")
    open_app(page, f"{server['base']}/data", ready='[data-testid="stFileUploader"]')
    load = page.get_by_role("button", name="Load", exact=True)
    expect(load).to_be_disabled()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    expect(load).to_be_enabled(timeout=RERUN)
    load.click()
    expect(page.get_by_text("KWCD_Browser_test.xlsx (KWCD): 1 row(s) loaded, 1 rejected")).to_be_visible(
        timeout=FIRST_PAINT)
    settle(page)
    # The store has the good row and not the bad one.
    ids = set(open_store(server["db"]).tables()["participants"]["participant_id"])
    assert "BRW-0001" in ids and "BRW-0002" not in ids
    # The issue report opens on the file just loaded (the others a filter away) and, narrowed by
    # its search box, shows the bad row at its Excel row (3): the grid draws on a canvas, but its
    # accessible table holds the visible cells.
    expect(page.get_by_text(re.compile(r"^1 of [\d,]+ problem\(s\) shown"))).to_be_visible()
    page.get_by_label("Search the problems").fill(BAD_DATE)
    page.get_by_label("Search the problems").press("Enter")
    expect(page.get_by_text(re.compile(r"^1 of [\d,]+ problem\(s\) shown"))).to_be_visible(timeout=RERUN)
    settle(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    row = grid.locator('tbody [role="row"]').first
    expect(row.locator('[role="gridcell"]').first).to_have_text("KWCD_Browser_test.xlsx")
    cells = row.locator('[role="gridcell"]').all_inner_texts()
    assert cells[0] == "KWCD_Browser_test.xlsx" and cells[2] == "3" and cells[5] == BAD_DATE, cells
    # The file just loaded has its marked copy beside its message; it flags the bad cell.
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the file with its problems marked").first.click()
    download = info.value
    assert download.suggested_filename == "KWCD_Browser_test_issues.xlsx"
    marked = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert marked.sheetnames[0] == "Issues"
    sheet = marked["Participants"]
    assert sheet["D3"].value == BAD_DATE and sheet["D3"].comment is not None
    assert sheet["D2"].comment is None


def test_downloads_hold_what_the_page_shows(server, page):
    # The issue list of the Data page: every problem of the store.
    open_app(page, f"{server['base']}/data", ready='[data-testid="stFileUploader"]')
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the problem list (Excel)").click()
    assert info.value.suggested_filename == "issues.xlsx"
    listed = pd.read_excel(io.BytesIO(Path(info.value.path()).read_bytes()), sheet_name="Issues", dtype=str,
                           engine="openpyxl")
    issues = open_store(server["db"]).issues()      # "-10" stays "-10": text, with Excel's quote prefix
    assert len(listed) == len(issues) > 0
    assert list(listed.columns) == list(issues.columns)
    for column in ("file", "value", "problem"):
        assert sorted(listed[column].fillna("")) == sorted(issues[column].fillna("").astype(str)), column
    # A chart's CSV on the Overview: the monthly registrations add up to the KPI.
    open_app(page, server["base"])
    registered = number(kpi(page, "Women registered").inner_text())
    with page.expect_download() as info:
        page.locator(".st-key-csv_trend_participants_registered").get_by_role("button", name="Download CSV").click()
    assert info.value.suggested_filename == "trend_participants_registered.csv"
    raw = Path(info.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                   # a BOM, so Excel reads Khmer right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows and {r["metric"] for r in rows} == {"participants_registered"}
    assert round(sum(float(r["value"]) for r in rows if r["value"])) == registered


# --- a donor's share link -------------------------------------------------------------------

def _body(page) -> str:
    return page.inner_text("body")


def _no_identifier(text: str, ids) -> None:
    leaked = [i for i in ids if i and i in text]
    assert not leaked, f"participant ids on a donor page: {leaked[:5]}"


def test_a_donor_link_shows_its_scope_only_and_stops_when_revoked(server, page):
    store = open_store(server["db"])
    ids = [str(i) for i in store.tables()["participants"]["participant_id"].dropna().unique()]
    secret = sharing.server_secret(path=server["secret"])
    scope = sharing.Scope(("CPN",), pages=("overview", "training"))
    token, link = sharing.create_link(store, secret, "Sokha Director", scope,
                                      dt.date.today() + dt.timedelta(days=7), note="Browser test donor")
    base = server["base"]

    open_app(page, address(base, "overview", share=token))
    expect(not_found_dialog(page)).to_have_count(0)
    body = _body(page)
    assert "Shared by Sokha Director (Browser test donor)" in body
    assert "Local mode" not in body                        # not the director's session
    for label in ("Women registered", "People reached"):
        shown = kpi(page, label).inner_text()
        assert shown in ("–", text("withheld_short")) or number(shown) % 5 == 0, (label, shown)
    for label in ("Graduation rate", "Savings rate"):
        assert re.fullmatch(r"\d+\.\d%|–", kpi(page, label).inner_text())
    links = sidebar_links(page)
    assert links == ["Overview", "Training"], links
    assert "CPN" in page.locator('[data-testid="stSidebar"]').inner_text()
    registered = kpi(page, "Women registered").inner_text()
    _no_identifier(body, ids)
    screenshot(page, "donor_overview")

    # A page outside the link, by URL: refused, and no uploader.
    open_app(page, address(base, "data", share=token), ready='[data-testid="stAlert"]')
    body = _body(page)
    assert "This page is not part of the link you were given." in body
    assert not page.locator('[data-testid="stFileUploader"]').count()
    assert not page.locator('[data-testid="stMetric"]').count()
    _no_identifier(body, ids)

    # A widened URL: another organization asked for, the scope's figures given.
    open_app(page, address(base, "overview", share=token, org="KWCD"))
    assert offered(page, "Organization") == ["CPN"]
    assert "KWCD" not in chosen(page, "Organization")
    assert kpi(page, "Women registered").inner_text() == registered
    assert "KWCD" not in _body(page)
    _no_identifier(_body(page), ids)

    # The Training page of the link opens; its figures are protected as well.
    open_app(page, address(base, "training", share=token), ready="h1")
    expect(page.locator("h1")).to_have_text("Training")
    _no_identifier(_body(page), ids)

    # Revoked: the open page serves no download from that moment, and stops at once on reload.
    open_app(page, address(base, "overview", share=token))
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    with page.expect_download() as info:                 # while the link holds, a chart's CSV comes
        page.get_by_role("button", name="Download CSV").first.click()
    assert info.value.suggested_filename.endswith(".csv")
    sharing.revoke(store, link.public_id)
    for name in ("Download CSV", "Download Excel"):
        page.get_by_role("button", name=name).first.click()
    page.get_by_role("button", name=re.compile("report", re.I)).first.click()
    page.wait_for_timeout(5_000)
    assert len(downloads) == 1, [d.suggested_filename for d in downloads]
    page.reload()
    expect(page.get_by_text(re.compile(r"This share link was revoked on \d\d/\d\d/\d{4}"))).to_be_visible(
        timeout=FIRST_PAINT)
    settle(page)
    assert not page.locator('[data-testid="stMetric"]').count()
    _no_identifier(_body(page), ids)


def test_a_donor_sees_networks_and_justice_without_any_id(server, page):
    """The most sensitive pages through a link: protected figures, and no participant, network
    member or case id anywhere on them."""
    store = open_store(server["db"])
    tables = store.tables()
    ids = {str(i) for table, column in (("participants", "participant_id"), ("network_members", "member_id"),
                                        ("cases", "case_id")) for i in tables[table][column].dropna().unique()}
    assert len(tables["cases"]) and len(tables["network_members"])
    secret = sharing.server_secret(path=server["secret"])
    token, _ = sharing.create_link(store, secret, "Sokha Director", sharing.Scope(("CPN",), pages=("networks", "justice")),
                                   dt.date.today() + dt.timedelta(days=7), note="Browser test donor")
    for path, title, label in (("networks", "Networks", "Network members"),
                               ("justice", "Justice & protection", "Cases reported")):
        open_app(page, address(server["base"], path, share=token, period="all_time"), ready="h1")
        expect(page.locator("h1")).to_have_text(title)
        settle(page)
        shown = kpi(page, label).inner_text()
        assert shown in ("–", "fewer than 10") or number(shown) % 5 == 0, (label, shown)
        _no_identifier(_body(page), ids)
        screenshot(page, f"donor_{path}")


# --- every page, for a person to look at ----------------------------------------------------

@pytest.mark.parametrize("path", STAFF_PAGES)
def test_screenshot_of_each_page(server, page, path):
    open_app(page, address(server["base"], path), ready="h1")
    page.wait_for_timeout(300)
    settle(page)
    assert not page.locator('[data-testid="stException"]').count(), page.locator(
        '[data-testid="stException"]').first.inner_text()
    screenshot(page, path)
    assert not not_found_dialog(page).count()


def test_the_address_a_director_hands_out_opens_without_an_error(server, page):
    """Once any session has opened the root (always, on a server in use), Streamlit answers
    /overview with a "Page not found" dialog and rewrites the address to /; before that, it
    happens to open quietly. So the root is opened first, as in real use."""
    store = open_store(server["db"])
    token, _ = sharing.create_link(store, sharing.server_secret(path=server["secret"]), "Sokha Director",
                                   sharing.Scope(("SRP",)), dt.date.today() + dt.timedelta(days=7))
    open_app(page, server["base"])
    donor = page.context.new_page()
    open_app(donor, sharing.link_url(server["base"], token))
    expect(donor.get_by_text("Shared by Sokha Director")).to_be_visible()
    settle(donor)                               # the dialog would come with the end of the run
    expect(not_found_dialog(donor)).to_have_count(0)
    assert parse_qs(urlparse(donor.url).query)["share"] == [token]


# --- the walk: everything a director or a donor can click, in both languages ----------------

WALKS = [("director", "en"), ("director", "km"), ("donor", "en"), ("donor", "km")]


def healthy(page, where: str) -> None:
    """No exception box and no traceback on the page (a user never sees either)."""
    errors = page.locator('[data-testid="stException"]')
    assert not errors.count(), f"{where}: {errors.first.inner_text()[:500]}"
    assert "Traceback" not in _body(page), where
    assert not not_found_dialog(page).count(), where


def rerun(page) -> None:
    """After a click: the rerun it starts may not have begun yet, so wait a moment, then settle."""
    page.wait_for_timeout(300)
    settle(page)


# Chromium lets a page start 10 downloads that its script triggers (a deferred download
# fetches the file, then clicks a link: no longer the user's gesture); the 11th waits for a
# "download multiple files" permission a person would grant and a headless walk cannot.
CHROMIUM_DOWNLOADS_PER_PAGE = 10


def _walk_downloads(page, where: str) -> int:
    """Every download button of the page: each gives a file that is not empty."""
    buttons = page.locator('[data-testid="stMain"] [data-testid="stDownloadButton"] button:visible')   # a help tooltip draws a hidden copy
    for i in range(buttons.count()):
        if i and i % CHROMIUM_DOWNLOADS_PER_PAGE == 0:
            page.reload()     # Chromium's limit resets when the tab navigates
        settle(page)          # a download that is not deferred reruns the page
        with page.expect_download() as info:
            buttons.nth(i).click()
        assert Path(info.value.path()).stat().st_size > 0, f"{where}: {info.value.suggested_filename} is empty"
        healthy(page, f"{where}, download {info.value.suggested_filename}")
    return buttons.count()


def _walk_segments(page, where: str) -> None:
    """Every option of every segmented control (trends by month or quarter, breakdowns, currency)."""
    groups = page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"]')
    for g in range(groups.count()):
        options = groups.nth(g).locator("button")
        for o in range(options.count()):
            if options.nth(o).get_attribute("aria-checked") != "true":
                options.nth(o).click()
                rerun(page)
                healthy(page, f"{where}, segment {options.nth(o).inner_text()}")


def _walk_bars(page, where: str) -> int:
    """The first drawn bar of every bar chart: a chart broken down by a filter dimension narrows
    the view to it, any other ignores the click."""
    clicked = 0
    charts = page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]')
    for c in range(charts.count()):
        chart = charts.nth(c)
        bars = chart.locator(".barlayer .point path")
        if not bars.count():
            continue
        # The first bar that has an area: a bar of 0 is a line no pointer can hit.
        sizes = bars.evaluate_all("ps => ps.map(p => { const b = p.getBBox(); return b.width * b.height; })")
        drawn = next((b for b, size in enumerate(sizes) if size > 1), None)
        if drawn is None:
            continue
        bars.nth(drawn).click(force=True)
        rerun(page)
        healthy(page, f"{where}, bar of chart {c + 1}")
        clicked += 1
    return clicked


def _choose_period(page, i: int, lang: str) -> str:
    """The i-th period the Period box offers (round the list): a director's presets, a donor's
    release periods (her link's whole quarters and years). Returns its label."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=text("period", lang)))
    box.locator("input").click()
    page.wait_for_selector('[role="option"]')
    options = page.locator('[role="option"]')
    option = options.nth(i % options.count())
    label = option.inner_text().strip()
    option.click()
    rerun(page)
    return label


@pytest.mark.parametrize("role, lang", WALKS, ids=[f"{r}-{l}" for r, l in WALKS])
def test_walk_every_page_and_control(server, page, role, lang):
    """Every page a director (every page) or a donor (a share link's pages) opens, in English and
    in Khmer: its segmented controls, the bars that filter, its downloads, and, page by page in
    turn, each period preset and each filter set to its first value (so one walk covers every
    preset and every filter without multiplying them by the pages); after each action nothing
    on the page is an error. A screenshot of every page for a person to look at, in
    test-artifacts/screenshots/walk_<role>_<lang>_<page>.png."""
    from impact.view import FILTER_PARAMS
    from impact.access.page_registry import donor_pages
    params = {"lang": lang} if lang == "km" else {}
    store = open_store(server["db"])
    if role == "donor":
        params[sharing.SHARE_PARAM], _ = sharing.create_link(
            store, sharing.server_secret(path=server["secret"]), "Sokha Director", sharing.Scope(("KWCD",)),
            dt.date.today() + dt.timedelta(days=7))
    paths = STAFF_PAGES if role == "director" else donor_pages()
    dimensions = list(FILTER_PARAMS.values())
    downloads = bars = 0
    for i, path in enumerate(paths):
        where = f"{role}/{lang}/{path}"
        open_app(page, address(server["base"], path, **params), ready="h1")
        healthy(page, where)
        screenshot(page, f"walk_{role}_{lang}_{path}")
        _walk_segments(page, where)
        bars += _walk_bars(page, where)
        if lang == "en":      # the same tables in either language: downloaded once, to keep the walk short
            downloads += _walk_downloads(page, where)
        if path in ("data", "share"):      # no period or filter changes what these pages show
            continue
        healthy(page, f"{where}, period {_choose_period(page, i, lang)}")
        label = text(dimensions[i % len(dimensions)], lang)
        first = offered(page, label)[:1]
        for option in first:
            choose(page, label, option)
            rerun(page)
            healthy(page, f"{where}, {label} = {option}")
    assert bars > 0 and (downloads > 10 or lang != "en"), (downloads, bars)
