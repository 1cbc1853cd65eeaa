"""The dashboard's Streamlit glue, in one place: `gate` (who is looking, may they open this
page), `session` (caches keyed on the store's data version, the frame a page reads),
`sidebar` (filters in the URL, page links, the page's head) and `cards` (chart cards, headline
figures); the pages themselves in `pages/`, thin: read the frame, call `impact/`, draw.

Decisions live in `impact/` (`page_registry`, `protection`); this package only asks and draws.
The page scripts are not in a top-level `pages/` folder on purpose: Streamlit runs a script of
a `pages/` folder beside the entry point directly, without the router, until the entry point
has run once since the server started (a first visitor opening /data would skip the gate),
and on every AppTest page switch.
"""
