"""Hostile spreadsheets written byte by byte, where openpyxl would refuse or take minutes:
a cell at XFD1048576, a zip bomb, a merge down to row 1,048,576, numbers Excel never writes,
a password-protected .ods, XML entity bombs."""
from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
_PACKAGE_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""


def column_letters(index: int) -> str:
    """0 -> A, 16383 -> XFD."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class NumberText(str):
    """The text of a number cell exactly as written in the XML: `inf`, `1e309`."""


def cell_xml(ref: str, value: object) -> str:
    """A number (or NumberText) as a number cell, anything else as an inline string."""
    if isinstance(value, (int, float, NumberText)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def sheet_xml(rows: list[list], dimension: str | None = None, merges: tuple[str, ...] = (),
              far_cells: dict[str, object] | None = None, padding: int = 0) -> str:
    """A worksheet part: `rows` from A1, `far_cells` ({"XFD1048576": "x"}) after them,
    `padding` spaces of filler inside the sheet data (how a zip bomb inflates)."""
    body = []
    for r, row in enumerate(rows, 1):
        cells = "".join(cell_xml(f"{column_letters(c)}{r}", v) for c, v in enumerate(row) if v is not None)
        body.append(f'<row r="{r}">{cells}</row>')
    for ref, value in (far_cells or {}).items():
        body.append(f'<row r="{"".join(ch for ch in ref if ch.isdigit())}">{cell_xml(ref, value)}</row>')
    merged = (f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges)
              + "</mergeCells>") if merges else ""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + (f'<dimension ref="{dimension}"/>' if dimension else "")
            + "<sheetData>" + "".join(body) + " " * padding + "</sheetData>" + merged + "</worksheet>")


def write_raw_xlsx(path: Path, sheet: str, sheet_name: str = "Register", workbook: str = WORKBOOK) -> Path:
    """A minimal .xlsx (one sheet, inline strings, no styles) around a worksheet part."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _PACKAGE_RELS)
        z.writestr("xl/workbook.xml", workbook.format(name=escape(sheet_name, {'"': "&quot;"})))
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path

_ODS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 {entry}
</manifest:manifest>"""


def write_encrypted_ods(path: Path) -> Path:
    """An .ods as LibreOffice saves it with a password: the manifest names the cipher and
    content.xml is ciphertext."""
    encrypted = """<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="3012">
  <manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k"
   manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc"
   manifest:initialisation-vector="AAAA"/><manifest:key-derivation manifest:key-derivation-name="PBKDF2"
   manifest:key-size="32" manifest:iteration-count="100000" manifest:salt="AAAA"/></manifest:encryption-data>
 </manifest:file-entry>"""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", _ODS_MANIFEST.format(entry=encrypted), zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", bytes(range(256)) * 12, zipfile.ZIP_DEFLATED)
    return path


def write_far_cell_ods(path: Path, rows: list[list[str]]) -> Path:
    """An .ods with `rows` and one cell at XFD1048576, after a run of repeated empty rows."""
    def cell(value: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'
    body = "".join("<table:table-row>" + "".join(map(cell, row)) + "</table:table-row>" for row in rows)
    body += (f'<table:table-row table:number-rows-repeated="{1_048_575 - len(rows)}"><table:table-cell/></table:table-row>'
             f'<table:table-row><table:table-cell table:number-columns-repeated="16383"/>{cell("x")}</table:table-row>')
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               f'<office:body><office:spreadsheet><table:table table:name="Register">{body}</table:table>'
               '</office:spreadsheet></office:body></office:document-content>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", _ODS_MANIFEST.format(entry=""), zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


ENTITY_BOMB_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa">""" + "".join(
    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + """]>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"
 xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="{name}&j;" sheetId="1" r:id="rId1"/></sheets></workbook>"""
