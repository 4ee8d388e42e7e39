"""The monthly fines list for payroll: one row per person per upheld case decided in the month (the
offender's row, and their direct supervisor's when jointly liable), amounts in yuan with exactly two
decimals as the case was decided (the schedule then in effect). Waived cases are not on it."""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from custos.discipline.models import Violation
from custos.discipline.services.cases import DisciplineError

COLUMNS = (
    "month",
    "case",
    "decided_on",
    "kind",
    "liability",
    "staff_no",
    "name",
    "branch_code",
    "amount",
    "status",
    "schedule_from",
)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_range(month: str) -> tuple[dt.date, dt.date]:
    if not MONTH.match(month or ""):
        raise DisciplineError(_("月份须为 YYYY-MM：%(m)s") % {"m": month})
    y, m = int(month[:4]), int(month[5:])
    start = dt.date(y, m, 1)
    end = dt.date(y + (m == 12), m % 12 + 1, 1)
    return start, end


def cases(month: str):
    start, end = month_range(month)
    return Violation.objects.filter(
        outcome=Violation.Outcome.UPHELD,
        status__in=[Violation.Status.DECIDED, Violation.Status.PAID],
        decided_on__gte=start,
        decided_on__lt=end,
    ).order_by("decided_on", "id")


def rows(month: str) -> list[dict]:
    from custos.book.models import Staff
    from custos.domain.masking import mask_field

    vs = list(cases(month))
    people = {
        s.staff_no: s
        for s in Staff.objects.filter(
            staff_no__in={n for v in vs for n in (v.staff_no, v.supervisor_no) if n}
        )
    }
    out = []
    for v in vs:
        lines = [("offender", v.staff_no, v.offender_fine)]
        if v.supervisor_no and v.supervisor_fine is not None:
            lines.append(("supervisor", v.supervisor_no, v.supervisor_fine))
        for liability, staff_no, amount in lines:
            s = people.get(staff_no)
            out.append(
                {
                    "month": month,
                    "case": v.pk,
                    "decided_on": v.decided_on.isoformat(),
                    "kind": v.kind,
                    "liability": liability,
                    "staff_no": staff_no,
                    "name": mask_field("name", s.name) if s else "",
                    "branch_code": s.branch_code if s else "",
                    "amount": (amount or Decimal("0")).quantize(Decimal("0.01")),
                    "status": v.status,
                    "schedule_from": v.schedule_from.isoformat() if v.schedule_from else "",
                }
            )
    return out


def total(data: list[dict]) -> Decimal:
    return sum((r["amount"] for r in data), Decimal("0.00"))


def export(month: str, out: Path) -> int:
    """Write the month's list to OUT.csv or OUT.xlsx; returns the number of rows."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise DisciplineError(_("导出文件须以 .csv 或 .xlsx 结尾：%(name)s") % {"name": Path(out).name})
    data = rows(month)
    if suffix == ".csv":
        with open(out, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for r in data:
                w.writerow([f"{r[c]:.2f}" if c == "amount" else r[c] for c in COLUMNS])
    else:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "fines"
        ws.append(COLUMNS)
        for r in data:
            ws.append([r[c] for c in COLUMNS])  # Decimal: its exact decimal value
            ws.cell(row=ws.max_row, column=COLUMNS.index("amount") + 1).number_format = "0.00"
        wb.save(out)
    return len(data)


def summary(as_of: dt.date | None = None) -> dict:
    """Cases and fines for the regulator's work summary: cases proposed up to `as_of` by kind and
    status, and the fines of upheld cases decided up to it (offenders', supervisors', paid, waived),
    exact yuan."""
    qs = Violation.objects.all()
    if as_of is not None:
        qs = qs.filter(proposed_at__date__lte=as_of)
    by_kind = {k: {s: 0 for s in Violation.Status.values} for k in Violation.Kind.values}
    for kind, status in qs.values_list("kind", "status"):
        by_kind[kind][status] += 1
    upheld = qs.filter(outcome=Violation.Outcome.UPHELD)
    if as_of is not None:
        upheld = upheld.filter(decided_on__lte=as_of)
    zero = Decimal("0.00")
    money = {"offender": zero, "supervisor": zero, "paid": zero, "waived": zero}
    for v in upheld:
        amount = (v.offender_fine or zero) + (v.supervisor_fine or zero)
        money["offender"] += v.offender_fine or zero
        money["supervisor"] += v.supervisor_fine or zero
        if v.status == Violation.Status.PAID:
            money["paid"] += amount
        elif v.status == Violation.Status.WAIVED:
            money["waived"] += amount
    return {
        "cases": qs.count(),
        "by_kind": by_kind,
        "upheld": upheld.count(),
        "dismissed": upheld.filter(dismissed=True).count(),
        "fines": money,
    }
