"""The blank template workbook field teams can fill in, generated from `impact.contract.tables`.

Every sheet, header, note and drop-down list comes from the declarations, so a new column or
category appears in the template without touching this file. Headers are the canonical
column names (the loader also accepts English and Khmer aliases, but a template that needs
no guessing is the easiest file to load).
"""
from __future__ import annotations

from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from impact.contract.aliases import aliases_by_name
from impact.contract.tables import AMOUNT, BOOLEAN, CATEGORY, DATE, INTEGER, NUMBER, TABLES

LAST_ROW = 5000   # validations and formats cover rows 2..LAST_ROW
DATE_FORMAT = "DD/MM/YYYY"
GENERAL = [   # (topic, English, Khmer)
    ("Sheets", "One sheet per table; keep the sheet names and the header row as they are.",
     "សន្លឹកមួយសម្រាប់តារាងមួយ។ សូមកុំប្តូរឈ្មោះសន្លឹក ឬជួរក្បាលតារាង។"),
    ("Rows", "One row per record. No totals, notes or blank rows between records.",
     "មួយជួរសម្រាប់កំណត់ត្រាមួយ។ កុំដាក់សរុប កំណត់សម្គាល់ ឬជួរទទេនៅចន្លោះកំណត់ត្រា។"),
    ("Dates", "Write dates day first: dd/mm/yyyy, e.g. 25/03/2025.",
     "សរសេរកាលបរិច្ឆេទជា ថ្ងៃ/ខែ/ឆ្នាំ ឧទាហរណ៍ ២៥/០៣/២០២៥។"),
    ("Amounts", "Amounts are in US dollars (USD) unless marked ៛ or the currency column says KHR.",
     "ទឹកប្រាក់គិតជាដុល្លារ (USD) លើកលែងតែមានសញ្ញា ៛ ឬជួរឈររូបិយប័ណ្ណសរសេរថា KHR។"),
    ("Privacy", "Never write names, phone numbers or other personal details: use codes such as PW-0042.",
     "កុំសរសេរឈ្មោះ លេខទូរស័ព្ទ ឬព័ត៌មានផ្ទាល់ខ្លួនផ្សេងទៀត។ សូមប្រើលេខកូដ ដូចជា PW-0042។"),
    ("Cases", "The cases sheet holds case codes, dates and counts only: never a survivor's or a suspect's name, "
              "and no notes about what happened.",
     "សន្លឹកករណីមានតែលេខកូដករណី កាលបរិច្ឆេទ និងចំនួនប៉ុណ្ណោះ៖ កុំសរសេរឈ្មោះជនរងគ្រោះ ឬជនសង្ស័យ "
     "ហើយកុំសរសេរកំណត់សម្គាល់អំពីអ្វីដែលបានកើតឡើង។"),
    ("Headers", "Point at a header to read what it means, whether it is required and the allowed values; "
                "use the drop-down lists.",
     "ដាក់កណ្តុរលើក្បាលជួរឈរ ដើម្បីមើលអត្ថន័យ ថាតើត្រូវបំពេញជាចាំបាច់ និងតម្លៃដែលអាចប្រើបាន។ សូមប្រើបញ្ជីជម្រើស។"),
]
KHMER_DESCRIPTIONS = {
    "participants": "មួយជួរសម្រាប់ស្ត្រី ឬក្មេងស្រីម្នាក់ដែលបានចុះឈ្មោះក្នុងកម្មវិធី",
    "enrollments": "មួយជួរសម្រាប់អ្នកចូលរួមម្នាក់ក្នុងវគ្គសិក្សាមួយ",
    "followups": "មួយជួរសម្រាប់ការតាមដានស្ថានភាពអ្នកចូលរួមម្តង",
    "savings": "មួយជួរសម្រាប់សមាជិកក្រុមសន្សំម្នាក់ក្នុងការប្រជុំ ឬខែនីមួយៗ",
    "activities": "មួយជួរសម្រាប់សកម្មភាពចុះមូលដ្ឋាន ឬផ្សព្វផ្សាយមួយ",
    "services": "មួយជួរសម្រាប់ការបញ្ជូន ឬជំនួយមួយដល់អ្នកចូលរួម",
    "targets": "គោលដៅដែលកម្មវិធីបានសន្យាជាមួយម្ចាស់ជំនួយ",
    "network_members": "មួយជួរសម្រាប់សមាជិកម្នាក់នៃបណ្តាញសហគមន៍ បណ្តាញមិត្តអប់រំមិត្ត ឬបណ្តាញអ្នកពាក់ព័ន្ធ",
    "cases": "មួយជួរសម្រាប់ករណីជួញដូរ ការកេងប្រវ័ញ្ច ឬអំពើហិង្សាមួយ ដែលកម្មវិធីគាំទ្រតាមប្រព័ន្ធយុត្តិធម៌",
}
KIND_NOTES = {DATE: "Date: dd/mm/yyyy", AMOUNT: "Amount: USD unless marked ៛ / KHR",
              INTEGER: "Whole number", NUMBER: "Number (a rate in percent, or a count)",
              BOOLEAN: "Allowed values: Yes, No"}


