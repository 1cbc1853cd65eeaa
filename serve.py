"""Serve the dashboard warm: `streamlit run serve.py` (what scripts/run.sh starts).

`dashboard.py` is the app. This wraps it in `st.App` with a start-up step that does what would
otherwise make the first visitor wait: its sockets set to send at once (`app.sockets`), the
imports, the process uploads are read in (impact.intake.isolated) and opening the store
(seeding it with demo data on a first start) before the server lets anyone in; then, in a thread while the server already answers health
checks and visitors (who see how long it has been preparing, `app.cards.warming_notice`), its
prepared tables, every target's progress and the Overview's default view.
`streamlit run dashboard.py` serves the same app cold.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def warm_start(app):
    from app import sockets
    sockets.send_at_once()   # Streamlit leaves Nagle's algorithm on: 40 ms a response on a kept-alive connection
    from impact.intake import isolated
    isolated.start()   # the forkserver every upload is read from imports while the rest warms
    from app import session
    try:
        session.store()      # opened, and seeded with demo data on a first start, before anyone is let in
    except Exception:        # busy, read-only, newer than this program, not reachable yet: the pages say why
        logging.getLogger("impact").exception("opening the store failed; serving the dashboard cold")
    session.start_warm_up()  # the rest in a thread: health checks and visitors are answered meanwhile
    yield


app = st.App("dashboard.py", lifespan=warm_start)

if __name__ == "__main__":
    app.run()
