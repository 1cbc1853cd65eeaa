"""Share links: a director gives a donor a link that shows protected aggregates of one scope
(organizations, programs, sites, a period, some pages) until it expires or is revoked.

A link's token is its random public id signed with HMAC-SHA256 under the server secret, so a
token cannot be guessed or altered, and every check reads the store, so revoking a link works
at once. The scope is kept in the store, never in the URL: the filters a donor session may use
are the ones it asks for intersected with the scope, one value each or all (`scope_filters`),
and her period is one of the link's whole quarters or years (`release_period`); a request
outside the scope gives nothing or the link's own scope, never more. Opening a link is logged with the pages
shown, never the viewer's address.

The server secret comes from `IMPACT_SECRET` (environment), or Streamlit's secrets passed in by
the caller, else a random key generated once into `IMPACT_SECRET_FILE` (default
data/secret.key, ignored by git) readable by its owner only. Changing it invalidates every link.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping

from itsdangerous import Signer
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    select,
    update,
)

from impact.access import accounts

from impact import config

from impact.access import page_registry
from impact.access.accounts import Account, utc
from impact.metrics.engine import DIMENSIONS, first_record
from impact.metrics.prepared import Prepared, prepare

# Pages a donor may be shown: the registry's, never "data", accounts or sharing.
DONOR_PAGES = page_registry.donor_pages()
# Dimensions a share link's scope restricts: dimension -> Scope attribute.
SCOPED_DIMENSIONS = {"organization": "organizations", "program": "programs", "site": "sites"}
SECRET_ENV = "IMPACT_SECRET"
SECRET_FILE_ENV = "IMPACT_SECRET_FILE"
DEFAULT_SECRET_FILE = config.PROJECT_DIR / "data" / "secret.key"
MIN_SECRET_BYTES = 32
MAX_NOTE_LENGTH = 200
SHARE_PARAM = "share"

metadata = MetaData()

share_links_table = Table(
    "share_links", metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", Text, nullable=False, unique=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),     # UTC
    Column("expires_at", DateTime(timezone=True), nullable=False),     # UTC
    Column("organizations", JSON, nullable=False),
    Column("programs", JSON, nullable=False),
    Column("sites", JSON, nullable=False),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("pages", JSON, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("revoked_at", DateTime(timezone=True)),                     # UTC
)

share_opens_table = Table(
    "share_opens", metadata,
    Column("id", Integer, primary_key=True),
    Column("link_id", Integer, ForeignKey("share_links.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),             # UTC
    Column("pages", JSON, nullable=False),
    Index("ix_share_opens_link_id", "link_id"),
)

_sl = share_links_table.c
_so = share_opens_table.c


# --- errors -------------------------------------------------------------------------------

class InvalidShareLink(Exception):
    """A share link that must not open. `reason` is a stable code (for translated texts);
    the message says what happened in plain words."""

    def __init__(self, reason: str, when: dt.datetime | None = None):
        self.reason = reason
        self.when = when
        day = when.strftime("%d/%m/%Y") if when else ""
        message = {
            "garbled": "This share link is incomplete or garbled: check that the whole link was copied.",
            "tampered": "This share link has been altered: its signature does not match, so it cannot be trusted.",
            "other_secret": "This share link was signed with another key: it was made by another installation, "
                            "or this dashboard's secret key has changed since. Ask for a new link.",
            "unknown": "This share link does not exist on this dashboard. Ask for a new link.",
            "expired": f"This share link expired on {day}. Ask for a new link.",
            "revoked": f"This share link was revoked on {day}. Ask for a new link.",
        }[reason]
        super().__init__(message)


# --- the server secret --------------------------------------------------------------------

def secret_file() -> Path:
    return config.secret_file(DEFAULT_SECRET_FILE)


def server_secret(streamlit_secrets: Mapping | None = None, path: str | Path | None = None) -> bytes:
    """`IMPACT_SECRET` from the environment, then from Streamlit's secrets (pass `st.secrets`),
    else the key file, generated on first use (32 random bytes, mode 0600)."""
    value = config.secret() or _from_secrets(streamlit_secrets)
    if value:
        key = value.encode() if isinstance(value, str) else bytes(value)
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"{SECRET_ENV} is too short: use at least {MIN_SECRET_BYTES} random characters "
                             "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return key
    path = Path(path) if path else secret_file()
    try:
        return _secret_from_file(path)
    except OSError as exc:
        raise ValueError(f"cannot read or create the secret key file {path}: {exc.strerror or exc}") from None


def _from_secrets(streamlit_secrets: Mapping | None):
    """IMPACT_SECRET of Streamlit's secrets, which raise (FileNotFoundError) when no
    secrets.toml exists at all."""
    if streamlit_secrets is None:
        return None
    try:
        return streamlit_secrets.get(SECRET_ENV)
    except FileNotFoundError:
        return None


def _secret_from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass                                  # another process made it first: read theirs
        else:
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, 0o600)          # whatever the umask
                key = secrets.token_bytes(MIN_SECRET_BYTES)
                os.write(fd, key)
                os.fsync(fd)
            finally:
                os.close(fd)
            return key
    for _ in range(20):                           # a concurrent creator may not have written yet
        key = path.read_bytes()
        if len(key) >= MIN_SECRET_BYTES:
            return key
        time.sleep(0.05)
    raise ValueError(f"the secret key file {path} is too short ({len(key)} bytes): delete it to make a new "
                     "one (links made so far will stop working)")


def _key(secret: bytes | str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the share-link secret must have at least {MIN_SECRET_BYTES} bytes")
    return key


# --- tokens -------------------------------------------------------------------------------

_PUBLIC_ID, _KEY_ID, _SIGNATURE = r"[A-Za-z0-9_-]{22}", r"[A-Za-z0-9_-]{8}", r"[A-Za-z0-9_-]{43}"
_TOKEN = re.compile(rf"({_PUBLIC_ID})\.({_KEY_ID})\.({_SIGNATURE})")
# A link's public id, or its token: what `share revoke` and `share verify` take.
ID_OR_TOKEN = re.compile(rf"{_PUBLIC_ID}(?:\.{_KEY_ID}\.{_SIGNATURE})?")


def _signer(secret: bytes | str, purpose: str = "impact share link") -> Signer:
    """itsdangerous' HMAC-SHA256 signer under the server secret, one salt per purpose."""
    return Signer(_key(secret), salt=purpose, digest_method=hashlib.sha256)


