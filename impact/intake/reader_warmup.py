"""Imported once, by the forkserver of `impact.intake.isolated` (its preload module): a read of
a tiny CSV and of a tiny workbook fills the loader's caches (alias tables, header lookups,
pandas', pyarrow's and fastexcel's first-call work), so every child forked from it starts warm:
0.03 s for a small workbook instead of 0.4 s, and a 100,000-row workbook's read steady from
its first upload. Then the warm-up's freed memory is handed back, and the objects made so far
are frozen out of the garbage collector, so a child's collections neither walk them nor copy
the memory pages they sit on."""
import datetime as dt
import gc
import io
import sys

# pandera brings in hypothesis, when installed (the tests install it), for data synthesis that
# reading never does: 5 MiB less in the forkserver and every child. pandera supports its absence.
sys.modules.setdefault("hypothesis", None)

import pyarrow as pa
import xlsxwriter

from impact.intake.parsing import read_file
from impact.memory import release_freed_memory

# A child's Arrow buffers from the C library's malloc, like its other cells: one allocator to
# hand back freed memory from (`release_freed_memory`), and a read of a 100,000-row sheet
# steadier than with Arrow's own pool (1.00-1.09 s against 1.06-1.54 s over eight uploads).
pa.set_memory_pool(pa.system_memory_pool())


def _tiny_workbook() -> bytes:
    """A participants sheet as field teams keep it: a title, a date column typed as dates."""
    content = io.BytesIO()
    with xlsxwriter.Workbook(content, {"in_memory": True}) as workbook:
        sheet, day = workbook.add_worksheet("Participants"), workbook.add_format({"num_format": "dd/mm/yyyy"})
        sheet.write_row(0, 0, ["Warm-up register"])
        sheet.write_row(2, 0, ["Participant ID", "Organization", "Program", "Site", "Intake date", "Year of birth"])
        for row in range(3, 40):
            sheet.write_row(row, 0, [f"P-{row}", "Warm-up", "Night Outreach", "Phnom Penh"])
            sheet.write_datetime(row, 4, dt.datetime(2024, 3, row % 28 + 1), day)
            sheet.write_number(row, 5, 1990 + row % 10)
    return content.getvalue()


read_file("warm-up.csv", b"participant_id,intake_date,program,site\nP-1,15/03/2024,Night Outreach,Phnom Penh\n")
read_file("warm-up.xlsx", _tiny_workbook())
release_freed_memory()   # the warm-up's garbage, not inherited by every child; and the C library looked up
gc.freeze()
