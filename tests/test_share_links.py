"""Share links made from the command line (`impact.cli.main`) and from the Share page (AppTest
and `sharing.create_link`, which the page calls), on a real SQLite store loaded from real
workbooks: ids that start with '-', the period of a link without a start, and one format for
a link's moments whoever wrote them."""
from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from impact import cli

from impact.access import sharing
from impact.metrics.prepared import prepare
from impact.access.sharing import Scope
from impact.store import open_store
from impact.present.texts import text
from tests.helpers import open_page
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

SECRET = "s" * 40
# The first record of each scope in the workbooks below.
KWCD_FIRST = dt.date(2022, 7, 10)
KWCD_PHNOM_PENH_FIRST = dt.date(2023, 3, 15)
CPN_FIRST = dt.date(2021, 1, 1)
ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    """A store loaded with two organizations' registers, through the command line; the CLI and
    the app sign with the same secret."""
    monkeypatch.setenv(sharing.SECRET_ENV, SECRET)
    monkeypatch.setenv("IMPACT_STORE", str(tmp_path / "store.db"))
    kwcd = write_xlsx(tmp_path / "KWCD_register.xlsx", {"Register": [
        PARTICIPANT_HEADER, participant("P-1", "15/03/2023", site="Phnom Penh"),
        participant("P-2", "10/07/2022", site="Siem Reap"), participant("P-3", "02/02/2025", site="Phnom Penh")]})
    cpn = write_xlsx(tmp_path / "CPN_register.xlsx", {"Register": [
        PARTICIPANT_HEADER, participant("C-1", "01/01/2021", site="Phnom Penh")]})
    for path, organization in ((kwcd, "KWCD"), (cpn, "CPN")):
        assert cli.main(["load", str(path), "--organization", organization, "--store", str(tmp_path / "store.db")]) == 0
    return tmp_path / "store.db"


def share(impact_cli, *args: str) -> tuple[int, str, str]:
    """`python -m impact share ...` in this process: exit code, stdout, stderr."""
    out = impact_cli("share", *args)
    return out.returncode, out.stdout, out.stderr


def create(impact_cli, db: Path, *args: str) -> dict:
    code, out, err = share(impact_cli, "create", "--organization", "KWCD", *args, "--expires", "30d",
                           "--note", "Donor X", "--by", "sokha", "--json", "--store", str(db))
    assert code == 0, err
    return json.loads(out)


def share_page() -> AppTest:
    return open_page("share")


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.label == text(key))


# --- ids that start with '-' ------------------------------------------------------------

def test_new_ids_never_start_with_a_dash():
    ids = [sharing.new_public_id() for _ in range(5000)]     # one in 64 did: ~78 of them
    assert not [i for i in ids if i.startswith("-")]
    assert all(sharing.ID_OR_TOKEN.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)
    assert {i[0] for i in ids} >= set("AZaz09_")


def test_ids_and_tokens_that_start_with_a_dash_are_revoked_and_verified(db, impact_cli):
    """Links made before ids avoided '-' are still in stores: their ids and tokens are taken as
    such, whatever the place of the id among the options, and `--` works too."""
    store = open_store(db)
    dashed = ["-hAbcdefghijklmnopqrst", "--Bcdefghijklmnopqrstu", "-Xyz_-0123456789abcdef"]
    for public_id in dashed:
        _, link = sharing.create_link(store, SECRET, "sokha", Scope(("KWCD",)), dt.date(2099, 1, 1), "old")
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE share_links SET public_id = ? WHERE id = ?", (public_id, link.id))
    tokens = [sharing.sign(SECRET, public_id) for public_id in dashed]
    assert all(token.startswith("-") for token in tokens)

    code, out, err = share(impact_cli, "verify", tokens[0], "--store", str(db))
    assert code == 0 and out.startswith(f"valid: {dashed[0]} (old)"), err
    code, out, _ = share(impact_cli, "verify", "--json", "--store", str(db), tokens[1])
    assert code == 0 and json.loads(out)["id"] == dashed[1]

    assert share(impact_cli, "revoke", dashed[0], "--store", str(db))[0] == 0
    assert share(impact_cli, "revoke", "--store", str(db), dashed[1])[0] == 0
    assert share(impact_cli, "revoke", "--store", str(db), "--", dashed[2])[0] == 0
    assert [sharing.get_link(store, public_id).status() for public_id in dashed] == ["revoked"] * 3

    code, _, err = share(impact_cli, "verify", tokens[0], "--store", str(db))
    assert code == 2 and err.startswith("error: This share link was revoked on")
    code, _, err = share(impact_cli, "revoke", "-Nope0123456789abcdefg", "--store", str(db))
    assert code == 2 and err.strip() == "error: no share link '-Nope0123456789abcdefg'"
    store.close()


