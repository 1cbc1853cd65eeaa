"""The dashboard's pages, declared once: each page's URL path, script, title, icon and who may
open it. The router (dashboard.py) admits a visitor to a page from this table alone, before the
page's script runs, so a page cannot forget to check; share links (`impact.access.sharing`) offer the
donor pages of the same table.

Roles: the two account roles (`impact.access.accounts`) and `donor`, a visitor with a share link, who
may also open only the pages her link names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from impact.access import accounts

DIRECTOR, STAFF = accounts.ROLES
DONOR = "donor"
ROLES = (DIRECTOR, STAFF, DONOR)
EVERYONE = frozenset(ROLES)


@dataclass(frozen=True)
class Page:
    path: str                   # URL path, also the page's name in a share link's scope
    file: str                   # the page's script, relative to dashboard.py
    title: str                  # text key of its title (impact/present/texts.csv)
    icon: str                   # the browser tab's; an emoji (a Material icon is fetched from Google)
    audience: frozenset[str]    # the roles that may open it

    def __post_init__(self):
        unknown = set(self.audience) - set(ROLES)
        if unknown:     # a misspelt role would silently lock a page, or open it to nobody meant
            raise ValueError(f"page {self.path!r}: unknown role(s) {', '.join(sorted(unknown))}; "
                             f"roles: {', '.join(ROLES)}")


# In the sidebar's order; the first is the app's home page.
PAGES = (
    Page("overview", "app/pages/overview.py", "page_overview", "🏠", EVERYONE),
    Page("outreach", "app/pages/outreach.py", "page_outreach", "📣", EVERYONE),
    Page("training", "app/pages/training.py", "page_training", "🎓", EVERYONE),
    Page("livelihoods", "app/pages/livelihoods.py", "page_livelihoods", "💼", EVERYONE),
    Page("savings", "app/pages/savings.py", "page_savings", "🏦", EVERYONE),
    Page("services", "app/pages/services.py", "page_services", "🤝", EVERYONE),
    Page("networks", "app/pages/networks.py", "page_networks", "🕸️", EVERYONE),
    Page("justice", "app/pages/justice.py", "page_justice", "⚖️", EVERYONE),
    Page("targets", "app/pages/targets.py", "page_targets", "🎯", EVERYONE),
    Page("data", "app/pages/data.py", "page_data", "📂", frozenset({DIRECTOR, STAFF})),
    Page("share", "app/pages/share.py", "page_share", "🔗", frozenset({DIRECTOR})),
)
HOME = PAGES[0].path    # Streamlit serves the home page at the app's root URL only


def donor_pages() -> tuple[str, ...]:
    """The paths of the pages a share link may show (never data, accounts or sharing)."""
    return tuple(p.path for p in PAGES if DONOR in p.audience)


def may_open(page: Page, role: str | None, shared_pages: Iterable[str] = ()) -> bool:
    """Whether a visitor of this role (None: not signed in) may open the page; a donor only
    when her link names it too."""
    if role not in page.audience:
        return False
    return role != DONOR or page.path in set(shared_pages)


def pages_for(role: str | None, shared_pages: Iterable[str] = ()) -> tuple[Page, ...]:
    """The pages a visitor may open, in the sidebar's order."""
    shared_pages = tuple(shared_pages)
    return tuple(p for p in PAGES if may_open(p, role, shared_pages))
