"""Hostile files (issue 8 §2): each fails in one plain line, with bounded memory and time,
and never takes the process down or stops the other files of a batch."""
from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from impact import cli

from impact.intake import pipeline

from impact.intake import isolated
from impact.intake.parsing import load_files
from impact.store import open_store
from impact.intake.reading import UnreadableFile, read_workbook
from tests.hostile_files import (
    ENTITY_BOMB_WORKBOOK,
    NumberText,
    sheet_xml,
    write_encrypted_ods,
    write_far_cell_ods,
    write_raw_xlsx,
)
from tests.workbooks import PARTICIPANT_HEADER, participant, write_csv, write_ods, write_xlsx

REPO = Path(__file__).resolve().parent.parent
DATA = [PARTICIPANT_HEADER, participant("P-1"), participant("P-2"), participant("P-3")]


def far_cell_xlsx(path: Path, dimension: bool = True) -> Path:
    """3 data rows and one stray cell at XFD1048576 (2 KB): python-calamine allocates 549 GB."""
    return write_raw_xlsx(path, sheet_xml(DATA, "A1:XFD1048576" if dimension else None,
                                          far_cells={"XFD1048576": "x"}))


def huge_merge_xlsx(path: Path) -> Path:
    return write_raw_xlsx(path, sheet_xml(DATA, "A1:G4", merges=("A2:G1048576",)))


def bomb_xlsx(path: Path, padding: int = 20_000_000) -> Path:
    """A sheet part that inflates about a thousand times (20 MB of spaces in ~20 KB)."""
    return write_raw_xlsx(path, sheet_xml(DATA, "A1:G4", padding=padding))


