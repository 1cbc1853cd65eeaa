"""How fast the dashboard answers a director on the demo store.

1. AppTest: every page's rerun after a filter change (the cached path a director hits),
   median of --repeat changes per page. Target: under 300 ms.
2. Browser: `streamlit run` on a free port, Debian's Chromium through Playwright; time from
   navigation to the first KPI on screen, cold server and reload. Target: first paint under 3 s.

    .venv/bin/python bench/bench_dashboard.py [--repeat 5] [--no-browser]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def apptest_reruns(repeat: int) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest
    from pages.shared import PAGES
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=120).run()
    out = {}
    sites = at.multiselect(key="f_site").options
    for file, _, path in PAGES:
        at.switch_page(file).run()
        times = []
        for i in range(repeat):
            at.multiselect(key="f_site").set_value([sites[i % len(sites)]])
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
            assert not at.exception, at.exception
        at.multiselect(key="f_site").set_value([]).run()
        out[path] = statistics.median(times)
    return out


def browser_first_paint() -> tuple[float, float]:
    from playwright.sync_api import sync_playwright
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard.py"),
                               "--server.port", str(port), "--server.headless", "true"],
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page()
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("[data-testid='stMetric']", timeout=60000)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            page.reload()
            page.wait_for_selector("[data-testid='stMetric']", timeout=60000)
            warm = time.perf_counter() - start
            browser.close()
        return cold, warm
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["IMPACT_STORE"] = str(Path(tmp) / "bench.db")
        import impact.config
        impact.config.DEMO_DIR = Path(tmp) / "demo"
        reruns = apptest_reruns(args.repeat)
        print(f"{'page':14} {'rerun after a filter change (median)':>40}")
        for page, seconds in reruns.items():
            print(f"{page:14} {seconds * 1000:>37.0f} ms")
        slowest = max(reruns.values())
        ok = slowest < 0.3
        if not args.no_browser:
            cold, warm = browser_first_paint()
            print(f"browser first paint: cold server {cold:.2f} s, reload {warm:.2f} s")
            ok &= cold < 3
    print("targets met" if ok else "target missed: rerun >= 300 ms or first paint >= 3 s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
