"""Cells a spreadsheet will not evaluate (OWASP "CSV injection"). Pure: no Django, no I/O.

Excel, LibreOffice and WPS treat a cell whose text starts with = + - @ (and, after a tab or carriage
return, whatever follows) as a formula, in CSV files and in pasted text alike: `=HYPERLINK(...)`
in a customer's address would run on the recipient's machine. Every export of custos — findings CSV,
approved extractions (CSV and XLSX) — passes each cell through `neutralise`, which prefixes such text
with an apostrophe: the spreadsheet shows the text as written (the apostrophe is its own "this is
text" marker) and never evaluates it.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell) -> str:
    """The cell as text; text starting with = + - @ tab or CR gets a leading apostrophe.
    None becomes ""."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_START) else text
