"""Imported once, by the forkserver of `impact.intake.isolated` (its preload module): one read of a
tiny file fills the loader's caches (alias tables, header lookups, pandas' lazy imports), so
every child forked from it starts warm: 0.03 s for a small workbook instead of 0.4 s. Then
the objects made so far are frozen out of the garbage collector, so a child's collections
neither walk them nor copy the memory pages they sit on."""
import gc

from impact.intake.parsing import read_file

read_file("warm-up.csv", b"participant_id,intake_date,program,site\nP-1,15/03/2024,Night Outreach,Phnom Penh\n")
gc.freeze()
