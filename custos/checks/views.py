"""Findings pages: dashboard (the regulator's rates, counts by check, trend), list and one finding.

Thin: parse the request, call custos.checks.services, render. Every page works on the findings of the
viewer's scope (the access service); values are masked; list and finding pages log the read first and
show nothing if the read cannot be logged.
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from custos.access.service import AccessContext, ReadLogUnavailable
from custos.book import labels
from custos.book.models import Branch
from custos.checks import services
from custos.checks.models import CheckRun, Finding
from custos.core.params import id_param
from custos.domain import codes

PAGE_SIZE = 50


def _channel_label(code: str) -> str:
    """The channel's name in the viewer's language (银保 / Bancassurance), never the bare code."""
    if not code:
        return _("（无渠道）")
    return str(labels.code_value("channel", code))


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _display(row: dict) -> None:
    """The labels a page shows for a finding's role, field, channel and (code-valued) value."""
    row["role_label"] = labels.label(labels.ROLE_LABELS, row["role"])
    row["field_label"] = (
        _("（整张保单）") if row["field"] == "policy" else labels.label(labels.FIELD_LABELS, row["field"])
    )
    row["value_label"] = labels.code_value(row["field"], row["value"])
    row["channel_label"] = _channel_label(row["channel"]) if row.get("channel") else ""


def _message(row: dict) -> str:
    return (row.get("message_en") if get_language() == "en" else row.get("message_zh")) or ""


def _root(request, ctx) -> str | None:
    """The branch the dashboard is about: ?branch= or the viewer's own branch (None: the whole scope)."""
    return (
        request.GET.get("branch", "").strip()[:64] or (ctx.profile.branch_code if ctx.profile else "") or None
    )


def _trail(root: str | None, own: str) -> list[dict]:
    """The branches from the viewer's own level (the head office when they have none) down to root,
    for the drill-down's trail of links."""
    if not root:
        return []
    path = Branch.objects.filter(branch_code=root).values_list("path", flat=True).first() or f"/{root}/"
    chain = [c for c in path.split("/") if c]
    if own in chain:
        chain = chain[chain.index(own) :]
    names = dict(Branch.objects.filter(branch_code__in=chain).values_list("branch_code", "name"))
    return [{"code": c, "name": names.get(c, c)} for c in chain]


def dashboard_data(ctx, root: str | None) -> dict:
    """Every aggregate of the dashboard, for the viewer's scope ∩ root's subtree: the tiles (total),
    the channel and branch tables, the open findings by check and the trend. The page and its XLSX
    export both show this."""
    by_channel = services.rates_by(ctx, "channel", branch_root=root)
    for r in by_channel:
        r["label"] = _channel_label(r["key"])
    by_branch = services.rates_by(ctx, "branch", branch_root=root)
    has_children = set(
        Branch.objects.exclude(parent_code="").values_list("parent_code", flat=True).distinct()
    )
    heads = list(Branch.objects.filter(parent_code="").values_list("branch_code", flat=True)[:2])
    top = root or (heads[0] if len(heads) == 1 else None)
    for r in by_branch:
        r["drill"] = r["key"] in has_children and r["key"] != top
    total = services._rates(
        sum(r["policies"] for r in by_channel),
        sum(r["missing"] for r in by_channel),
        sum(r["false"] for r in by_channel),
        sum(r["untrue"] for r in by_channel),
    )
    open_findings = services.in_subtree(
        services.scoped_findings(ctx).filter(status=Finding.Status.OPEN), root
    )
    by_check = services.counts_by_check(open_findings)
    for r in by_check:
        r["message"] = _message(r)
        r["category_label"] = _label(Finding.Category, r["category"])
        r["severity_label"] = _label(Finding.Severity, r["severity"])
    return {
        "total": total,
        "by_channel": by_channel,
        "by_branch": by_branch,
        "by_check": by_check,
        "trend": services.trend(ctx, branch_root=root),
    }


@login_required
def dashboard(request):
    ctx = AccessContext.for_request(request)
    root = _root(request, ctx)
    data = dashboard_data(ctx, root)
    by_channel, trend = data["by_channel"], data["trend"]
    chart = {
        "channels": [r["label"] for r in by_channel],
        "channel_rates": {k: [r[k + "_rate"] for r in by_channel] for k in ("untrue", "missing", "false")},
        "trend_runs": [f"#{t['run']}" for t in trend],
        "trend": {k: [t[k + "_rate"] for t in trend] for k in ("untrue", "missing", "false")},
        "labels": {"untrue": _("不真实率"), "missing": _("信息缺失率"), "false": _("信息虚假率")},
    }
    own = ctx.profile.branch_code if ctx.profile else ""
    trail = _trail(root, own)
    return render(
        request,
        "checks/dashboard.html",
        {
            **data,
            "branch_root": Branch.objects.filter(branch_code=root).first() if root else None,
            "root": root or "",
            "trail": trail,
            "chart": chart,
            "last_run": CheckRun.objects.filter(status=CheckRun.Status.DONE).select_related("load").first(),
        },
    )


