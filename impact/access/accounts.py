"""Staff sign-in: local accounts with a role, salted Argon2 password hashes, and a limit on
failed sign-ins kept in the store.

Two roles: a *director* may do everything (share links for donors, restoring an earlier
upload, managing accounts); *staff* may upload and view. When neither single sign-on (OIDC)
nor any local account is configured and the server only listens on this computer, the app
runs as one local director (`local_director_mode`), with a visible banner.

Failed sign-ins are kept per username (never an IP address): after `MAX_FAILURES` failures
within `FAILURE_WINDOW`, every attempt for that username, even with the right password, is
refused for `LOCKOUT` (`TooManyAttempts`). Refused attempts are not recorded, so a lock ends
on time; a successful sign-in clears the count. The attempts are rows of the store, and the
attempts for one username are checked one at a time, so several servers on one store share
the limit.

The tables live in this module's own MetaData; the store's migrations create them.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)

ROLES = ("director", "staff")
ACTIONS = ("view", "upload", "share", "restore", "manage_accounts")
PERMISSIONS = {
    "director": frozenset(ACTIONS),
    "staff": frozenset({"view", "upload"}),
}
MIN_PASSWORD_LENGTH = 10
MAX_USERNAME_LENGTH = 64
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCKOUT = dt.timedelta(minutes=15)
KEEP_ATTEMPTS = dt.timedelta(days=30)        # older attempts are deleted
LOOPBACK_NAMES = ("localhost",)
# First key of the per-username advisory lock of sign-ins on PostgreSQL (any int4, the same
# in every process; the second key is the username's hash).
_SIGN_IN_LOCK_KEY = 7_469_812

metadata = MetaData()

accounts_table = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),   # UTC
    Column("disabled", Boolean, nullable=False, default=False),
)

attempts_table = Table(
    "sign_in_attempts", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),           # UTC
    Column("success", Boolean, nullable=False),
    Index("ix_sign_in_attempts_username_at", "username", "at"),
)

_acc = accounts_table.c
_att = attempts_table.c
_hasher = PasswordHasher()   # argon2id, RFC 9106 low-memory profile; a random salt per hash
_dummy_hash: str | None = None


class TooManyAttempts(Exception):
    """Sign-in refused for a while after repeated failures; `wait` says how long."""

    def __init__(self, username: str, wait: dt.timedelta):
        self.username = username
        self.wait = wait
        minutes = max(1, -(-int(wait.total_seconds()) // 60))   # round up
        super().__init__(f"Too many failed sign-ins for {username!r}: try again in "
                         f"{minutes} minute{'s' if minutes != 1 else ''}.")


@dataclass(frozen=True)
class Account:
    """Who is signed in, and what their role lets them do."""
    username: str
    role: str

    def can(self, action: str) -> bool:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
        return action in PERMISSIONS.get(self.role, frozenset())


# --- tables ---------------------------------------------------------------------------

def ensure_tables(store) -> Engine:
    """The engine of the store holding this module's tables (its migrations made them)."""
    return store.engine


def utc(moment: dt.datetime | None = None) -> dt.datetime:
    """An aware UTC datetime: now, or `moment` (a naive one is taken as UTC)."""
    if moment is None:
        return dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


# --- accounts -----------------------------------------------------------------------------

