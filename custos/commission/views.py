"""Commission pages: finance settles and approves months; compliance and auditors read them; agents
and partner outlets read their own statements. Figures in yuan, exact."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.access.capabilities import can, require
from custos.commission import services
from custos.commission.models import Entry, SettlementRun, Statement
from custos.commission.services import exports
from custos.commission.services.payees import own_payee

MONEY = ("due", "held", "released", "deducted", "net", "carried_in", "payable")


def _yuan(st: Statement) -> dict:
    return {f: services.yuan(getattr(st, f)) for f in MONEY}


@login_required
def runs(request):
    require(request.user, "commission.view")
    rows = []
    for run in SettlementRun.objects.order_by("-month", "-seq")[:120]:
        st = list(run.statements.all())
        rows.append(
            {
                "run": run,
                "statements": len(st),
                **{f: services.yuan(sum(getattr(s, f) for s in st)) for f in MONEY},
            }
        )
    return render(
        request,
        "commission/runs.html",
        {"rows": rows, "can_settle": can(request.user, "commission.approve")},
    )


@login_required
@require_POST
def settle(request):
    require(request.user, "commission.approve")
    month = (request.POST.get("month") or "").strip()
    try:
        run = services.settle(month, actor=request.user)
    except services.CommissionError as exc:
        messages.error(request, str(exc))
        return redirect("commission-runs")
    if run is None:
        messages.info(request, _("%(month)s 没有新的需要结算的事项。") % {"month": month})
        return redirect("commission-runs")
    messages.success(request, _("已编制 %(month)s 的佣金结算，待另一位财务人员审批。") % {"month": month})
    return redirect("commission-run", pk=run.pk)


@login_required
def run_detail(request, pk: int):
    require(request.user, "commission.view")
    run = get_object_or_404(SettlementRun, pk=pk)
    statements = [{"st": st, **_yuan(st)} for st in run.statements.order_by("payee_kind", "payee")]
    may_approve = (
        run.status == SettlementRun.Status.PREPARED
        and can(request.user, "commission.approve")
        and run.prepared_by_id != request.user.pk
    )
    return render(
        request,
        "commission/run.html",
        {"run": run, "statements": statements, "may_approve": may_approve},
    )


@login_required
@require_POST
def approve(request, pk: int):
    require(request.user, "commission.approve")
    run = get_object_or_404(SettlementRun, pk=pk)
    try:
        services.approve(run, request.user)
    except services.CommissionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("结算已审批：结算单不可再修改，可导出给支付系统。"))
    return redirect("commission-run", pk=pk)


@login_required
def export(request, month: str, fmt: str):
    """The month's approved statements for the payment system (payees and sums, no customer data)."""
    require(request.user, "commission.view")
    if fmt not in ("csv", "xlsx"):
        raise Http404
    with tempfile.TemporaryDirectory(prefix="custos-commission-") as tmp:
        out = Path(tmp) / f"commission-{month}.{fmt}"
        try:
            exports.export(month, out)
        except services.CommissionError as exc:
            messages.error(request, str(exc))
            return redirect("commission-runs")
        data = out.read_bytes()
    from io import BytesIO

    return FileResponse(BytesIO(data), as_attachment=True, filename=out.name)


@login_required
def statement(request, pk: int):
    st = get_object_or_404(Statement.objects.select_related("run"), pk=pk)
    if not can(request.user, "commission.view") and own_payee(request.user) != (st.payee_kind, st.payee):
        raise PermissionDenied(_("您的角色不能访问此页面。"))
    entries = [
        {"e": e, "amount": services.yuan(e.amount)}
        for e in Entry.objects.filter(statement=st).order_by("kind", "item_no", "id")
    ]
    return render(request, "commission/statement.html", {"st": st, "money": _yuan(st), "entries": entries})


@login_required
def mine(request):
    require(request.user, "commission.own")
    payee = own_payee(request.user)
    statements = []
    held = None
    if payee is not None:
        qs = Statement.objects.filter(payee_kind=payee[0], payee=payee[1]).select_related("run")
        statements = [{"st": st, **_yuan(st)} for st in qs.order_by("-run__month", "-run__seq")[:60]]
        held = services.held_items(*payee)
    return render(request, "commission/mine.html", {"payee": payee, "statements": statements, "held": held})