# --- the period of a link made without a start ------------------------------------------

def test_a_scope_without_a_start_begins_at_its_own_first_record(db):
    prepared = prepare(open_store(db).tables())
    first = lambda scope: sharing.from_first_record(scope, prepared).period_start   # noqa: E731
    assert first(Scope(("KWCD",))) == KWCD_FIRST                       # not CPN's earlier record
    assert first(Scope(("KWCD",), sites=("Phnom Penh",))) == KWCD_PHNOM_PENH_FIRST
    assert first(Scope(("KWCD", "CPN"))) == CPN_FIRST
    assert first(Scope(("KWCD",), period_start=dt.date(2024, 5, 1))) == dt.date(2024, 5, 1)   # a start chosen
    assert first(Scope(("KWCD",), period_end=dt.date(2020, 6, 30))) == dt.date(2020, 6, 30)   # ends before it
    assert first(Scope(("NOBODY",))) is None                              # no record yet: from the first


def test_a_link_without_from_opens_at_the_first_record_from_the_cli_and_the_page_alike(db, impact_cli):
    made_by_cli = create(impact_cli, db, "--site", "Phnom Penh")
    assert made_by_cli["scope"]["period_start"] == KWCD_PHNOM_PENH_FIRST.isoformat()
    assert made_by_cli["scope"]["period_end"] is None
    assert create(impact_cli, db)["scope"]["period_start"] == KWCD_FIRST.isoformat()
    assert create(impact_cli, db, "--from", "2024-01-01")["scope"]["period_start"] == "2024-01-01"

    at = share_page()
    assert button(at, "share_create").disabled                       # no organization yet
    at.multiselect(key="share_org").set_value(["KWCD"])
    at.multiselect(key="share_site").set_value(["Phnom Penh"]).run()
    shown = [info.value for info in at.info]
    assert text("share_period").format(start="15/03/2023 (first record)", end="the end of the quarter it is viewed in") in shown
    at.text_input(key="share_note").input("Donor Y").run()
    button(at, "share_create").click().run()
    assert not at.exception, at.exception[0].message
    assert text("share_created") in [s.value for s in at.success]
    made_by_page = sharing.list_links(open_store(db))[0]
    assert made_by_page.note == "Donor Y"
    assert made_by_page.scope.period_start == KWCD_PHNOM_PENH_FIRST and made_by_page.scope.period_end is None
    token = at.code[0].value.split("?share=")[1]
    assert sharing.verify(open_store(db), SECRET, token) == made_by_page

    at.date_input(key="share_start").set_value(dt.date(2024, 1, 1)).run()
    assert text("share_period").format(start="01/01/2024", end="the end of the quarter it is viewed in") in [i.value for i in at.info]


# --- one format for a link's moments ------------------------------------------------------