def normalize_username(username: str) -> str:
    """Usernames compare without surrounding spaces and case: ' Sokha ' is 'sokha'."""
    name = str(username or "").strip().lower()
    if not name:
        raise ValueError("a username is needed")
    if len(name) > MAX_USERNAME_LENGTH:
        raise ValueError(f"a username has at most {MAX_USERNAME_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise ValueError(f"a username cannot contain spaces or control characters: {name!r}")
    return name


def _check_role(role: str) -> str:
    role = str(role or "").strip().lower()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def add_user(store, username: str, password: str, role: str) -> Account:
    """A new account; raises ValueError for a taken username, an unknown role or a short password."""
    name, role = normalize_username(username), _check_role(role)
    password_hash = _hasher.hash(_check_password(password))
    engine = ensure_tables(store)
    with engine.begin() as conn:
        if conn.execute(select(_acc.id).where(_acc.username == name)).first() is not None:
            raise ValueError(f"there is already an account named {name!r}")
        conn.execute(accounts_table.insert().values(
            username=name, role=role, password_hash=password_hash, created_at=utc(), disabled=False))
    return Account(name, role)


def _guard_last_director(conn, name: str) -> None:
    """Removing or disabling the last working director while others keep accounts would leave
    nobody able to manage accounts (and no local director mode to fall back on)."""
    row = conn.execute(select(_acc.role, _acc.disabled).where(_acc.username == name)).first()
    if row is None or row.role != "director" or row.disabled:
        return
    directors = conn.execute(select(func.count()).where(
        _acc.role == "director", _acc.disabled.is_(False), _acc.username != name)).scalar()
    others = conn.execute(select(func.count()).where(_acc.username != name)).scalar()
    if not directors and others:
        raise ValueError(f"{name!r} is the last director: add another director first")


def remove_user(store, username: str) -> None:
    """Delete an account (its sign-in attempts stay until they age out)."""
    name = normalize_username(username)
    with ensure_tables(store).begin() as conn:
        if conn.execute(select(_acc.id).where(_acc.username == name)).first() is None:
            raise LookupError(f"no account named {name!r}")
        _guard_last_director(conn, name)
        conn.execute(delete(accounts_table).where(_acc.username == name))


def set_disabled(store, username: str, disabled: bool = True) -> None:
    """Stop (or allow again) an account from signing in, keeping its name taken."""
    name = normalize_username(username)
    with ensure_tables(store).begin() as conn:
        if conn.execute(select(_acc.id).where(_acc.username == name)).first() is None:
            raise LookupError(f"no account named {name!r}")
        if disabled:
            _guard_last_director(conn, name)
        conn.execute(update(accounts_table).where(_acc.username == name).values(disabled=bool(disabled)))


def set_password(store, username: str, password: str) -> None:
    """Give an account a new password (a director resetting a forgotten one)."""
    name = normalize_username(username)
    password_hash = _hasher.hash(_check_password(password))
    with ensure_tables(store).begin() as conn:
        changed = conn.execute(update(accounts_table).where(_acc.username == name)
                               .values(password_hash=password_hash)).rowcount
    if not changed:
        raise LookupError(f"no account named {name!r}")


def list_users(store) -> list[dict]:
    """Every account, by username: username, role, created_at (UTC), disabled. Never a hash."""
    with ensure_tables(store).connect() as conn:
        rows = conn.execute(select(_acc.username, _acc.role, _acc.created_at, _acc.disabled)
                            .order_by(_acc.username)).all()
    return [{"username": r.username, "role": r.role, "created_at": utc(r.created_at),
             "disabled": bool(r.disabled)} for r in rows]


def get_account(store, username: str) -> Account | None:
    """The enabled account of that name, if any: a signed-in session re-checks it on every run,
    so removing or disabling an account takes effect at once."""
    try:
        name = normalize_username(username)
    except ValueError:
        return None
    with ensure_tables(store).connect() as conn:
        row = conn.execute(select(_acc.username, _acc.role)
                           .where(_acc.username == name, _acc.disabled.is_(False))).first()
    return None if row is None else Account(row.username, row.role)


def has_accounts(store) -> bool:
    """Whether any local account exists (a disabled one too: disabling every account must not
    fall back to local director mode)."""
    with ensure_tables(store).connect() as conn:
        return conn.execute(select(func.count()).select_from(accounts_table)).scalar() > 0


# --- sign-in ------------------------------------------------------------------------------

def _locked_until(conn, name: str, now: dt.datetime) -> dt.datetime | None:
    """When the current lock on a username ends, or None. A lock starts at the failure that
    makes MAX_FAILURES within FAILURE_WINDOW (since the last success) and lasts LOCKOUT."""
    horizon = now - FAILURE_WINDOW - LOCKOUT
    rows = conn.execute(select(_att.at, _att.success)
                        .where(_att.username == name, _att.at > horizon, _att.at <= now)
                        .order_by(_att.at, _att.id)).all()
    window: list[dt.datetime] = []
    until = None
    for row in rows:
        at = utc(row.at)
        if row.success:
            window, until = [], None
            continue
        if until is not None and at < until:
            continue                      # recorded by a concurrent attempt during the lock
        window = [t for t in window if t > at - FAILURE_WINDOW] + [at]
        if len(window) >= MAX_FAILURES:
            until, window = at + LOCKOUT, []
    return until if until is not None and until > now else None


def _one_attempt_at_a_time(conn, name: str) -> None:
    """Attempts for one username run one after the other, whichever server they reach, so
    guesses sent at once are counted as if they came one by one: on SQLite the transaction
    holds the store's write lock already (BEGIN IMMEDIATE); on PostgreSQL an advisory lock
    per username, until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_SIGN_IN_LOCK_KEY, func.hashtext(name))))


def authenticate(store, username: str, password: str, now: dt.datetime | None = None) -> Account | None:
    """The account if the password is right, else None; raises TooManyAttempts while the
    username is locked, whatever the password. Every checked attempt is recorded."""
    global _dummy_hash
    try:
        name = normalize_username(username)
    except ValueError:
        return None
    engine = ensure_tables(store)
    with engine.begin() as conn:
        _one_attempt_at_a_time(conn, name)
        now = utc(now)      # after the wait: the attempts before this one are all recorded
        until = _locked_until(conn, name, now)
        if until is not None:
            raise TooManyAttempts(name, until - now)
        row = conn.execute(select(_acc.id, _acc.role, _acc.password_hash, _acc.disabled)
                           .where(_acc.username == name)).first()
        if row is None:                 # the same work as a real check: no timing hint
            _dummy_hash = _dummy_hash or _hasher.hash("not a password of anyone")
            stored_hash = _dummy_hash
        else:
            stored_hash = row.password_hash
        try:
            ok = _hasher.verify(stored_hash, password if isinstance(password, str) else "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        ok = ok and row is not None and not row.disabled
        conn.execute(attempts_table.insert().values(username=name, at=now, success=ok))
        conn.execute(delete(attempts_table).where(_att.at < now - KEEP_ATTEMPTS))
        if not ok:
            return None
        if _hasher.check_needs_rehash(stored_hash):
            conn.execute(update(accounts_table).where(_acc.id == row.id)
                         .values(password_hash=_hasher.hash(password)))
        return Account(name, row.role)


# --- who may run without signing in -------------------------------------------------------

def is_loopback(server_address: str | None) -> bool:
    """Whether a server bound to this address is reachable from this computer only."""
    address = str(server_address or "").strip().lower().strip("[]")
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def local_director_mode(server_address: str, has_oidc: bool, has_accounts: bool) -> bool:
    """True only when no sign-in is configured (neither OIDC nor a local account) and the server
    listens on localhost/127.0.0.1/::1 alone: then the app runs as one local director, with a
    visible banner. An empty address (Streamlit's "every interface") is not local."""
    return not has_oidc and not has_accounts and is_loopback(server_address)


LOCAL_DIRECTOR = Account("local director", "director")
