"""Reference tables as rows for the engines (the same CSV files the domain functions read)."""

from __future__ import annotations

from custos.domain import refdata

# table name in SQL -> (CSV name, [(column, SQL type)])
REF_TABLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "ref_gb2260": ("gb2260", [("code", "VARCHAR")]),
    "ref_segments": ("mobile_segments", [("prefix", "VARCHAR"), ("valid", "INTEGER")]),
    "ref_area": ("area_codes", [("area_code", "VARCHAR")]),
    "ref_provinces": (
        "provinces",
        [("province_code", "VARCHAR"), ("short_name", "VARCHAR"), ("postcode_prefix", "VARCHAR")],
    ),
    "ref_placeholders": ("placeholders", [("kind", "VARCHAR"), ("value", "VARCHAR")]),
}
NUMBERS = 512  # ref_numbers(i): 1..NUMBERS, to split strings into characters in SQL


def ref_rows(table: str) -> tuple[list[str], list[tuple]]:
    if table == "ref_numbers":
        return ["i"], [(i,) for i in range(1, NUMBERS + 1)]
    csv_name, cols = REF_TABLES[table]
    out = []
    for r in refdata.rows(csv_name):
        out.append(tuple(int(r[c]) if t == "INTEGER" else r[c] for c, t in cols))
    return [c for c, _ in cols], out


def all_ref_tables() -> list[str]:
    return [*REF_TABLES, "ref_numbers"]
