"""Staff sign-in and donor share links, on a real SQLite store, and through the command line."""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher

from impact.access import accounts

from impact.access import sharing
from impact.access.accounts import Account, TooManyAttempts, authenticate
from impact.access.sharing import InvalidShareLink, Scope, release_period, release_periods, scope_filters, verify
from impact.store import open_store
from tests.helpers import REPO

PASSWORD = "correct horse battery"
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Argon2 with small costs in this process (the command line included: `impact_cli`), so
    the many sign-ins stay quick; a real process and the app use the library's defaults
    (test_production_hash_costs)."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(accounts, "_dummy_hash", None)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "impact.db"


@pytest.fixture
def store(db):
    store = open_store(db)
    yield store
    store.close()


@pytest.fixture
def secret() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def director(store) -> Account:
    return accounts.add_user(store, "Director", PASSWORD, "director")


# --- accounts -----------------------------------------------------------------------------

def _hash_of(store, username: str) -> str:
    with store.engine.connect() as conn:
        return conn.execute(accounts.accounts_table.select()
                            .where(accounts.accounts_table.c.username == username)).one().password_hash


def test_hashes_are_salted_argon2_and_never_listed(store):
    accounts.add_user(store, "sokha", PASSWORD, "director")
    accounts.add_user(store, "dara", PASSWORD, "staff")
    first, second = _hash_of(store, "sokha"), _hash_of(store, "dara")
    assert first != second and first.startswith("$argon2id$") and PASSWORD not in first
    users = accounts.list_users(store)
    assert [u["username"] for u in users] == ["dara", "sokha"]
    assert all(set(u) == {"username", "role", "created_at", "disabled"} for u in users)
    assert first not in repr(users) and second not in repr(users)


def test_production_hash_costs(monkeypatch):
    monkeypatch.undo()
    hasher = accounts._hasher
    assert hasher.type.name == "ID"
    assert hasher.time_cost >= 3 and hasher.memory_cost >= 65536 and hasher.parallelism >= 4   # RFC 9106


def test_usernames_normalized_roles_and_passwords_checked(store):
    assert accounts.add_user(store, "  Sokha ", PASSWORD, "director") == Account("sokha", "director")
    with pytest.raises(ValueError, match="already"):
        accounts.add_user(store, "SOKHA", PASSWORD, "staff")
    with pytest.raises(ValueError, match="10 characters"):
        accounts.add_user(store, "dara", "short", "staff")
    with pytest.raises(ValueError, match="role"):
        accounts.add_user(store, "dara", PASSWORD, "admin")
    assert authenticate(store, " SOKHA", PASSWORD, now=T0) == Account("sokha", "director")


def test_wrong_password_and_unknown_user_refused(store, director):
    assert authenticate(store, "director", PASSWORD + "x", now=T0) is None
    assert authenticate(store, "nobody", PASSWORD, now=T0) is None
    assert authenticate(store, "director", PASSWORD, now=T0) == director


def test_roles():
    director, staff = Account("a", "director"), Account("b", "staff")
    assert all(director.can(a) for a in accounts.ACTIONS)
    assert staff.can("view") and staff.can("upload")
    assert not any(staff.can(a) for a in ("share", "restore", "manage_accounts"))
    with pytest.raises(ValueError):
        staff.can("download_participant_rows")


def test_rate_limit_locks_even_the_right_password_then_lets_go(store, director):
    for i in range(5):
        assert authenticate(store, "director", "wrong password", now=T0 + dt.timedelta(minutes=i)) is None
    with pytest.raises(TooManyAttempts, match=r"try again in 15 minutes") as locked:
        authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=4))
    assert locked.value.wait == dt.timedelta(minutes=15)
    with pytest.raises(TooManyAttempts, match=r"try again in 2 minutes"):
        authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=17, seconds=30))
    # the lock is per username
    accounts.add_user(store, "dara", PASSWORD, "staff")
    assert authenticate(store, "dara", PASSWORD, now=T0 + dt.timedelta(minutes=5)) is not None
    # after the window the right password works again
    assert authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=19, seconds=1)) == director


def test_failures_spread_over_more_than_the_window_do_not_lock(store, director):
    for i in range(8):
        assert authenticate(store, "director", "wrong password", now=T0 + dt.timedelta(minutes=4 * i)) is None
    assert authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=33)) == director


