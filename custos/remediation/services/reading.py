"""Reading for pages and the API: scoped, masked, logged."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone

from custos.domain import masking
from custos.remediation.models import (
    Task,
)
from custos.remediation.services.states import (
    S,
    scoped_tasks,
)

# --- reading (pages, API): scoped, masked, logged -------------------------------------------------


def progress(ctx, *, days: int = 30, today: dt.date | None = None) -> dict:
    """Open / closed / overdue tasks by channel and by branch, and a burn-down of open tasks per day."""
    today = today or timezone.localdate()
    qs = scoped_tasks(ctx)
    counts = {
        "open": Count("id", filter=~Q(status=S.CLOSED)),
        "closed": Count("id", filter=Q(status=S.CLOSED)),
        "overdue": Count("id", filter=~Q(status=S.CLOSED) & Q(due_on__lt=today)),
    }
    by_channel = list(qs.values("channel").annotate(**counts).order_by("channel"))
    by_branch = list(qs.values("branch_code").annotate(**counts).order_by("branch_code"))
    total = qs.aggregate(**counts)
    burn = []
    tz = timezone.get_current_timezone()
    for i in range(days, -1, -1):
        day = today - dt.timedelta(days=i)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        n = qs.filter(created_at__lt=end).filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end)).count()
        burn.append({"day": day.isoformat(), "open": n})
    return {"total": total, "by_channel": by_channel, "by_branch": by_branch, "burndown": burn,
            "branch_tree": branch_tree(by_branch)}  # fmt: skip


def branch_tree(by_branch: list[dict]) -> list[dict]:
    """The branches' counts in the hierarchy (Branch.path), each branch with its whole subtree's
    counts (own tasks and its descendants'), depth-first in path order: head office, a province, its
    cities, … Branches the book does not know are listed last, flat."""
    from custos.book.models import Branch

    own = {r["branch_code"]: r for r in by_branch}
    paths = dict(Branch.objects.values_list("branch_code", "path"))
    names = dict(Branch.objects.values_list("branch_code", "name"))
    rows: dict[str, dict] = {}
    unknown = []
    for code, r in own.items():
        chain = [c for c in (paths.get(code) or "").split("/") if c]
        if not chain:
            unknown.append(
                {"code": code, "name": "", "depth": 0, "parent": "", "path": "", **_zero(), **_of(r)}
            )
            continue
        for i, c in enumerate(chain):
            row = rows.setdefault(c, {"code": c, "name": names.get(c, ""), "depth": i,
                                      "parent": chain[i - 1] if i else "", "path": paths.get(c) or "", **_zero()})  # fmt: skip
            for k in ("open", "closed", "overdue"):
                row[k] += r[k]
    return sorted(rows.values(), key=lambda x: x["path"]) + sorted(unknown, key=lambda x: x["code"])


def _zero() -> dict:
    return {"open": 0, "closed": 0, "overdue": 0}


def _of(r: dict) -> dict:
    return {k: r[k] for k in ("open", "closed", "overdue")}


def progress_workbook(data: dict) -> bytes:
    """Progress by branch (in the hierarchy, subtree totals) and by channel as XLSX: aggregates only,
    never a customer; every text cell through the formula-injection guard."""
    import io

    from django.utils.translation import gettext as _
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from custos.book.labels import code_value
    from custos.domain.spreadsheet import neutralise

    wb = Workbook()
    wb.remove(wb.active)
    counts = [_("未关闭"), _("已关闭"), _("已逾期")]
    sheets = [
        (_("按机构"), [_("机构代码"), _("机构名称"), _("上级机构代码"), _("层级"), *counts],
         [[r["code"], r["name"], r["parent"], r["depth"], r["open"], r["closed"], r["overdue"]]
          for r in data["branch_tree"]]),
        (_("按渠道"), [_("渠道"), *counts],
         [[code_value("channel", r["channel"]) or "—", r["open"], r["closed"], r["overdue"]]
          for r in data["by_channel"]]),
    ]  # fmt: skip
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title)
        ws.append(headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([neutralise(v) if isinstance(v, str) else v for v in row])
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HOLDING = ("missing", "false")  # the finding categories that hold an agent's or outlet's commission
HOLD_LIST = 50


def commission_holds(ctx) -> dict | None:
    """What would hold the viewer's commission: the open missing/false findings on the policies they
    sold (an agent: policies.agent_no is their staff number; partner staff: policies.partner_code is
    their outlet), per policy. None for a viewer who sells nothing. Read-only; the amounts come with
    the commission app (issue 19), which plugs into this dict ("amount" per row, "total_amount")."""
    from custos.book.models import Policy
    from custos.checks.models import Finding

    profile = getattr(ctx, "profile", None)
    if profile is None or not (profile.partner_code or profile.staff_no):
        return None
    sold = Policy.objects.none()
    if profile.partner_code:
        sold = ctx.policies().filter(partner_code=profile.partner_code)
    elif profile.staff_no:
        sold = ctx.policies().filter(agent_no=profile.staff_no, partner_code="")
    sold_nos = sold.values("policy_no")
    if not sold.exists():
        return None
    rows = list(
        Finding.objects.filter(status="open", category__in=HOLDING, policy_no__in=sold_nos)
        .values("policy_no")
        .annotate(n=Count("id"))
        .order_by("-n", "policy_no")
    )
    codes: dict[str, set] = {}
    for pno, code in Finding.objects.filter(
        status="open", category__in=HOLDING, policy_no__in=[r["policy_no"] for r in rows[:HOLD_LIST]]
    ).values_list("policy_no", "check_code"):
        codes.setdefault(pno, set()).add(code)
    for r in rows:
        r["checks"] = " ".join(sorted(codes.get(r["policy_no"], ())))
        r["amount"] = None  # issue 19: the commission held on this policy
    return {"policies": len(rows), "findings": sum(r["n"] for r in rows), "rows": rows[:HOLD_LIST],
            "more": max(len(rows) - HOLD_LIST, 0), "total_amount": None}  # fmt: skip


def read_corrections(ctx, task: Task) -> list[dict]:
    """The task's corrections with old and new values masked; the read is logged first."""
    from custos.access import readlog

    rows = list(task.corrections.select_related("proposed_by", "reviewed_by", "verified_by").order_by("id"))
    readlog.append(user=ctx.user, staff_no=ctx.staff_no, action="task_view", model="correction",
                   record_ids=[c.pk for c in rows], fields=["old_value", "new_value"], client=ctx.client,
                   outcome="ok" if rows else "empty")  # fmt: skip
    out = []
    for c in rows:
        out.append({
            "id": c.pk, "field": c.field, "status": c.status, "status_label": c.get_status_display(),
            "old_value": _mask(c.field, c.old_value), "new_value": _mask(c.field, c.new_value),
            "request_no": c.request_no, "forced": c.forced, "evidence_id": c.evidence_id,
            "proposed_by": c.proposed_by.username, "proposed_at": c.proposed_at,
            "reviewed_by": c.reviewed_by.username if c.reviewed_by else "", "review_note": c.review_note,
            "verified_by": c.verified_by.username if c.verified_by else "", "exported_at": c.exported_at,
            "ack_status": c.ack_status,
        })  # fmt: skip
    return out


def _mask(field_name: str, value: str) -> str:
    if not value:
        return ""
    if field_name in masking.FIELD_MASKS:
        return str(masking.mask_field(field_name, value))
    return value