def key_id(secret: bytes | str) -> str:
    """A short fingerprint of the secret, carried in tokens so a link signed under another
    secret can be told from an altered one. It reveals nothing about the secret."""
    return _signer(secret, "impact share link key id").get_signature(b"")[:8].decode("ascii")


def new_public_id() -> str:
    """A random public id (128 bits, URL-safe) that does not start with '-': a command line
    would read such an id, or the token it begins, as an option."""
    while True:
        public_id = secrets.token_urlsafe(16)
        if not public_id.startswith("-"):
            return public_id


def sign(secret: bytes | str, public_id: str) -> str:
    """The token of a link: `public_id.key_id.HMAC-SHA256(public_id.key_id)`, URL-safe. Any
    director can get a link's token again from its public id."""
    return _signer(secret).sign(f"{public_id}.{key_id(secret)}").decode("ascii")


def _unsign(secret: bytes | str, token) -> str:
    """The public id of a correctly signed token, else InvalidShareLink."""
    match = _TOKEN.fullmatch(token.strip()) if isinstance(token, str) else None
    if match is None:
        raise InvalidShareLink("garbled")
    public_id, kid, signature = match.groups()
    if not hmac.compare_digest(kid, key_id(secret)):
        raise InvalidShareLink("other_secret")
    if not _signer(secret).verify_signature(f"{public_id}.{kid}", signature):
        raise InvalidShareLink("tampered")
    return public_id


# --- scope --------------------------------------------------------------------------------

def _values(values) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    return tuple(dict.fromkeys(v for v in (str(x).strip() for x in values) if v))


def _day(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"not a date: {value!r} (use yyyy-mm-dd)") from None


