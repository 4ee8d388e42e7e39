"""Pinned reference tables (CSV files in this package; regenerate with ``build.py``).

Each file starts with one ``#`` comment line naming its source and date, then a CSV header.
The engines load the same files as tables; the functions here serve the pure-Python domain code.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
TABLES = ("gb2260", "mobile_segments", "area_codes", "provinces", "placeholders")


def path(name: str) -> Path:
    return HERE / f"{name}.csv"


def source(name: str) -> str:
    """The source and date line of a table."""
    with path(name).open(encoding="utf-8") as f:
        return f.readline().lstrip("# ").strip()


@cache
def rows(name: str) -> tuple[dict[str, str], ...]:
    with path(name).open(encoding="utf-8") as f:
        f.readline()
        return tuple(csv.DictReader(f))


@cache
def gb2260() -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in rows("gb2260")}


@cache
def mobile_segments() -> dict[str, dict]:
    return {r["prefix"]: {**r, "valid": r["valid"] == "1"} for r in rows("mobile_segments")}


@cache
def area_codes() -> frozenset[str]:
    return frozenset(r["area_code"] for r in rows("area_codes"))


@cache
def placeholders(kind: str) -> frozenset[str]:
    return frozenset(r["value"] for r in rows("placeholders") if r["kind"] == kind)


@cache
def province_names() -> dict[str, str]:
    """Short name → GB2260 2-digit code, longest names first."""
    names = {r["short_name"]: r["province_code"] for r in rows("provinces")}
    return dict(sorted(names.items(), key=lambda kv: -len(kv[0])))


@cache
def postcode_prefixes(province_code: str) -> frozenset[str]:
    return frozenset(r["postcode_prefix"] for r in rows("provinces") if r["province_code"] == province_code)