def _khmer(kind: str, name: str) -> str:
    """The preferred (first Khmer) alias of a table or column, or ""."""
    return next((a for a in aliases_by_name().get((kind, name), ()) if any("\u1780" <= c <= "\u17ff" for c in a)), "")


def _note(col) -> str:
    lines = [col.description or col.name, "Required" if col.required else "Optional"]
    if col.kind == CATEGORY:
        lines.append("Allowed values: " + ", ".join(col.categories))
    elif col.kind in KIND_NOTES:
        lines.append(KIND_NOTES[col.kind])
    khmer = _khmer("column", col.name)
    return "\n".join(lines + ([f"ខ្មែរ: {khmer}"] if khmer else []))


def _validation(col, lists: list[list[str]]) -> dict | None:
    """The drop-down or number check of a column (xlsxwriter's options), or None. A list too
    long for Excel's inline limit goes to `lists`, a column of the hidden Lists sheet."""
    if col.kind == BOOLEAN:
        return {"validate": "list", "source": ["Yes", "No"]}
    if col.kind == INTEGER and col.non_negative:
        return {"validate": "integer", "criteria": ">=", "value": 0}
    if col.kind != CATEGORY:
        return None
    if len(",".join(col.categories)) + 2 <= 255:   # Excel's limit for an inline list, quotes included
        return {"validate": "list", "source": list(col.categories)}
    lists.append(list(col.categories))
    letter = xl_col_to_name(len(lists) - 1)
    return {"validate": "list", "source": f"=Lists!${letter}$1:${letter}${len(col.categories)}"}


def write_template(path: Path) -> Path:
    """Write the blank template to `path` (.xlsx) and return the path."""
    path = Path(path)
    wb = xlsxwriter.Workbook(str(path))
    bold = wb.add_format({"bold": True})
    wrapped = {"text_wrap": True, "valign": "top"}
    text, heading = wb.add_format(wrapped), wb.add_format({**wrapped, "bold": True})
    date_format = wb.add_format({"num_format": DATE_FORMAT})
    info = wb.add_worksheet("Instructions")
    rows = [["", "English", "ខ្មែរ (Khmer)"], *map(list, GENERAL), []]
    for name, table in TABLES.items():
        khmer = _khmer("table", name)
        rows.append([f"Sheet {name}", table.description + ".",
                     f"សន្លឹក {name} ({khmer}): {KHMER_DESCRIPTIONS.get(name, khmer)}។"])
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            info.write_string(i, j, value, heading if i == 0 or j == 0 else text)
    for j, width in enumerate((22, 80, 80)):
        info.set_column(j, j, width, text)
    lists: list[list[str]] = []
    for name, table in TABLES.items():
        ws = wb.add_worksheet(name)
        ws.freeze_panes(1, 0)
        for j, col in enumerate(table.columns):
            ws.write_string(0, j, col.name, bold)
            ws.write_comment(0, j, _note(col), {"author": "impact template", "width": 320, "height": 160})
            ws.set_column(j, j, max(len(col.name) + 4, 14), date_format if col.kind == DATE else None)
            check = _validation(col, lists)
            if check is not None:
                ws.data_validation(1, j, LAST_ROW - 1, j, {
                    **check, "error_title": col.name, "error_message": f"Not an allowed value for {col.name}"})
    if lists:
        sheet = wb.add_worksheet("Lists")
        for j, values in enumerate(lists):
            sheet.write_column(0, j, values)
        sheet.hide()
    wb.close()
    return path
