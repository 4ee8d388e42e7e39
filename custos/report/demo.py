"""The demo's step for the work summary: custos/web/demo_tour.py calls demo_report(say)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from django.utils import translation

from custos.paths import home
from custos.report.services import build, render


def demo_report(
    say: Callable[[str], None], out_dir: Path | None = None, as_of: dt.date | None = None
) -> tuple[Path, Path]:
    """Write the summary of the whole book as PDF and XLSX to `out_dir` (default
    CUSTOS_HOME/demo-output) and say where, with its headline figures. Idempotent: it writes the
    files again, as of today."""
    out = Path(out_dir) if out_dir is not None else home() / "demo-output"
    pdf, xlsx = out / "work-summary.pdf", out / "work-summary.xlsx"
    with translation.override("zh-hans"):
        summary = build(as_of)
        render.write(summary, pdf)
        render.write(summary, xlsx)
    f = summary.figures
    rate = "—" if f["untrue_rate"] is None else f"{100 * f['untrue_rate']:.2f}%"
    say(
        f"work summary (清查工作总结) as of {summary.basis.as_of}: {f['checked']:,} policies in scope checked, "
        f"{f['untrue']:,} untrue ({rate}), {f['corrected']:,} corrected, {f['outstanding']:,} outstanding — "
        f"{pdf} and {xlsx}; the page is /report/ (demo_compliance, demo_executive, demo_auditor)"
    )
    return pdf, xlsx