@login_required
def dashboard_export(request):
    """The dashboard's tables (aggregates only) as XLSX, for the same scope and branch as the page."""
    from custos.checks.exports import dashboard_workbook

    ctx = AccessContext.for_request(request)
    root = _root(request, ctx)
    branch = Branch.objects.filter(branch_code=root).first() if root else None
    label = f"{branch.name} {branch.branch_code}" if branch else (root or _("您的全部权限范围"))
    data = dashboard_workbook(dashboard_data(ctx, root), label)
    code = re.sub(r"[^A-Za-z0-9_-]", "", branch.branch_code) if branch else "all"
    name = f"findings-dashboard-{code or 'branch'}-{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


FILTER_KEYS = (*services.FILTERS, *services.FILTERS_INT)


@login_required
def finding_list(request):
    ctx = AccessContext.for_request(request)
    params = {k: request.GET.get(k, "").strip() for k in FILTER_KEYS}
    params["status"] = params["status"] if params["status"] in ("open", "closed", "all") else "open"
    for k in services.FILTERS_INT:  # a bad id is a 400 that names it (custos.core.params)
        value = id_param(request.GET, k)
        params[k] = "" if value is None else str(value)
    qs = services.filter_findings(services.scoped_findings(ctx), params).order_by("-id")
    paginator = Paginator(qs.values_list("pk", flat=True), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    try:
        rows = services.read_findings(
            ctx, Finding.objects.filter(pk__in=list(page.object_list)).order_by("-id"), action="list"
        )
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    explained = {}
    for r in rows:
        if r["check_code"] not in explained:
            explained[r["check_code"]] = _message(services.explain(r["check_code"]))
        r["message"] = explained[r["check_code"]]
        _display(r)
        r["category_label"] = _label(Finding.Category, r["category"])
        r["severity_label"] = _label(Finding.Severity, r["severity"])
        r["status_label"] = _label(Finding.Status, r["status"])
    query = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return render(
        request,
        "checks/list.html",
        {
            "rows": rows,
            "page": page,
            "params": params,
            "query": query,
            "count": paginator.count,
            "categories": Finding.Category.choices,
            "severities": Finding.Severity.choices,
            "statuses": [*Finding.Status.choices, ("all", _("全部"))],
            "channels": [(c, _channel_label(c)) for c in codes.CHANNEL],
            "watermark": True,
        },
    )


@login_required
def finding_detail(request, pk: int):
    ctx = AccessContext.for_request(request)
    try:
        rows = services.read_findings(ctx, Finding.objects.filter(pk=pk), action="detail")
        if not rows:
            ctx.log_denied("detail", "finding", ["value"])
            raise Http404(_("未找到该问题记录，或不在您的查看范围内。"))
        f = rows[0]
        others = services.read_findings(
            ctx,
            Finding.objects.filter(policy_no=f["policy_no"], role=f["role"], seq=f["seq"])
            .exclude(pk=pk)
            .order_by("status", "-id"),
            action="detail",
        )
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    for r in [f, *others]:
        r["category_label"] = _label(Finding.Category, r["category"])
        r["severity_label"] = _label(Finding.Severity, r["severity"])
        r["status_label"] = _label(Finding.Status, r["status"])
        r["message"] = _message(services.explain(r["check_code"]))
        _display(r)
    explanation = services.explain(f["check_code"])
    links = _links(ctx, f)
    runs = {
        r.pk: r
        for r in CheckRun.objects.filter(
            pk__in=[f["opened_run_id"], f["last_seen_run_id"], f["closed_run_id"]]
        )
    }
    return render(
        request,
        "checks/detail.html",
        {
            "f": f,
            "explanation": explanation,
            "message": _message(explanation),
            "others": others,
            "opened_run": runs.get(f["opened_run_id"]),
            "last_seen_run": runs.get(f["last_seen_run_id"]),
            "closed_run": runs.get(f["closed_run_id"]),
            "close_reason_label": _label(Finding.CloseReason, f["close_reason"]) if f["close_reason"] else "",
            "detail": services.describe_detail(f["detail"]),
            **links,
            "watermark": True,
        },
    )


def _links(ctx, f: dict) -> dict:
    """Where the finding leads, each only where the viewer may follow it: the customer (the lookup page
    of the access service, by policy), the remediation task that holds the finding (or the party's
    latest task), and unmasking the finding's field."""
    from custos.access import unmask
    from custos.access.capabilities import can

    out: dict = {"lookup_policy": f["policy_no"], "task_id": None, "unmask_party": None}
    if can(ctx, "task.work"):
        from custos.remediation.models import Task, TaskFinding
        from custos.remediation.services import scoped_tasks

        tasks = scoped_tasks(ctx)
        task = tasks.filter(
            pk__in=TaskFinding.objects.filter(finding_id=f["id"]).values("task_id")
        ).first() or (
            tasks.filter(policy_no=f["policy_no"], role=f["role"], seq=f["seq"]).order_by("-id").first()
        )
        out["task_id"] = task.pk if isinstance(task, Task) else None
    if f["field"] in unmask.UNMASKABLE_FIELDS and f["role"] != "policy" and can(ctx, "unmask"):
        out["unmask_party"] = (
            ctx.parties()
            .filter(policy_no=f["policy_no"], role=f["role"], seq=f["seq"], gone_load__isnull=True)
            .order_by("-id")
            .values_list("pk", flat=True)
            .first()
        )
    return out