@dataclass(frozen=True)
class Scope:
    """What a share link shows. Empty programs or sites: all of the organizations'. No period
    start: from the first record; no end: up to the day it is viewed. Empty pages: every
    donor page."""
    organizations: tuple[str, ...]
    programs: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    pages: tuple[str, ...] = DONOR_PAGES

    def __post_init__(self):
        for name in ("organizations", "programs", "sites", "pages"):
            object.__setattr__(self, name, _values(getattr(self, name)))
        object.__setattr__(self, "period_start", _day(self.period_start))
        object.__setattr__(self, "period_end", _day(self.period_end))
        if not self.organizations:
            raise ValueError("a share link needs at least one organization")
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError(f"the shared period starts ({self.period_start}) after it ends ({self.period_end})")
        if not self.pages:
            object.__setattr__(self, "pages", DONOR_PAGES)
        unsafe = [p for p in self.pages if p not in DONOR_PAGES]
        if unsafe:
            raise ValueError(f"cannot share page(s) {', '.join(unsafe)}: donor links show only "
                             f"{', '.join(DONOR_PAGES)}")

    def to_dict(self) -> dict:
        """JSON-ready: lists and ISO dates."""
        out = asdict(self)
        out.update({k: list(v) for k, v in out.items() if isinstance(v, tuple)})
        out.update(period_start=_iso(self.period_start), period_end=_iso(self.period_end))
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "Scope":
        return cls(**{f: data.get(f) for f in ("organizations", "programs", "sites", "period_start",
                                                "period_end", "pages") if data.get(f) is not None})

    @property
    def first_page(self) -> str:
        return page_registry.HOME if page_registry.HOME in self.pages else self.pages[0]


def _iso(value) -> str | None:
    """ISO text of a date, or of a moment to the second: one format, however it was stored."""
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value.isoformat()


def _moment(value: dt.datetime | None = None) -> dt.datetime:
    """A moment as the store keeps it, whoever writes it (the command line, the Share page):
    UTC, to the second (now, without `value`)."""
    return utc(value).replace(microsecond=0)


def scope_filters(scope: Scope, requested: Mapping[str, Iterable[str]] | None = None) -> dict[str, tuple[str, ...]]:
    """The filters a donor session may use: the requested ones (dimension -> values, as a View
    holds them) within the scope, one value per dimension or all of them. A release, not a
    query engine: combinations of several values would let a donor difference groups (age
    bands 18-24 and 25-34, then 18-24 alone), so a request for several values of a dimension
    gives all of them (the scope's, for organizations, programs and sites). Organizations,
    programs and sites outside the scope are dropped, and an unrequested scoped dimension takes
    the scope's values. A dimension whose requested values all fall outside the scope maps to
    an EMPTY tuple, which matches nothing (as metrics.Selection reads it): never turn it into
    "no filter". Unknown dimensions are dropped; other known ones (age band, ...) only narrow."""
    out = {}
    for dimension, values in (requested or {}).items():
        values = _values(values)
        if dimension in DIMENSIONS and values:
            out[dimension] = values
    for dimension, attribute in SCOPED_DIMENSIONS.items():
        allowed = getattr(scope, attribute)
        if allowed:
            out[dimension] = tuple(v for v in out[dimension] if v in allowed) if dimension in out else allowed
    for dimension, values in list(out.items()):
        if len(values) > 1:          # several values: all of them (the scope's, where it names some)
            every = getattr(scope, SCOPED_DIMENSIONS[dimension]) if dimension in SCOPED_DIMENSIONS else ()
            if every:
                out[dimension] = every
            else:
                del out[dimension]
    return out


def release_periods(scope: Scope, today: dt.date | None = None) -> list[tuple[dt.date | None, dt.date]]:
    """The periods a donor may choose: the link's whole period, then each calendar year and
    each quarter of it, clipped to it. Nothing finer: day-level windows, chained, pin exact
    small counts. A link without an end runs to the end of today's quarter, so the window
    does not move day by day either. A scope without a start (no record yet) has its whole
    period only."""
    today = today or dt.date.today()
    quarter_end = _quarter_end(today)
    start, end = scope.period_start, scope.period_end or quarter_end
    if start is None:
        return [(None, end)]
    years = [(max(dt.date(y, 1, 1), start), min(dt.date(y, 12, 31), end)) for y in range(start.year, end.year + 1)]
    quarters = []
    day = dt.date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while day <= end:
        quarters.append((max(day, start), min(_quarter_end(day), end)))
        day = _quarter_end(day) + dt.timedelta(days=1)
    return list(dict.fromkeys([(start, end), *years, *quarters]))