def test_a_success_clears_the_count(store, director):
    for i in range(4):
        authenticate(store, "director", "wrong password", now=T0 + dt.timedelta(seconds=i))
    assert authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(seconds=5)) == director
    for i in range(4):
        authenticate(store, "director", "wrong password", now=T0 + dt.timedelta(seconds=10 + i))
    assert authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(seconds=20)) == director


def test_unknown_usernames_are_rate_limited_too(store):
    for _ in range(5):
        assert authenticate(store, "guess", "whatever", now=T0) is None
    with pytest.raises(TooManyAttempts):
        authenticate(store, "guess", "whatever", now=T0 + dt.timedelta(minutes=1))


def test_attempts_survive_reopening_the_store(db):
    store = open_store(db)
    accounts.add_user(store, "director", PASSWORD, "director")
    for _ in range(5):
        authenticate(store, "director", "wrong password", now=T0)
    store.close()
    store = open_store(db)
    with pytest.raises(TooManyAttempts):
        authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=1))
    with pytest.raises(TooManyAttempts):     # still refused after 14 minutes, free after 15
        authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=14))
    assert authenticate(store, "director", PASSWORD, now=T0 + dt.timedelta(minutes=16)) is not None
    with store.engine.connect() as conn:
        columns = set(conn.execute(accounts.attempts_table.select()).keys())
    assert columns == {"id", "username", "at", "success"}          # no address kept
    store.close()


def test_disabled_and_removed_accounts_cannot_sign_in(store, director):
    accounts.add_user(store, "dara", PASSWORD, "staff")
    accounts.set_disabled(store, "dara")
    assert authenticate(store, "dara", PASSWORD, now=T0) is None
    assert accounts.get_account(store, "dara") is None
    accounts.set_disabled(store, "dara", False)
    assert authenticate(store, "dara", PASSWORD, now=T0) == Account("dara", "staff")
    with pytest.raises(ValueError, match="last director"):
        accounts.remove_user(store, "director")
    accounts.remove_user(store, "dara")
    assert authenticate(store, "dara", PASSWORD, now=T0) is None
    with pytest.raises(LookupError):
        accounts.remove_user(store, "dara")


def test_local_director_mode_only_on_localhost_without_sign_in():
    for address in ("localhost", "127.0.0.1", "::1", "[::1]"):
        assert accounts.local_director_mode(address, has_oidc=False, has_accounts=False)
    for address in ("", "0.0.0.0", "::", "192.168.1.20", "example.org"):
        assert not accounts.local_director_mode(address, has_oidc=False, has_accounts=False)
    assert not accounts.local_director_mode("localhost", has_oidc=True, has_accounts=False)
    assert not accounts.local_director_mode("localhost", has_oidc=False, has_accounts=True)


# --- share links --------------------------------------------------------------------------

SCOPE = Scope(("KWCD",), sites=("Phnom Penh",), period_start=dt.date(2024, 1, 1),
              period_end=dt.date(2024, 12, 31), pages=("overview", "savings"))


@pytest.fixture
def link(store, secret, director):
    return sharing.create_link(store, secret, director, SCOPE, T0 + dt.timedelta(days=30), "Donor X", now=T0)


def _reason(store, secret, token, now=T0) -> InvalidShareLink:
    with pytest.raises(InvalidShareLink) as caught:
        verify(store, secret, token, now=now)
    return caught.value


def _flip(token: str, i: int) -> str:
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_valid_token_opens_its_link(store, secret, link):
    token, record = link
    opened = verify(store, secret, token, now=T0 + dt.timedelta(days=1))
    assert opened == record and opened.scope == SCOPE and opened.note == "Donor X"
    assert opened.created_by == "director" and opened.status(T0) == "active"
    assert record.public_id in token and len(record.public_id) >= 22


def test_every_bad_token_gets_its_own_clear_reason(store, secret, link):
    token, record = link
    messages = {}
    cases = {
        # In the id, in the signature. Not its last character: in base64 that one carries bits
        # past the signature's end, so changing it may decode to the same signature.
        "tampered": [_flip(token, 5), _flip(token, len(token) - 3)],
        "other_secret": [sharing.sign(secrets.token_bytes(32), record.public_id)],
        "unknown": [sharing.sign(secret, secrets.token_urlsafe(16))],
        "garbled": ["garbage", "", token[:-3], token + "!", None, 42, "a.b.c", " " * 5],
    }
    for reason, tokens in cases.items():
        for bad in tokens:
            error = _reason(store, secret, bad)
            assert error.reason == reason, (bad, error)
            messages[reason] = str(error)
    messages["expired"] = str(_reason(store, secret, token, now=T0 + dt.timedelta(days=30)))
    assert "expired on 31/03/2025" in messages["expired"]
    sharing.revoke(store, record.public_id, now=T0 + dt.timedelta(days=2))
    error = _reason(store, secret, token)
    assert error.reason == "revoked" and "revoked on 03/03/2025" in str(error)
    messages["revoked"] = str(error)
    assert len(set(messages.values())) == 6 and all(m.endswith(".") for m in messages.values())
    assert "altered" in messages["tampered"] and "another key" in messages["other_secret"]
    assert "does not exist" in messages["unknown"] and "incomplete or garbled" in messages["garbled"]


