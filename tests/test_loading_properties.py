"""Random junk in cells and layouts: the loader never crashes and every row is accounted for."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from impact.intake.cleaning import object_array
from impact.intake.layout import classify_row, data_rows
from impact.intake.parsing import load_files
from tests.helpers import assert_accounted
from tests.workbooks import write_csv, write_xlsx

HEADERS = ["Participant ID", "participant id*", "Program", "កម្មវិធី", "Site", "ទីតាំង", "Intake Date",
           "ថ្ងៃចូល", "Birth Year", "Referral Source", "Work Setting", "Phone", "Name", "Notes", "Total",
           "Member ID", "Deposit", "Group ID", "Month", "Course", "Status", "Course Type", "Start Date"]
JUNK_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12).map(
    lambda s: ILLEGAL_CHARACTERS_RE.sub("", s))
CELLS = st.one_of(
    st.none(), JUNK_TEXT, st.integers(-10**6, 10**8), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(), st.dates(dt.date(1901, 1, 1), dt.date(2099, 1, 1)),
    st.sampled_from(["Total", "សរុប", "None", "N/A", "30/02/2024", "០៣/០២/២០២៤", "$1,000", "៛4,000", "✓",
                     "karaoke", "Graduted", "=SUM(A1:A9)", "P-1", "  ", "Note: checked", "Jan 2024"]))


def grids():
    header = st.lists(st.sampled_from(HEADERS), min_size=1, max_size=9)
    rows = lambda width: st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=25)  # noqa: E731
    return header.flatmap(lambda h: st.tuples(st.lists(st.lists(CELLS, max_size=4), max_size=4),
                                              st.just(h), rows(len(h))))


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grid=grids(), as_csv=st.booleans())
def test_junk_never_crashes_and_rows_are_accounted(tmp_path_factory, grid, as_csv):
    title, header, body = grid
    rows = [r for r in title] + [header] + body
    folder = tmp_path_factory.mktemp("junk")
    if as_csv:
        path = write_csv(folder / "J_junk.csv", [["" if c is None else c for c in r] for r in rows])
    else:
        path = write_xlsx(folder / "J_junk.xlsx", {"Data": rows, "Copy": body})
    result = load_files([path])
    assert_accounted(result)
    written = {"Data": len(rows), "Copy": len(body), "J_junk": len(rows)}
    for s in result.files[0].sheets:
        if s.table:   # the loader never invents rows: header + data + skipped fit in the sheet
            assert s.rows_read + s.rows_skipped + 1 <= written[s.sheet]


@settings(max_examples=200, deadline=None)
@given(header=st.lists(st.sampled_from(HEADERS + [""]), min_size=2, max_size=6).filter(lambda h: any(h)),
       rows=st.lists(st.lists(st.one_of(CELLS, st.just(""), st.sampled_from(HEADERS)), min_size=6, max_size=6),
                     max_size=30))
def test_data_rows_found_a_column_at_a_time_are_the_ones_classify_row_keeps(header, rows):
    """`data_rows` looks at few rows on their own; it must keep exactly the rows `classify_row`
    calls data, whatever the cells (blanks, spaces, totals, notes, the header repeated)."""
    width = len(header)
    rows = [row[:width] for row in rows] + [list(header)]
    columns = [object_array([row[c] for row in rows]) for c in range(width)]
    assert data_rows(columns, header).tolist() == [i for i, row in enumerate(rows) if classify_row(row, header) is None]


WHITESPACE_HEAVY = st.text(st.sampled_from(list("aZ09-_ \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2003\u3000០៩ក")), max_size=8)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(WHITESPACE_HEAVY, JUNK_TEXT), max_size=30, unique=True))
def test_text_cells_cleaned_at_once_equal_cells_cleaned_one_by_one(values):
    """The bulk text parser (plain ASCII cells found by Arrow) gives parse_text's answer for
    every cell, whatever whitespace Python's str.split() knows and Arrow does not."""
    from impact.intake.cleaning import parse_text, parse_texts
    assert parse_texts(object_array(values)).tolist() == [parse_text(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.one_of(WHITESPACE_HEAVY, JUNK_TEXT, st.sampled_from(
    ["Total", " TOTAL:", "\x1ctotal", "Sub-total", "GRAND total", "សរុប", "\u2003Total", "tot", "T", ""])),
    max_size=30))
def test_total_rows_found_at_once_equal_rows_found_one_by_one(cells):
    """The cheap first test for totals and blank rows gives Python's answer for every cell."""
    from impact.intake.layout import _TOTAL_PREFIXES, blank_or_total_prefix
    expected = [not c.strip() or c.lstrip().lower().startswith(_TOTAL_PREFIXES) for c in cells]
    assert blank_or_total_prefix(object_array(cells)).tolist() == expected
