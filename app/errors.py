"""What a visitor sees when a page fails: one plain sentence in her language with a short
error id, never a traceback (server paths and source lines are nobody's business but the
server log's, where the details go under the same id)."""
from __future__ import annotations

import logging
import secrets
from contextlib import contextmanager

import streamlit as st

from impact.present.texts import text

log = logging.getLogger("impact.dashboard")


@contextmanager
def shown_plainly(lang: str, where: str):
    """Run a page (`where` names it in the log); an exception becomes a plain message with an
    id. Streamlit's rerun and stop are not `Exception`s, so they pass through."""
    try:
        yield
    except Exception:
        error_id = secrets.token_hex(4)
        log.exception("page %s failed [error %s]", where, error_id)
        st.error(text("page_failed", lang).format(id=error_id), icon="⚠️")