def test_revocation_is_immediate_and_kept(store, secret, link):
    token, record = link
    verify(store, secret, token, now=T0)
    first = sharing.revoke(store, record.public_id, now=T0 + dt.timedelta(hours=1))
    assert _reason(store, secret, token).reason == "revoked"
    again = sharing.revoke(store, record.public_id, now=T0 + dt.timedelta(hours=2))
    assert again.revoked_at == first.revoked_at == T0 + dt.timedelta(hours=1)
    with pytest.raises(LookupError):
        sharing.revoke(store, "no-such-link")


def test_staff_cannot_create_links(store, secret, director):
    staff = accounts.add_user(store, "dara", PASSWORD, "staff")
    for who in (staff, "dara", "nobody"):
        with pytest.raises(PermissionError):
            sharing.create_link(store, secret, who, SCOPE, T0 + dt.timedelta(days=1), "x", now=T0)
    token, _ = sharing.create_link(store, secret, "Director", SCOPE, T0 + dt.timedelta(days=1), "x", now=T0)
    assert verify(store, secret, token, now=T0).created_by == "director"
    assert sharing.list_links(store)[0].created_by == "director" and len(sharing.list_links(store)) == 1


def test_without_any_account_the_named_creator_is_the_local_director(store, secret):
    token, link = sharing.create_link(store, secret, "Sokha", SCOPE, T0 + dt.timedelta(days=1), "x", now=T0)
    assert link.created_by == "Sokha" and verify(store, secret, token, now=T0) == link
    token, link = sharing.create_link(store, secret, accounts.LOCAL_DIRECTOR, SCOPE, T0 + dt.timedelta(days=1),
                                      "y", now=T0)
    assert link.created_by == "local director"


def test_unusable_secret_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("IMPACT_SECRET", raising=False)
    (tmp_path / "dir.key").mkdir()
    with pytest.raises(ValueError, match="secret key file"):
        sharing.server_secret(path=tmp_path / "dir.key")
    (tmp_path / "short.key").write_bytes(b"abc")
    with pytest.raises(ValueError, match="too short"):
        sharing.server_secret(path=tmp_path / "short.key")


def test_scope_is_validated():
    with pytest.raises(ValueError, match="organization"):
        Scope(())
    for page in ("data", "accounts", "share"):
        with pytest.raises(ValueError, match="cannot share"):
            Scope(("KWCD",), pages=("overview", page))
    with pytest.raises(ValueError, match="after"):
        Scope(("KWCD",), period_start=dt.date(2025, 1, 1), period_end=dt.date(2024, 1, 1))
    assert Scope(("KWCD",), pages=()).pages == sharing.DONOR_PAGES
    assert "data" not in sharing.DONOR_PAGES
    assert Scope("KWCD").organizations == ("KWCD",)


def test_requested_filters_are_clamped_to_the_scope_never_widened():
    assert scope_filters(SCOPE, {}) == {"organization": ("KWCD",), "site": ("Phnom Penh",)}
    widened = scope_filters(SCOPE, {"organization": ("KWCD", "Other NGO"), "site": ("Phnom Penh", "Siem Reap"),
                                    "program": ("Sewing",), "age_band": ("18-24",), "nonsense": ("x",)})
    assert widened == {"organization": ("KWCD",), "site": ("Phnom Penh",), "program": ("Sewing",),
                       "age_band": ("18-24",)}
    # entirely outside the scope: nothing (an empty tuple matches no row), not everything
    outside = scope_filters(SCOPE, {"organization": ("Other NGO",), "site": ("Siem Reap",)})
    assert outside == {"organization": (), "site": ()}
    # a scope with every site of the organization lets a donor narrow to any one of them
    assert scope_filters(Scope(("KWCD",)), {"site": ("Siem Reap",)}) == {"organization": ("KWCD",),
                                                                          "site": ("Siem Reap",)}


