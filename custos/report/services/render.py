"""The summary as XLSX (one sheet per table, numbers as numbers, rates as percentages, yuan with two
decimals) and as PDF (Chinese, WeasyPrint with the embedded 'Noto Sans CJK SC', charts as inline SVG).
"""

from __future__ import annotations

import io
import os
import tempfile
from decimal import Decimal
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.domain.spreadsheet import neutralise
from custos.report.services.summary import Summary
from custos.report.services.tables import show

FORMATS = ("xlsx", "pdf")


def title() -> str:
    return _("客户信息真实性清查工作总结")


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(c for c in name if c not in "[]:*?/\\")[:31] or "sheet"
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:28]}-{i}"
        i += 1
    used.add(out.lower())
    return out


def xlsx(summary: Summary) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    bold = wb.add_format({"bold": True})
    heading = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"})
    formats = {
        "int": wb.add_format({"num_format": "#,##0"}),
        "money": wb.add_format({"num_format": "#,##0.00"}),
        "rate": wb.add_format({"num_format": "0.00%"}),
        "text": None,
    }
    total_formats = {
        k: wb.add_format({"bold": True, **({"num_format": f.num_format} if f else {})})
        for k, f in formats.items()
    }
    used: set[str] = set()
    b = summary.basis
    for table in summary.tables:
        ws = wb.add_worksheet(_sheet_name(table.title, used))
        ws.write(0, 0, neutralise(f"{title()} · {table.title}"), bold)
        ws.write(
            1,
            0,
            neutralise(
                _("截至 %(date)s · %(scope)s") % {"date": b.as_of.isoformat(), "scope": summary.scope_label}
            ),
        )
        header_row = 3
        for c, col in enumerate(table.columns):
            ws.write(header_row, c, col.label, heading)
            ws.set_column(
                c, c, 40 if c == 0 and col.kind == "text" else max(10, min(40, 2 * len(col.label) + 2))
            )
        r = header_row + 1
        for row in table.rows:
            _write_row(ws, r, row, table.columns, formats)
            r += 1
        if table.total is not None:
            _write_row(ws, r, table.total, table.columns, total_formats)
            r += 1
        if table.note:
            ws.write(r + 1, 0, neutralise(table.note))
        ws.freeze_panes(header_row + 1, 1)
    wb.close()
    return buf.getvalue()


def _write_row(ws, r: int, row: list, columns, formats) -> None:
    for c, (value, col) in enumerate(zip(row, columns, strict=True)):
        fmt = formats[col.kind]
        if value is None or value == "":
            ws.write_blank(r, c, None, fmt)
        elif col.kind == "money":
            # the cell holds the decimal as written (16 significant digits: exact for any yuan amount)
            ws.write_number(r, c, Decimal(value), fmt)
        elif col.kind in ("int", "rate"):
            ws.write_number(r, c, value, fmt)
        else:
            ws.write_string(r, c, neutralise(str(value)), fmt)


def pdf(summary: Summary) -> bytes:
    """Chinese whatever language the caller reads: it goes to the regulator. The summary's labels
    must have been built in Chinese too (build it inside translation.override("zh-hans"))."""
    from weasyprint import HTML

    from custos.remediation.letters import company

    with translation.override("zh-hans"):
        html = render_to_string(
            "report/summary_pdf.html",
            {
                "s": summary,
                "title": title(),
                "company": company(),
                "tables": [_shown(t) for t in summary.tables],
                "kpis": kpis(summary),
                "generated": timezone.localtime(summary.generated_at),
            },
        )
    return HTML(string=html).write_pdf()


def _shown(table) -> dict:
    """A table with its cells as text, for the page and the PDF templates."""

    def cells(row):
        return [
            {"text": show(v, c.kind), "num": c.kind != "text"}
            for v, c in zip(row, table.columns, strict=True)
        ]

    return {
        "t": table,
        "rows": [cells(r) for r in table.rows],
        "total": cells(table.total) if table.total is not None else None,
    }


shown = _shown


def kpis(summary: Summary) -> list[dict]:
    """The headline figures as label and text, for the page's and the PDF's tiles."""
    f = summary.figures
    return [
        {"key": "in_scope", "label": _("范围内保单"), "value": show(f["in_scope"], "int")},
        {"key": "checked", "label": _("已检查"), "value": show(f["checked"], "int")},
        {"key": "untrue", "label": _("不真实率"), "value": show(f["untrue_rate"], "rate")},
        {"key": "missing", "label": _("信息缺失率"), "value": show(f["missing_rate"], "rate")},
        {"key": "false", "label": _("信息虚假率"), "value": show(f["false_rate"], "rate")},
        {"key": "corrected", "label": _("已更正"), "value": show(f["corrected"], "int")},
        {"key": "outstanding", "label": _("未更正"), "value": show(f["outstanding"], "int")},
    ]


def write(summary: Summary, out: Path) -> str:
    """Write OUT.xlsx or OUT.pdf (by its suffix) atomically; returns the format."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{out}: the output must end in .xlsx or .pdf")
    data = xlsx(summary) if fmt == "xlsx" else pdf(summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return fmt
