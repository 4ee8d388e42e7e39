"""The report's tables: one shape for every section, so that the page, the PDF and the XLSX render
them all the same way (and a section another app provides is just one more table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

KINDS = ("text", "int", "money", "rate")


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text | int | money (Decimal yuan) | rate (a fraction 0..1, shown as %)


@dataclass
class Table:
    key: str  # stable id: the page's element id, the tests' handle
    title: str  # heading, and the XLSX sheet's name (≤ 31 characters)
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None
    note: str = ""
    chart: str = ""  # an inline SVG drawn from the table (services/charts.py)

    def column(self, label: str) -> list:
        i = [c.label for c in self.columns].index(label)
        return [r[i] for r in self.rows]


def ratio(n: int, d: int) -> float | None:
    """n / d as a fraction for a rate cell; None (shown as —) when there is nothing to divide by."""
    return n / d if d else None


def show(value, kind: str) -> str:
    """A cell as text (page and PDF): rates with two decimals and %, money with two decimals."""
    if value is None or value == "":
        return "—" if kind != "text" else ""
    if kind == "rate":
        return f"{100 * value:.2f}%"
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    if kind == "int":
        return f"{value:,}"
    return str(value)


def from_provider(key: str, title: str, data: dict) -> Table:
    """A table from a pluggable section's dict: {"columns": [(label, kind), …], "rows": [[…]],
    "total": […] or None, "note": "…"}."""
    columns = [Column(str(label), kind) for label, kind in data.get("columns", [])]
    for c in columns:
        if c.kind not in KINDS:
            raise ValueError(f"section {key}: column {c.label!r} has unknown kind {c.kind!r}")
    rows = [list(r) for r in data.get("rows", [])]
    for r in rows:
        if len(r) != len(columns):
            raise ValueError(f"section {key}: a row has {len(r)} cells for {len(columns)} columns")
    return Table(key, title, columns, rows, data.get("total"), str(data.get("note", "")))