def load_cli(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["load", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    return code, out, err


def run_limited(*args, memory_mib: int = 2048, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m impact ...` with its address space (and so that of every process it starts)
    limited to `memory_mib`: (result, seconds)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mib * 2**20, memory_mib * 2**20))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "impact", *map(str, args)], cwd=REPO, capture_output=True,
                         text=True, timeout=120, preexec_fn=limit, env={**os.environ, **(env or {})})
    assert "Traceback" not in out.stderr
    return out, time.perf_counter() - start


# --- 1. a cell far from the data -----------------------------------------------------------

def test_far_cell_is_refused_from_the_sheet_dimension_in_one_line(tmp_path, capsys):
    code, _, err = load_cli(capsys, far_cell_xlsx(tmp_path / "KWCD_far.xlsx"), "--dry-run",
                            "--store", tmp_path / "none.db")
    assert code == 2 and err.count("\n") == 1
    assert "sheet 'Register' reaches cell XFD1048576" in err and "delete the stray cells" in err


@pytest.mark.slow
def test_far_cell_without_dimension_kills_only_the_child(tmp_path):
    """No <dimension> to warn: the reader aborts, in the child, under its memory limit."""
    path = far_cell_xlsx(tmp_path / "KWCD_far.xlsx", dimension=False)
    out, seconds = run_limited("load", path, "--dry-run", "--store", tmp_path / "none.db",
                               env={"IMPACT_READ_MEMORY_MB": "1024"})
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "KWCD_far.xlsx: the reader stopped" in out.stderr and "within the 1,024 MB" in out.stderr
    assert seconds < 30


def test_far_cell_in_an_ods_is_one_line(tmp_path):
    path = write_far_cell_ods(tmp_path / "KWCD_far.ods", [["Participant ID", "Site"], ["P-1", "Phnom Penh"]])
    with pytest.raises(UnreadableFile, match="KWCD_far.ods: sheet .Register. reaches cell XFD1048576"):
        isolated.read_file(path.name, path.read_bytes())


def test_the_next_file_is_read_in_a_fresh_child(tmp_path):
    far = far_cell_xlsx(tmp_path / "far.xlsx", dimension=False).read_bytes()
    good = write_xlsx(tmp_path / "KWCD_good.xlsx", {"Register": DATA}).read_bytes()
    with pytest.raises(UnreadableFile, match="the reader stopped"):
        isolated.read_file("far.xlsx", far)
    assert isolated.read_file("KWCD_good.xlsx", good).tables["participants"]["participant_id"].tolist() \
        == ["P-1", "P-2", "P-3"]


def test_a_file_bigger_than_a_pipe_arrives_whole_and_one_the_child_cannot_hold_is_one_line(tmp_path, monkeypatch):
    """The bytes go to the child down a pipe of their own (64 KB at a time); a child whose
    memory limit cannot hold them says so, and the server's send neither hangs nor raises."""
    rows = [PARTICIPANT_HEADER] + [participant(f"P-{n}") for n in range(20_000)]
    content = write_csv(tmp_path / "KWCD_big.csv", rows).read_bytes()
    assert len(content) > 1_000_000
    assert len(isolated.read_file("KWCD_big.csv", content).tables["participants"]) == 20_000
    monkeypatch.setenv("IMPACT_READ_MEMORY_MB", "1")
    with pytest.raises(UnreadableFile, match=r"^KWCD_huge.csv: the reader stopped \(out of memory\)"):
        isolated.read_file("KWCD_huge.csv", content * 40)


def test_the_child_never_runs_the_page_streamlit_made_main(tmp_path, monkeypatch):
    """Streamlit makes the page it draws `__main__`; multiprocessing would run it again in
    every child before reading."""
    page = tmp_path / "page.py"
    page.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('the page ran')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", main)
    content = write_xlsx(tmp_path / "KWCD_good.xlsx", {"Register": DATA}).read_bytes()
    assert len(isolated.read_file("KWCD_good.xlsx", content).tables["participants"]) == 3
    assert not (tmp_path / "ran").exists()


def test_a_read_over_the_time_limit_is_one_line(tmp_path, monkeypatch):
    content = write_xlsx(tmp_path / "KWCD_good.xlsx", {"Register": DATA}).read_bytes()
    monkeypatch.setenv("IMPACT_READ_TIMEOUT_S", "0.001")
    with pytest.raises(UnreadableFile, match=r"^KWCD_good.xlsx: reading took longer than 0.001 s"):
        isolated.read_file("KWCD_good.xlsx", content)


@pytest.mark.slow
def test_sixteen_thousand_columns_still_load(tmp_path):
    rows = [row + [None] * (16_383 - len(row)) + ["far"] for row in DATA]
    path = write_raw_xlsx(tmp_path / "KWCD_wide.xlsx", sheet_xml(rows, "A1:XFD4"))
    assert len(load_files([path]).table("participants")) == 3


# --- 2. a zip bomb ---------------------------------------------------------------------------

@pytest.mark.slow
def test_bomb_is_refused_by_its_inflation_ratio_in_bounded_memory(tmp_path):
    path = bomb_xlsx(tmp_path / "KWCD_bomb.xlsx")
    assert path.stat().st_size < 200_000
    out, seconds = run_limited("load", path, "--dry-run", "--store", tmp_path / "none.db", memory_mib=1536)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "part xl/worksheets/sheet1.xml inflates" in out.stderr
    assert seconds < 30


def test_unpacked_size_limit_comes_from_the_configuration(tmp_path, monkeypatch):
    content = bomb_xlsx(tmp_path / "big.xlsx", padding=3_000_000).read_bytes()
    monkeypatch.setenv("IMPACT_MAX_ZIP_RATIO", "100000")
    assert read_workbook(content, "big.xlsx")[0].rows[1][0] == "P-1"
    monkeypatch.setenv("IMPACT_MAX_UNPACKED_MB", "2")
    with pytest.raises(UnreadableFile, match=r"big.xlsx: the workbook unpacks to 3 MB, more than the 2 MB"):
        read_workbook(content, "big.xlsx")


# --- 3. a merge down to the last row ---------------------------------------------------------

@pytest.mark.slow
def test_huge_merge_is_clipped_to_the_data(tmp_path):
    out, seconds = run_limited("load", huge_merge_xlsx(tmp_path / "KWCD_merge.xlsx"), "--json",
                               "--dry-run", "--store", tmp_path / "none.db", memory_mib=1536)
    assert out.returncode == 0, out.stderr
    assert '"rows_loaded": 3' in out.stdout and '"rows_rejected": 0' in out.stdout
    assert seconds < 30


# --- 4. a CSV cell of 50 MB --------------------------------------------------------------------

def test_huge_csv_cell_is_one_line_and_the_batch_still_loads(tmp_path):
    store = open_store(tmp_path / "s.db")
    huge = ("Participant ID,Program,Site,Intake Date\nP-9,Night Outreach,Phnom Penh,"
            + "x" * 50_000_000 + "\n").encode()
    good = write_xlsx(tmp_path / "KWCD_good.xlsx", {"Register": DATA}).read_bytes()
    done = pipeline.ingest_files(store, [("KWCD_huge.csv", huge), ("KWCD_good.xlsx", good)], "KWCD")
    assert done.unreadable["KWCD_huge.csv"].startswith("KWCD_huge.csv: not a readable CSV table (field larger than")
    assert [(r["file"], r["status"]) for r in done.rows()] == [("KWCD_huge.csv", "unreadable"),
                                                               ("KWCD_good.xlsx", "new")]
    assert len(store.tables()["participants"]) == 3


# --- 5. folders ------------------------------------------------------------------------------

def test_links_and_folders_named_like_spreadsheets_are_skipped_and_reported(tmp_path, capsys):
    folder = tmp_path / "field"
    (folder / "backup.xlsx").mkdir(parents=True)
    write_xlsx(folder / "KWCD_good.xlsx", {"Register": DATA})
    (folder / "loop.xlsx").symlink_to(folder / "loop.xlsx")
    (folder / "gone.xlsx").symlink_to(tmp_path / "deleted.xlsx")
    (folder / "again").symlink_to(folder)
    code, out, err = load_cli(capsys, folder, "--store", tmp_path / "s.db")
    lines = sorted(err.splitlines())
    assert code == 2 and len(lines) == 4, err
    assert lines == sorted([f"error: {folder / 'again'}: skipped: a link back to a folder already read",
                            f"error: {folder / 'backup.xlsx'}: skipped: a folder, not a spreadsheet",
                            f"error: {folder / 'gone.xlsx'}: skipped: a link to a file that does not exist",
                            f"error: {folder / 'loop.xlsx'}: skipped: a link in a loop of links"])
    assert "store: KWCD_good.xlsx: new" in out
    assert len(open_store(tmp_path / "s.db").tables()["participants"]) == 3


def test_empty_folder_says_no_spreadsheet_found(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    code, out, err = load_cli(capsys, tmp_path / "empty", "--dry-run", "--store", tmp_path / "none.db")
    assert code == 2 and out == ""
    assert err == f"error: {tmp_path / 'empty'}: no spreadsheet found (.xlsx, .xls, .ods or .csv)\n"


# --- 6. numbers that are not finite ----------------------------------------------------------

def test_infinite_numbers_reject_the_row(tmp_path):
    rows = [PARTICIPANT_HEADER[:5]] + [participant(f"P-{i}")[:4] + [year] for i, year in enumerate(
        [NumberText("inf"), NumberText("Infinity"), NumberText("1e309"), "9" * 400, 1998])]
    followups = [["Participant ID", "Follow-up date", "Employment status", "Monthly income"],
                 ["P-4", "01/05/2024", "studying", NumberText("1e309")],
                 ["P-4", "01/06/2024", "studying", "1" * 400],
                 ["P-4", "01/07/2024", "studying", 120]]
    result = load_files([write_raw_xlsx(tmp_path / "KWCD_numbers.xlsx", sheet_xml(rows))])
    assert result.table("participants")["participant_id"].tolist() == ["P-4"]
    assert [(i.row, i.problem) for i in result.issues] == [(r, "expected a finite number") for r in (2, 3, 4, 5)]
    income = load_files([write_raw_xlsx(tmp_path / "KWCD_income.xlsx", sheet_xml(followups))],
                        known_participants={("KWCD", "P-4")})
    assert income.table("followups")["monthly_income"].tolist() == [120]
    assert all(math.isfinite(v) for v in income.table("followups")["monthly_income"])
    assert [i.problem for i in income.issues] == ["expected a finite number"] * 2


# --- 7. a password-protected .ods ----------------------------------------------------------------

def test_password_protected_ods_is_called_so(tmp_path):
    with pytest.raises(UnreadableFile, match="KWCD.ods: the workbook is password-protected"):
        read_workbook(write_encrypted_ods(tmp_path / "KWCD.ods").read_bytes(), "KWCD.ods")
    plain = write_ods(tmp_path / "plain.ods", {"Register": DATA}).read_bytes()
    assert read_workbook(plain, "plain.ods")[0].rows[3][0] == "P-3"


# --- 8. the command line: one line per unreadable file, the others loaded, exit 2 ----------------

def test_batch_with_unreadable_files_loads_the_others_and_exits_2(tmp_path, capsys):
    good = write_xlsx(tmp_path / "KWCD_good.xlsx", {"Register": DATA})
    far = far_cell_xlsx(tmp_path / "KWCD_far.xlsx")
    latin = write_csv(tmp_path / "KWCD_latin.csv", [["Site"]])
    latin.write_bytes("Site\nKampong Chhnang \xe9".encode("latin-1"))
    code, out, err = load_cli(capsys, far, good, latin, "--store", tmp_path / "s.db")
    assert code == 2
    assert [line.split(":")[1].strip() for line in err.splitlines()] == [far.name, latin.name]
    assert "store: KWCD_good.xlsx: new" in out
    assert len(open_store(tmp_path / "s.db").tables()["participants"]) == 3


def test_single_unreadable_file_leaves_the_store_unchanged(tmp_path, capsys):
    db = tmp_path / "s.db"
    assert load_cli(capsys, write_xlsx(tmp_path / "KWCD_good.xlsx", {"Register": DATA}), "--store", db)[0] == 0
    uploads = open_store(db).uploads()
    code, out, err = load_cli(capsys, bomb_xlsx(tmp_path / "KWCD_bomb.xlsx"), "--store", db)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert open_store(db).uploads().equals(uploads)


# --- what already held, and must stay so ------------------------------------------------------

def test_entity_bomb_in_the_workbook_part_is_one_line(tmp_path):
    path = write_raw_xlsx(tmp_path / "KWCD_laughs.xlsx", sheet_xml(DATA), workbook=ENTITY_BOMB_WORKBOOK)
    start = time.perf_counter()
    with pytest.raises(UnreadableFile, match="KWCD_laughs.xlsx: the workbook could not be read"):
        read_workbook(path.read_bytes(), path.name)
    assert time.perf_counter() - start < 5
