"""The regulator's work summary: `build` the figures and tables, `document` renders them as XLSX or
PDF, `write` a file (the command and the demo). Definitions in docs/report.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import translation

from custos.report.services import render
from custos.report.services.summary import PERIODS, ReportError, Summary, basis, build, parse_date

FORMATS = render.FORMATS


def document(fmt: str, as_of: dt.date | None = None, **kwargs) -> tuple[Summary, bytes]:
    """(summary, bytes) of the summary as `fmt` (xlsx | pdf). The PDF is Chinese whatever language
    the caller reads; the XLSX is in the caller's language (Chinese for the command)."""
    if fmt not in FORMATS:
        raise ReportError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "pdf":
        with translation.override("zh-hans"):
            summary = build(as_of, **kwargs)
            return summary, render.pdf(summary)
    summary = build(as_of, **kwargs)
    return summary, render.xlsx(summary)


def write(out: Path, as_of: dt.date | None = None, **kwargs) -> Summary:
    """Write OUT.xlsx or OUT.pdf (by its suffix; Chinese) atomically."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ReportError(f"{out}: the output must end in .xlsx or .pdf")
    with translation.override("zh-hans"):
        summary = build(as_of, **kwargs)
        render.write(summary, out)
    return summary


__all__ = [
    "FORMATS",
    "PERIODS",
    "ReportError",
    "Summary",
    "basis",
    "build",
    "document",
    "parse_date",
    "write",
]