def _quarter_end(day: dt.date) -> dt.date:
    month = 3 * ((day.month - 1) // 3) + 3
    return dt.date(day.year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def release_period(scope: Scope, start: dt.date | None, end: dt.date | None,
                   today: dt.date | None = None) -> tuple[dt.date | None, dt.date]:
    """The period a donor asked for if it is one of her link's `release_periods`, else (a
    widened, day-level or foreign period in a URL) the link's whole period: never more."""
    periods = release_periods(scope, today)
    asked = (_day(start), _day(end))
    return asked if asked in periods else periods[0]


def from_first_record(scope: Scope, prepared: Prepared) -> Scope:
    """The scope, starting at its first record when it names no start: the earliest date in the
    data of its organizations, programs and sites. A link without a start shows its scope's
    whole history; left open, a donor's view would begin on 1 January, as the dashboard's does.
    Unchanged when the scope has no record yet."""
    if scope.period_start is not None:
        return scope
    first = first_record(prepared, scope_filters(scope))
    if first is None:
        return scope
    start = first.date() if scope.period_end is None else min(first.date(), scope.period_end)
    return replace(scope, period_start=start)


# --- links --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShareLink:
    id: int
    public_id: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    scope: Scope
    note: str = ""
    revoked_at: dt.datetime | None = None

    def status(self, now: dt.datetime | None = None) -> str:
        """"revoked", "expired" or "active"."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= utc(now) else "active"

    def to_dict(self, now: dt.datetime | None = None) -> dict:
        """JSON-ready, for the command line; the token is not part of it."""
        return {"id": self.public_id, "note": self.note, "created_by": self.created_by,
                "created_at": _iso(self.created_at), "expires_at": _iso(self.expires_at),
                "revoked_at": _iso(self.revoked_at),
                "status": self.status(now), "scope": self.scope.to_dict()}


def ensure_tables(store) -> Engine:
    """The engine of the store holding this module's tables (its migrations made them)."""
    return store.engine


def _link(row) -> ShareLink:
    return ShareLink(
        id=row.id, public_id=row.public_id, created_by=row.created_by,
        created_at=utc(row.created_at), expires_at=utc(row.expires_at),
        scope=Scope(tuple(row.organizations), tuple(row.programs), tuple(row.sites),
                    row.period_start, row.period_end, tuple(row.pages)),
        note=row.note or "", revoked_at=None if row.revoked_at is None else utc(row.revoked_at))


def _creator(store, created_by: Account | str) -> str:
    """The username of who creates a link, if they may: a director. Given a username, it must
    be an enabled director's account; with no account at all in the store (local director
    mode, or the command line on such an installation), the name is taken as the local director."""
    if isinstance(created_by, Account):
        account = created_by
    else:
        account = accounts.get_account(store, created_by)
        if account is None:
            if accounts.has_accounts(store):
                raise PermissionError(f"no enabled account named {str(created_by).strip()!r}: "
                                      "only a director can create share links")
            name = str(created_by or "").strip()
            if not name:
                raise ValueError("say who creates the link")
            account = Account(name, "director")
    if not account.can("share"):
        raise PermissionError(f"{account.username!r} is {account.role}: only a director can create share links")
    return account.username


def _expiry(expires_at: dt.datetime | dt.date, now: dt.datetime) -> dt.datetime:
    """A date means the link works through that whole day (UTC)."""
    if isinstance(expires_at, dt.datetime):
        moment = _moment(expires_at)
    elif isinstance(expires_at, dt.date):
        moment = dt.datetime.combine(expires_at + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    else:
        raise ValueError("a share link needs an expiry date")
    if moment <= now:
        raise ValueError(f"the expiry {moment:%Y-%m-%d %H:%M} UTC is already past")
    return moment


def create_link(store, secret: bytes | str, created_by: Account | str, scope: Scope,
                expires_at: dt.datetime | dt.date, note: str = "",
                now: dt.datetime | None = None) -> tuple[str, ShareLink]:
    """A new link (only a director may make one): its token and its record. Without a period
    start, the scope starts at its first record (`from_first_record`)."""
    now = _moment(now)
    if not isinstance(scope, Scope):
        raise TypeError("scope must be a Scope")
    username = _creator(store, created_by)
    expires = _expiry(expires_at, now)
    note = " ".join(str(note or "").split())
    if len(note) > MAX_NOTE_LENGTH:
        raise ValueError(f"a note has at most {MAX_NOTE_LENGTH} characters")
    _key(secret)
    if scope.period_start is None:        # the data are read only when the start comes from them
        scope = from_first_record(scope, prepare(store.tables()))
    public_id = new_public_id()
    engine = ensure_tables(store)
    with engine.begin() as conn:
        link_id = conn.execute(share_links_table.insert().values(
            public_id=public_id, created_by=username, created_at=now, expires_at=expires,
            organizations=list(scope.organizations), programs=list(scope.programs), sites=list(scope.sites),
            period_start=scope.period_start, period_end=scope.period_end, pages=list(scope.pages),
            note=note, revoked_at=None)).inserted_primary_key[0]
    return sign(secret, public_id), ShareLink(link_id, public_id, username, now, expires, scope, note)


def _find(conn, public_id: str):
    return conn.execute(select(share_links_table).where(_sl.public_id == public_id)).first()


def get_link(store, public_id: str) -> ShareLink | None:
    with ensure_tables(store).connect() as conn:
        row = _find(conn, str(public_id).strip())
    return None if row is None else _link(row)


def verify(store, secret: bytes | str, token: str, now: dt.datetime | None = None) -> ShareLink:
    """The link a token opens, read from the store on every call (so revoking is immediate),
    or InvalidShareLink saying why not: garbled, tampered, other_secret, unknown, revoked,
    expired."""
    public_id = _unsign(secret, token)
    link = get_link(store, public_id)
    if link is None:
        raise InvalidShareLink("unknown")
    if link.revoked_at is not None:
        raise InvalidShareLink("revoked", link.revoked_at)
    if link.expires_at <= utc(now):
        raise InvalidShareLink("expired", link.expires_at)
    return link


def revoke(store, public_id: str, now: dt.datetime | None = None) -> ShareLink:
    """Stop a link at once (revoking it again keeps the first time)."""
    public_id = str(public_id).strip()
    with ensure_tables(store).begin() as conn:
        conn.execute(update(share_links_table)
                     .where(_sl.public_id == public_id, _sl.revoked_at.is_(None)).values(revoked_at=_moment(now)))
        row = _find(conn, public_id)
    if row is None:
        raise LookupError(f"no share link {public_id!r}")
    return _link(row)


def list_links(store) -> list[ShareLink]:
    """Every link, newest first."""
    with ensure_tables(store).connect() as conn:
        rows = conn.execute(select(share_links_table).order_by(_sl.id.desc())).all()
    return [_link(row) for row in rows]


def log_open(store, link: ShareLink, pages: Iterable[str] | str, now: dt.datetime | None = None) -> None:
    """Record that a link was opened and which pages it showed: no address, no viewer detail."""
    with ensure_tables(store).begin() as conn:
        conn.execute(share_opens_table.insert().values(link_id=link.id, at=_moment(now),
                                                       pages=list(_values(pages))))


def open_counts(store) -> dict[str, dict]:
    """public id -> {"opens": N, "last_opened": datetime}, for links opened at least once."""
    with ensure_tables(store).connect() as conn:
        rows = conn.execute(select(_sl.public_id, func.count(_so.id), func.max(_so.at))
                            .join(share_opens_table, _so.link_id == _sl.id).group_by(_sl.public_id)).all()
    return {public_id: {"opens": n, "last_opened": utc(last)} for public_id, n, last in rows}


def link_url(base_url: str, token: str, page: str = page_registry.HOME) -> str:
    """The address a donor opens: BASE/PAGE?share=TOKEN; the home page (the overview) Streamlit
    serves at the root only (BASE/?share=TOKEN)."""
    path = "" if page == page_registry.HOME else page
    return f"{base_url.rstrip('/')}/{path}?{SHARE_PARAM}={token}"
