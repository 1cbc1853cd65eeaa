"""One donor share link opened by many sessions at once, as headless clients speaking
Streamlit's websocket protocol (no browser: on 2 cores, browsers saturate the machine).

Starts `serve.py` as scripts/run.sh does on a fresh demo store, makes a share link with the
command line, waits for the warm-up, then times each session from connecting to
/_stcore/stream (a rerun BackMsg carrying `share=TOKEN`) to the first KPI tile's delta:

| load | goal |
|---|---|
| 20 sessions arriving in the same second | all get tiles, 0 errors, p95 < 4 s |
| 1 new session a second for `--seconds` (60) | p95 < 2 s |

Also prints the server's CPU seconds per donor visit (/proc/PID/stat) and its RSS before,
during and after. Exits 1 when a goal is missed.
Browser contexts against a trivial app (part (b) of issue 12) are not measured here yet.
Run: `.venv/bin/python bench/bench_donors.py [--sessions 20] [--seconds 60]`
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_browser import ROOT, serve   # noqa: E402  (the same server as the browser benchmark)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def visit(url: str, query: str, timeout: float = 60) -> float:
    """Seconds from connecting to the first KPI tile's delta of one new session."""
    start = time.perf_counter()
    async with websockets.connect(url, subprotocols=["streamlit"], max_size=None) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = query
        rerun.rerun_script.page_script_hash = ""
        await ws.send(rerun.SerializeToString())
        async with asyncio.timeout(timeout):
            while True:
                message = ForwardMsg()
                message.ParseFromString(await ws.recv())
                if (message.WhichOneof("type") == "delta" and message.delta.WhichOneof("type") == "new_element"
                        and message.delta.new_element.WhichOneof("type") == "metric"):
                    return time.perf_counter() - start


def share_link(folder: Path) -> str:
    """The query string of a share link of one organization, made by the command line."""
    env = {**os.environ, "IMPACT_STORE": str(folder / "store.db"), "IMPACT_SECRET_FILE": str(folder / "secret.key")}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "impact", "share", "create", "--organization", "SRP",
                          "--expires", "1d", "--note", "bench_donors", "--by", "bench"], cwd=ROOT,
                         env=env, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1].split("?", 1)[1]


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def measure(url: str, query: str, sessions: int, seconds: int, pid: int) -> bool:
    while True:   # until the warm-up is over (its notice has no tile)
        try:
            await visit(url, query, timeout=5)
            break
        except TimeoutError:
            await asyncio.sleep(1)
    rss_before, cpu = rss_mib(pid), cpu_seconds(pid)
    burst = await asyncio.gather(*(visit(url, query) for _ in range(sessions)), return_exceptions=True)
    rss_during = rss_mib(pid)
    times = [t for t in burst if isinstance(t, float)]
    errors = len(burst) - len(times)
    cpu_burst = (cpu_seconds(pid) - cpu) / sessions
    ok_burst = not errors and bool(times) and p95(times) < 4
    print(f"{sessions} at once: {len(times)} got tiles, {errors} errors, median {statistics.median(times):.2f} s, "
          f"p95 {p95(times):.2f} s (goal < 4 s), server CPU {cpu_burst:.3f} s a visit"
          + ("" if ok_burst else "   MISSED"))

    cpu, steady = cpu_seconds(pid), []
    async def one_later(delay: float) -> None:
        await asyncio.sleep(delay)
        steady.append(await visit(url, query))
    results = await asyncio.gather(*(one_later(i) for i in range(seconds)), return_exceptions=True)
    errors = sum(isinstance(r, BaseException) for r in results)
    ok_steady = not errors and bool(steady) and p95(steady) < 2
    print(f"1 a second for {seconds} s: {len(steady)} got tiles, {errors} errors, median "
          f"{statistics.median(steady):.2f} s, p95 {p95(steady):.2f} s (goal < 2 s), server CPU "
          f"{(cpu_seconds(pid) - cpu) / seconds:.3f} s a visit" + ("" if ok_steady else "   MISSED"))
    await asyncio.sleep(5)      # closed sessions are let go
    print(f"server RSS: before {rss_before:.0f} MiB, after the burst {rss_during:.0f} MiB, "
          f"after all closed {rss_mib(pid):.0f} MiB; load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    return ok_burst and ok_steady


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--port", type=int, default=8598)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = serve(Path(tmp), args.port)
        try:
            ok = asyncio.run(measure(f"ws://localhost:{args.port}/_stcore/stream", share_link(Path(tmp)),
                                     args.sessions, args.seconds, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
