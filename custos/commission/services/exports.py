"""Approved statements for the payment system: CSV and XLSX, yuan with exactly 2 decimals.

One row per payee of the month, the sums of its statements in the month's approved runs (the first
and any adjustments). `net` may be negative; `carried_in` is the negative balance brought forward
from earlier months and `payable` what the payment system pays (never below 0)."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from django.utils.translation import gettext as _

from custos.commission.models import Entry, SettlementRun, Statement
from custos.commission.services.ledger import CommissionError, check_month, yuan

COLUMNS = (
    "payee_kind",
    "payee",
    "period",
    "due",
    "held",
    "released",
    "deducted",
    "net",
    "carried_in",
    "payable",
)
MONEY = COLUMNS[3:]


def summary_line(run: SettlementRun) -> str:
    st = list(run.statements.all())
    total = {f: yuan(sum(getattr(s, f) for s in st)) for f in MONEY[:-2]}
    return (
        f"settled {run.month} (run {run.seq}): {len(st):,} statements; "
        + ", ".join(f"{k} {v}" for k, v in total.items())
        + f"; payable {yuan(sum(s.payable for s in st))}"
    )


def rows(month: str) -> list[dict]:
    check_month(month)
    runs = SettlementRun.objects.filter(month=month, status=SettlementRun.Status.APPROVED)
    if not runs.exists():
        raise CommissionError(_("%(month)s 没有已审批的佣金结算。") % {"month": month})
    by_payee: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(MONEY, 0))
    for st in Statement.objects.filter(run__in=runs).order_by("payee_kind", "payee", "run__seq"):
        acc = by_payee[(st.payee_kind, st.payee)]
        for f in MONEY:
            acc[f] += getattr(st, f)
    return [
        {"payee_kind": k, "payee": p, "period": month, **{f: yuan(v) for f, v in sums.items()}}
        for (k, p), sums in sorted(by_payee.items())
    ]


def export(month: str, out: Path) -> int:
    data = rows(month)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        with open(out, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for r in data:
                w.writerow([r[c] if c not in MONEY else f"{r[c]:.2f}" for c in COLUMNS])
    elif suffix == ".xlsx":
        _xlsx(month, data, out)
    else:
        raise CommissionError(_("导出文件须以 .csv 或 .xlsx 结尾：%(name)s") % {"name": out.name})
    return len(data)


def _xlsx(month: str, data: list[dict], out: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "statements"
    ws.append(COLUMNS)
    for r in data:
        ws.append([r[c] for c in COLUMNS])  # Decimal: written as its exact decimal text
    for row in ws.iter_rows(min_row=2, min_col=4, max_col=len(COLUMNS)):
        for cell in row:
            cell.number_format = "0.00"
    items = wb.create_sheet("items")
    items.append(("payee_kind", "payee", "run", "kind", "item_no", "policy_no", "amount", "findings"))
    entries = (
        Entry.objects.filter(run__month=month, run__status=SettlementRun.Status.APPROVED)
        .select_related("statement", "run")
        .order_by("statement__payee_kind", "statement__payee", "run__seq", "id")
    )
    for e in entries.iterator(chunk_size=20_000):
        items.append(
            (
                e.statement.payee_kind,
                e.statement.payee,
                e.run.seq,
                e.kind,
                e.item_no,
                e.policy_no,
                yuan(e.amount),
                " ".join(map(str, e.findings)),
            )
        )
        items.cell(row=items.max_row, column=7).number_format = "0.00"
    wb.save(out)
