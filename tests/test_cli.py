"""`python -m impact` as a script or a scheduled job runs it, on real files: `cli.main` in this
process (conftest's `impact_cli`), and each command once as a real process."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from impact.access import sharing
from impact.metrics.catalog import METRICS
from impact.metrics.engine import Selection, compute
from impact.metrics.prepared import prepare
from impact.store import open_store
from tests.helpers import REPO
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

def run(*args) -> subprocess.CompletedProcess:
    """`python -m impact ARGS` as a real process."""
    return subprocess.run([sys.executable, "-m", "impact", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def register(tmp_path) -> Path:
    rows = [["title"], PARTICIPANT_HEADER, participant("P-1"), participant("P-2", "31/02/2024"),
            ["Total", 2]]
    fu = [["Participant ID", "Follow-up date", "Employment status"], ["P-1", "01/05/2024", "studying"]]
    return write_xlsx(tmp_path / "KWCD_register.xlsx", {"Register": rows, "Follow-ups": fu})


def test_load_json_shape(register, tmp_path, impact_cli):
    out = impact_cli("load", register, "--json", "--dry-run", "--store", tmp_path / "none.db")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["tables"]["participants"] == 1 and report["tables"]["followups"] == 1
    assert (report["rows_loaded"], report["rows_rejected"], report["rows_skipped"]) == (2, 1, 2)
    assert report["issues"] == [{"file": "KWCD_register.xlsx", "sheet": "Register", "row": 4,
                                 "column": "Intake Date", "value": "31/02/2024",
                                 "problem": "expected a real calendar date (dd/mm/yyyy)", "scope": "cell"}]
    assert report["dropped_columns"] == []
    assert not (tmp_path / "none.db").exists()      # a dry run creates no store


def test_load_readable_table(register, tmp_path, impact_cli):
    out = impact_cli("load", register, "--dry-run", "--store", tmp_path / "none.db")
    assert out.returncode == 0
    assert "KWCD_register.xlsx" in out.stdout and "31/02/2024" in out.stdout and "row 4" in out.stdout


def test_load_into_store_twice_changes_nothing(register, tmp_path, impact_cli):
    db = tmp_path / "s.db"
    first = impact_cli("load", register, "--store", db)
    assert first.returncode == 0, first.stderr
    assert "new" in first.stdout
    again = impact_cli("load", register, "--store", db, "--json")
    assert json.loads(again.stdout)["rows_loaded"] == 2      # the report still describes the file
    assert "unchanged" in impact_cli("load", register, "--store", db).stdout


def _encrypted(tmp_path: Path, register: Path) -> Path:
    out = io.BytesIO()
    office = OOXMLFile(register.open("rb"))
    office.encrypt("secret", out)
    path = tmp_path / "KWCD_locked.xlsx"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("make, message", [
    (lambda tmp, reg: tmp / "nowhere.xlsx", "no such file"),
    (lambda tmp, reg: (tmp / "empty.xlsx").write_bytes(b"") or tmp / "empty.xlsx", "empty"),
    (lambda tmp, reg: (tmp / "notes.txt").write_text("hello") and tmp / "notes.txt", "not a spreadsheet"),
    (lambda tmp, reg: (tmp / "broken.xlsx").write_bytes(b"PK\x03\x04garbage" * 50) and tmp / "broken.xlsx",
     "could not be read"),
    (lambda tmp, reg: (tmp / "latin1.csv").write_bytes("Site\nKampong Chhnang \xe9".encode("latin-1"))
     and tmp / "latin1.csv", "not UTF-8"),
    (_encrypted, "password"),
])
def test_bad_input_is_one_clear_line(register, tmp_path, make, message, impact_cli):
    out = impact_cli("load", make(tmp_path, register), "--dry-run", "--store", tmp_path / "none.db")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1
    assert message in out.stderr


def test_template_command(tmp_path, impact_cli):
    out = impact_cli("template", tmp_path / "blank.xlsx")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "blank.xlsx").stat().st_size > 0


@pytest.mark.slow
def test_the_data_commands_run_as_a_process(register, tmp_path):
    """The entry point itself (`python -m impact`: its exit code and streams), once for a load
    and once for a refusal; the other tests call `cli.main` in this process."""
    loaded = run("load", register, "--json", "--dry-run", "--store", tmp_path / "none.db")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["rows_loaded"] == 2
    refused = run("metrics", register, "--from", "someday")
    assert refused.returncode == 2 and "not a date" in refused.stderr and "Traceback" not in refused.stderr


@pytest.fixture
def program_files(tmp_path) -> Path:
    reg = [PARTICIPANT_HEADER] + [participant(f"P-{i}", "10/01/2024", site) for i, site in
                                  enumerate(["Phnom Penh"] * 3 + ["Kampot"] * 2)]
    enr = [["Participant ID", "Course", "Course Type", "Start Date", "End Date", "Status"],
           ["P-0", "Empowerment Training", "life skills", "01/02/2024", "30/04/2024", "graduated"],
           ["P-1", "Empowerment Training", "life skills", "01/02/2024", "30/04/2024", "dropped out"],
           ["P-3", "Empowerment Training", "life skills", "01/02/2024", "30/04/2024", "graduated"],
           ["P-4", "Empowerment Training", "life skills", "01/02/2024", "", "enrolled"]]
    act = [["Activity date", "Site", "Activity type", "Reached", "New contacts"],
           ["05/03/2024", "Kampot", "night outreach visit", 30, 4], ["05/03/2025", "Kampot", "radio call-in", 99, 9]]
    return write_xlsx(tmp_path / "KWCD_2024.xlsx", {"Register": reg, "Courses": enr, "Outreach": act})


def test_metrics_json_overall_and_by_site(program_files, impact_cli):
    out = impact_cli("metrics", program_files, "--json", "--from", "2024-01-01", "--to", "31/12/2024")
    assert out.returncode == 0, out.stderr
    items = {m["key"]: m for m in json.loads(out.stdout)["metrics"]}
    assert set(items) == set(METRICS)
    grad = items["graduation_rate"]
    assert (grad["group"], grad["numerator"], grad["denominator"]) == ({}, 2, 3)
    assert grad["value"] == pytest.approx(2 / 3) and grad["ci_low"] < grad["value"] < grad["ci_high"]
    reached = items["people_reached"]
    assert (reached["value"], reached["numerator"], reached["denominator"]) == (30, None, None)
    assert items["savings_rate"]["value"] is None          # no ledger: no data, never 0%

    by_site = json.loads(impact_cli("metrics", program_files, "--json", "--by", "site", "--from", "2024-01-01",
                             "--to", "2024-12-31").stdout)["metrics"]
    grads = {m["group"]["site"]: (m["numerator"], m["denominator"]) for m in by_site if m["key"] == "graduation_rate"}
    assert grads == {"Phnom Penh": (1, 2), "Kampot": (1, 1)}


def test_metrics_readable_and_bad_arguments(program_files, impact_cli):
    out = impact_cli("metrics", program_files, "--from", "2024-01-01", "--to", "2024-12-31")
    assert "Graduation rate" in out.stdout and "66.7%" in out.stdout
    bad = impact_cli("metrics", program_files, "--from", "someday")
    assert bad.returncode == 2 and "not a date" in bad.stderr and "Traceback" not in bad.stderr
    assert impact_cli("metrics", program_files, "--by", "colour").returncode == 2


# --- filters, and a reader that stops reading (issue 10, defect 7) -------------------------

def test_metrics_where_filters_any_dimension_and_names_the_known_values(demo_store, impact_cli):
    def figures(*where: str) -> dict:
        out = impact_cli("metrics", "--json", "--store", demo_store, "--from", "2024-01-01", "--to", "2025-06-30",
                         *[a for w in where for a in ("--where", w)])
        assert out.returncode == 0, out.stderr
        return {m["key"]: m["value"] for m in json.loads(out.stdout)["metrics"]}

    store = open_store(demo_store)
    prepared = prepare(store.tables())
    selection = Selection(dt.date(2024, 1, 1), dt.date(2025, 6, 30), {"organization": ("KWCD",)})
    kwcd = compute(prepared, selection).set_index("metric")["value"]
    assert figures("organization=KWCD")["participants_registered"] == kwcd["participants_registered"]
    assert figures("organization=KWCD")["participants_registered"] < figures()["participants_registered"]
    two = compute(prepared, Selection(selection.start, selection.end, {"organization": ("KWCD", "CPN"),
                                                                      "site": ("Phnom Penh",)}))
    assert figures("organization=KWCD", "organization=CPN", "site=Phnom Penh")["participants_registered"] == \
        two.set_index("metric").at["participants_registered", "value"]
    store.close()

    wrong = impact_cli("metrics", "--store", demo_store, "--where", "organization=NOPE")
    assert wrong.returncode == 2 and "organization=NOPE" in wrong.stderr and "KWCD" in wrong.stderr
    assert wrong.stdout == ""
    assert impact_cli("metrics", "--store", demo_store, "--where", "colour=red").returncode == 2
    assert "not a filter" in impact_cli("metrics", "--help").stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", (("metrics", "--json", "--by", "month"), ("share", "list", "--json")))
def test_a_reader_that_stops_reading_gets_no_traceback(command, demo_store, tmp_path):
    """`python -m impact metrics --json | head`: the output is cut by the reader, not an error."""
    env = {**os.environ, sharing.SECRET_ENV: "s" * 40}
    if command[0] == "share":   # enough links that the list outgrows the pipe's buffer
        store = open_store(demo_store)
        for i in range(300):
            sharing.create_link(store, "s" * 40, "sokha", sharing.Scope(("KWCD",), period_start=dt.date(2024, 1, 1)),
                                dt.date(2099, 1, 1), f"Donor {i}")
        store.close()
    process = subprocess.Popen([sys.executable, "-m", "impact", *command, "--store", str(demo_store)], cwd=REPO,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.read(10)
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, error
    assert "Traceback" not in error and "BrokenPipe" not in error, error
