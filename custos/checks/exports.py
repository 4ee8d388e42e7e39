"""The findings dashboard's tables as an XLSX workbook: aggregates only (counts and rates per channel,
branch, check and run), never a customer. Lists of customers leave custos only through an approved
extraction (custos.extraction)."""

from __future__ import annotations

import io

from django.utils import timezone
from django.utils.translation import gettext as _

from custos.domain.spreadsheet import neutralise

RATE_KEYS = ("policies", "untrue", "untrue_rate", "missing", "missing_rate", "false", "false_rate")


def _rate_headers(first: str) -> list[str]:
    return [
        first,
        _("保单数"),
        _("不真实保单"),
        _("不真实率（%）"),
        _("信息缺失"),
        _("缺失率（%）"),
        _("信息虚假"),
        _("虚假率（%）"),
    ]


def _sheet(wb, title: str, headers: list[str], rows: list[list]) -> None:
    from openpyxl.styles import Font

    ws = wb.create_sheet(title)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([neutralise(v) if isinstance(v, str) else v for v in row])
    for i, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[i - 1] or "")) for r in rows]) + 4
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width * 1.6, 60)
    ws.freeze_panes = "A2"


def dashboard_workbook(data: dict, scope_label: str) -> bytes:
    """data: custos.checks.views.dashboard_data (labels already in the viewer's language)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    total = data["total"]
    _sheet(wb, _("总体"), _rate_headers(_("范围")), [[scope_label, *(total[k] for k in RATE_KEYS)]])
    _sheet(
        wb,
        _("分渠道"),
        _rate_headers(_("渠道")),
        [[r["label"], *(r[k] for k in RATE_KEYS)] for r in data["by_channel"]],
    )
    _sheet(
        wb,
        _("分机构"),
        [_("机构代码"), *_rate_headers(_("机构"))],
        [[r["key"], r.get("name") or r["key"], *(r[k] for k in RATE_KEYS)] for r in data["by_branch"]],
    )
    _sheet(
        wb,
        _("各检查项"),
        [_("检查项"), _("类别"), _("严重程度"), _("说明"), _("问题数"), _("涉及保单")],
        [
            [r["check_code"], r["category_label"], r["severity_label"], r["message"], r["n"], r["policies"]]
            for r in data["by_check"]
        ],
    )
    _sheet(
        wb,
        _("历次检查趋势"),
        [_("检查"), _("数据册"), _("完成时间"), *_rate_headers("")[1:]],
        [
            [
                t["run"],
                t["load"],
                timezone.localtime(t["finished_at"]).strftime("%Y-%m-%d %H:%M") if t["finished_at"] else "",
                *(t[k] for k in RATE_KEYS),
            ]
            for t in data["trend"]
        ],
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