def test_a_donor_gets_one_value_per_filter_or_all_never_a_combination():
    """Two age bands, then one of them, would give the other by difference: several values of
    a dimension are read as all of them (the scope's, where it names some)."""
    assert scope_filters(Scope(("KWCD",)), {"age_band": ("18-24", "25-34"), "site": ("Siem Reap", "Kampot")}) == \
        {"organization": ("KWCD",)}
    three = Scope(("KWCD",), sites=("A", "B", "C"))
    assert scope_filters(three, {"site": ("A", "B")}) == {"organization": ("KWCD",), "site": ("A", "B", "C")}
    assert scope_filters(three, {"site": ("B",)}) == {"organization": ("KWCD",), "site": ("B",)}
    assert scope_filters(three, {"site": ("B", "Z")}) == {"organization": ("KWCD",), "site": ("B",)}


def test_a_clamped_selection_counts_only_the_scope_in_the_metrics():
    from impact.metrics.engine import Selection, compute
    from impact.metrics.prepared import prepare
    from tests.frames import clean_tables, person
    tables = clean_tables(participants=[
        person("P-1", "2024-02-01", site="Phnom Penh"),
        person("P-2", "2024-03-01", site="Siem Reap"),
        person("P-3", "2023-03-01", site="Phnom Penh"),                 # before the shared period
        person("P-4", "2024-03-01", site="Phnom Penh", organization="Other NGO"),
    ])
    prepared = prepare(tables)

    def registered(requested: dict, start=None, end=None) -> float:
        period = release_period(SCOPE, start, end, dt.date(2025, 6, 1))
        result = compute(prepared, Selection(*period, scope_filters(SCOPE, requested)),
                         keys=("participants_registered",))
        return result["value"].iloc[0]

    assert registered({}) == 1
    assert registered({}, dt.date(2020, 1, 1)) == 1                         # earlier start: the whole period
    assert registered({"organization": ("Other NGO", "KWCD")}) == 1
    assert registered({"site": ("Siem Reap",)}) == 0                          # outside: nothing
    assert registered({"organization": ("Other NGO",)}) == 0
    assert registered({}, dt.date(2024, 4, 1), dt.date(2024, 6, 30)) == 0    # a quarter without her


def test_a_donor_chooses_whole_quarters_and_years_of_her_links_period():
    today = dt.date(2025, 6, 1)
    periods = release_periods(SCOPE, today)
    quarters = [(dt.date(2024, m, 1), dt.date(2024 + (m == 10), (m + 2) % 12 + 1, 1) - dt.timedelta(days=1))
                for m in (1, 4, 7, 10)]
    assert periods == [(dt.date(2024, 1, 1), dt.date(2024, 12, 31)), *quarters]   # the year is the whole period
    assert release_period(SCOPE, dt.date(2024, 4, 1), dt.date(2024, 6, 30), today) == quarters[1]
    # day-level, widened or foreign periods: the link's whole period, never more
    for start, end in [(dt.date(2024, 4, 1), dt.date(2024, 6, 29)), (dt.date(2024, 9, 1), dt.date(2024, 9, 30)),
                       (dt.date(2020, 1, 1), dt.date(2030, 1, 1)), (dt.date(2025, 1, 1), None), (None, None)]:
        assert release_period(SCOPE, start, end, today) == periods[0]
    # a period that is not whole quarters is clipped to the link's (2023 is its Q4, listed once);
    # an open end is this quarter's end
    odd = Scope(("KWCD",), period_start=dt.date(2023, 11, 15))
    assert release_periods(odd, today) == [
        (dt.date(2023, 11, 15), dt.date(2025, 6, 30)), (dt.date(2023, 11, 15), dt.date(2023, 12, 31)),
        (dt.date(2024, 1, 1), dt.date(2024, 12, 31)), (dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
        *quarters, (dt.date(2025, 1, 1), dt.date(2025, 3, 31)), (dt.date(2025, 4, 1), dt.date(2025, 6, 30))]
    assert release_periods(Scope(("KWCD",)), today) == [(None, dt.date(2025, 6, 30))]


def test_secret_file_is_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("IMPACT_SECRET", raising=False)
    path = tmp_path / "keys" / "secret.key"
    monkeypatch.setenv("IMPACT_SECRET_FILE", str(path))
    first = sharing.server_secret()
    assert len(first) == 32 and path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sharing.server_secret() == first
    assert sharing.server_secret({"IMPACT_SECRET": "s" * 40}) == b"s" * 40      # Streamlit secrets
    monkeypatch.setenv("IMPACT_SECRET", "e" * 40)
    assert sharing.server_secret({"IMPACT_SECRET": "s" * 40}) == b"e" * 40      # environment first
    monkeypatch.setenv("IMPACT_SECRET", "short")
    with pytest.raises(ValueError, match="too short"):
        sharing.server_secret()


def test_default_secret_file_is_ignored_by_git():
    relative = sharing.DEFAULT_SECRET_FILE.relative_to(REPO)
    out = subprocess.run(["git", "check-ignore", "-q", str(relative)], cwd=REPO)
    assert out.returncode == 0


def test_links_and_opens_survive_reopening_the_store(db, secret):
    store = open_store(db)
    accounts.add_user(store, "director", PASSWORD, "director")
    token, record = sharing.create_link(store, secret, "director", SCOPE, dt.date(2025, 12, 31), "Donor X", now=T0)
    sharing.log_open(store, record, ["overview", "savings"], now=T0)
    store.close()
    store = open_store(db)
    assert verify(store, secret, token, now=T0) == record
    assert record.expires_at == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)    # through the whole day
    assert sharing.open_counts(store) == {record.public_id: {"opens": 1, "last_opened": T0}}
    with store.engine.connect() as conn:
        assert set(conn.execute(sharing.share_opens_table.select()).keys()) == {"id", "link_id", "at", "pages"}
    store.close()


