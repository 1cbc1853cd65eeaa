"""Serve the dashboard warm: `streamlit run serve.py` (what scripts/run.sh starts).

`dashboard.py` is the app. This wraps it in `st.App` with a start-up step that does, before
the server lets anyone in, what would otherwise make the first visitor wait: the imports,
the process uploads are read in (impact.intake.isolated), opening the store (seeding it with demo
data on a first start), its prepared tables, every target's progress and the Overview's
default view. `streamlit run dashboard.py` serves the same app cold.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def warm_start(app):
    from impact.store import StoreUnavailable
    try:
        from impact.intake import isolated
        isolated.start()   # the forkserver every upload is read from imports while the rest warms
        from app import session
        await asyncio.to_thread(session.warm_up)
    except StoreUnavailable as exc:   # busy past the timeout, read-only, newer than this program
        logging.getLogger("impact").error("warm start failed: %s; serving the dashboard cold", exc)
    except Exception:   # e.g. a hosted store not reachable yet: the pages say why, as when cold
        logging.getLogger("impact").exception("warm start failed; serving the dashboard cold")
    yield


app = st.App("dashboard.py", lifespan=warm_start)

if __name__ == "__main__":
    app.run()