def test_links_made_from_the_cli_and_the_page_list_together(db, impact_cli):
    """The crash of the Share page: a link made on the command line expiring "30d" from now (to
    the microsecond) beside one made with the page's form expiring at a day's end, listed on the
    page and the command line, and listed again once a link is revoked there."""
    create(impact_cli, db)
    at = share_page()       # the page's own form, as a director fills it in
    at.multiselect(key="share_org").set_value(["CPN"]).run()
    next(d for d in at.date_input if d.label == text("share_expires")).set_value(dt.date(2030, 12, 31))
    at.text_input(key="share_note").set_value("Donor P")
    button(at, "share_create").click().run()
    assert not at.exception, at.exception[0].message
    assert text("share_created") in [s.value for s in at.success]
    store = open_store(db)
    page_link = next(link for link in sharing.list_links(store) if link.note == "Donor P")
    # A link written before moments were kept to the second, its moments in two older texts.
    _, old = sharing.create_link(store, SECRET, "sokha", Scope(("KWCD",)), dt.date(2099, 6, 30), "Donor O")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE share_links SET created_at = '2026-11-28 02:43:04.142433', "
                     "expires_at = '2026-12-28T02:43:04.142433+00:00' WHERE id = ?", (old.id,))
        stored = conn.execute("SELECT created_at, expires_at FROM share_links WHERE id != ?", (old.id,)).fetchall()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.000000", value) for row in stored for value in row)

    code, out, err = share(impact_cli, "list", "--json", "--store", str(db))
    assert code == 0, err
    listed = {entry["note"]: entry for entry in json.loads(out)}
    assert set(listed) == {"Donor X", "Donor P", "Donor O"}
    assert all(ISO_MOMENT.fullmatch(entry[m]) for entry in listed.values() for m in ("created_at", "expires_at"))
    assert listed["Donor O"]["expires_at"] == "2026-12-28T02:43:04+00:00"
    assert listed["Donor P"]["expires_at"] == "2031-01-01T00:00:00+00:00"

    at = share_page()
    table = at.dataframe[0].value
    days = dict(zip(table[text("share_col_note")], table[text("share_col_expires_at")]))
    in_30_days = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    assert days == {"Donor X": f"{in_30_days:%d/%m/%Y}", "Donor P": "01/01/2031",
                    "Donor O": "28/12/2026"}
    revoke_which = next(s for s in at.selectbox if s.label == text("share_revoke_which"))
    revoke_which.set_value(page_link.public_id).run()
    button(at, "share_revoke").click().run()
    assert not at.exception, at.exception[0].message
    assert sharing.get_link(store, page_link.public_id).status() == "revoked"
    table = at.dataframe[0].value
    revoked = table[table[text("share_col_note")] == "Donor P"].iloc[0]
    assert revoked[text("share_col_status")] == text("link_revoked")
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", revoked[text("share_col_revoked_at")])
    code, out, _ = share(impact_cli, "list", "--json", "--store", str(db))
    assert ISO_MOMENT.fullmatch(next(e for e in json.loads(out) if e["note"] == "Donor P")["revoked_at"])
    store.close()


def test_a_donor_opens_a_link_without_a_start_at_its_first_record(db):
    """A link made now has its first record's date; one made before (no start in the store)
    starts there too when the donor opens it, not on 1 January."""
    store = open_store(db)
    new_token, new = sharing.create_link(store, SECRET, "sokha", Scope(("KWCD",), sites=("Phnom Penh",)),
                                         dt.date(2099, 1, 1), "Donor N")
    old_token, old = sharing.create_link(store, SECRET, "sokha", Scope(("KWCD",)), dt.date(2099, 1, 1), "Donor O")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE share_links SET period_start = NULL WHERE id = ?", (old.id,))
    assert new.scope.period_start == KWCD_PHNOM_PENH_FIRST
    assert sharing.get_link(store, old.public_id).scope.period_start is None
    for token, first in ((new_token, KWCD_PHNOM_PENH_FIRST), (old_token, KWCD_FIRST)):
        at = open_page(**{sharing.SHARE_PARAM: token})
        assert at.caption[0].value.startswith(f"{text('showing')}: {first:%d/%m/%Y} – "), at.caption[0].value
    store.close()