def test_expiry_must_be_in_the_future(store, secret, director):
    with pytest.raises(ValueError, match="past"):
        sharing.create_link(store, secret, director, SCOPE, T0 - dt.timedelta(seconds=1), "x", now=T0)


# --- command line -------------------------------------------------------------------------

def run(*args, stdin: str, env: dict) -> subprocess.CompletedProcess:
    """`python -m impact ARGS` as a real process."""
    return subprocess.run([sys.executable, "-m", "impact", *map(str, args)], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def _one_error_line(stderr: str) -> bool:
    """One line saying what is wrong (warnings other modules print on import aside), no traceback."""
    lines = [line for line in stderr.splitlines() if "Warning" not in line and line.startswith("error:")]
    return len(lines) == 1 and "Traceback" not in stderr


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> dict:
    """The command line's environment: no store or secret from the outside, the server
    secret generated into this test's folder."""
    for name in ("IMPACT_SECRET", "DATABASE_URL", "IMPACT_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMPACT_SECRET_FILE", str(tmp_path / "secret.key"))
    return dict(os.environ)


@pytest.mark.slow
def test_users_and_share_commands_run_as_a_process(db, cli_env):
    """The entry point itself (`python -m impact`: stdin, exit codes, streams) for an account
    and a share link; the other command-line tests call `cli.main` in this process."""
    added = run("users", "add", "sokha", "--role", "director", "--password-stdin", "--store", db,
                stdin=PASSWORD + "\n", env=cli_env)
    assert added.returncode == 0, added.stderr
    created = run("share", "create", "--organization", "KWCD", "--expires", "30d", "--note", "Donor X",
                  "--by", "sokha", "--base-url", "http://host:8501/", "--store", db, stdin="", env=cli_env)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("http://host:8501/?share=")


def test_cli_users_round_trip(db, cli_env, impact_cli):
    added = impact_cli("users", "add", " Sokha ", "--role", "director", "--password-stdin", "--store", db,
                stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    short = impact_cli("users", "add", "dara", "--role", "staff", "--password-stdin", "--store", db,
                stdin="short\n")
    assert short.returncode == 2 and _one_error_line(short.stderr) and "10 characters" in short.stderr
    assert impact_cli("users", "add", "dara", "--role", "staff", "--password-stdin", "--store", db,
               stdin=PASSWORD + "\n").returncode == 0
    listed = impact_cli("users", "list", "--json", "--store", db)
    users = json.loads(listed.stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in users] == [("dara", "staff", False),
                                                                        ("sokha", "director", False)]
    table = impact_cli("users", "list", "--store", db).stdout
    assert "sokha" in table and "director" in table
    assert "argon2" not in listed.stdout + table and "hash" not in listed.stdout + table
    store = open_store(db)
    assert authenticate(store, "sokha", PASSWORD) == Account("sokha", "director")
    store.close()
    assert impact_cli("users", "remove", "dara", "--store", db).returncode == 0
    missing = impact_cli("users", "remove", "dara", "--store", db)
    assert missing.returncode == 2 and "no account named 'dara'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_cli_share_create_verify_revoke(db, tmp_path, cli_env, impact_cli):
    impact_cli("users", "add", "sokha", "--role", "director", "--password-stdin", "--store", db,
        stdin=PASSWORD + "\n")
    impact_cli("users", "add", "dara", "--role", "staff", "--password-stdin", "--store", db,
        stdin=PASSWORD + "\n")
    created = impact_cli("share", "create", "--organization", "KWCD", "--site", "Phnom Penh", "--from", "2024-01-01",
                  "--to", "2024-12-31", "--page", "overview", "--page", "savings", "--expires", "30d",
                  "--note", "Donor X", "--by", "sokha", "--base-url", "http://host:8501/", "--store", db)
    assert created.returncode == 0, created.stderr
    url = created.stdout.strip()
    assert url.startswith("http://host:8501/?share=")
    token = parse_qs(urlsplit(url).query)["share"][0]
    secret = (tmp_path / "secret.key").read_bytes()
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    store = open_store(db)
    link = verify(store, secret, token)
    assert link.scope == SCOPE and link.note == "Donor X" and link.created_by == "sokha"

    as_json = impact_cli("share", "create", "--organization", "KWCD", "--expires", "2099-12-31", "--note", "Donor Y",
                  "--by", "sokha", "--json", "--store", db)
    record = json.loads(as_json.stdout)
    assert set(record) >= {"id", "url", "expires", "scope"} and record["expires"].startswith("2100-01-01")
    assert record["scope"]["pages"] == list(sharing.DONOR_PAGES) and record["scope"]["organizations"] == ["KWCD"]

    staff = impact_cli("share", "create", "--organization", "KWCD", "--expires", "30d", "--note", "x", "--by", "dara",
                "--store", db)
    assert staff.returncode == 2 and "only a director" in staff.stderr and _one_error_line(staff.stderr)
    for bad in (["--expires", "soon"], ["--expires", "2020-01-01"], ["--page", "data"]):
        args = ["share", "create", "--organization", "KWCD", "--expires", "30d", "--note", "x", "--by", "sokha",
                *bad, "--store", db]
        out = impact_cli(*args)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr

    listed = json.loads(impact_cli("share", "list", "--json", "--store", db).stdout)
    assert [entry["note"] for entry in listed] == ["Donor Y", "Donor X"]
    assert all(entry["status"] == "active" and token not in json.dumps(entry) for entry in listed)
    assert "Donor X" in impact_cli("share", "list", "--store", db).stdout

    assert impact_cli("share", "verify", url, "--store", db).returncode == 0
    revoked = impact_cli("share", "revoke", link.public_id, "--store", db)
    assert revoked.returncode == 0, revoked.stderr
    assert _reason(store, secret, token, now=None).reason == "revoked"
    after = impact_cli("share", "verify", url, "--store", db)
    assert after.returncode == 2 and "revoked" in after.stderr
    unknown = impact_cli("share", "revoke", "nope", "--store", db)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: no share link 'nope'"
    store.close()


@pytest.mark.slow
def test_failed_sign_ins_at_once_through_two_servers_lock_after_the_limit(url, monkeypatch):
    """Guesses sent at the same moment to two servers on one store: only MAX_FAILURES are
    checked against the password, the rest refused, as if they had come one by one (with the
    library's real hash cost, so the checks overlap when nothing orders them)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher())
    servers = [open_store(url), open_store(url)]
    accounts.add_user(servers[0], "sokha", PASSWORD, "staff")
    guesses = 4 * accounts.MAX_FAILURES
    together = Barrier(guesses)

    def guess(i: int) -> str:
        together.wait()
        try:
            return "checked" if authenticate(servers[i % 2], "sokha", f"guess number {i}") is None else "in"
        except TooManyAttempts:
            return "refused"
    with ThreadPoolExecutor(guesses) as pool:
        outcomes = list(pool.map(guess, range(guesses)))
    assert outcomes.count("checked") == accounts.MAX_FAILURES, outcomes
    assert outcomes.count("refused") == guesses - accounts.MAX_FAILURES
    with pytest.raises(TooManyAttempts):
        authenticate(servers[1], "sokha", PASSWORD)
    for store in servers:
        store.close()
