"""Discipline pages: compliance's register, case pages with the evidence and the decision, proposals,
the staff member's own cases and appeal, the monthly fines list for payroll, blacklist nominations.

Every decision is the capability table's (violation.propose, violation.decide, violation.fines); a
case page opens for deciders and for the case's own staff member, and is a 404 for anyone else."""

from __future__ import annotations

import tempfile
from io import BytesIO
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.access.capabilities import can, require
from custos.discipline import services
from custos.discipline.forms import AppealForm, DecideForm, MonthForm, NotifyForm, ProposeForm, WaiveForm
from custos.discipline.models import EvidenceLink, Nomination, Violation
from custos.discipline.services import cases as case_services
from custos.discipline.services import fines

S = Violation.Status


def _filtered(request):
    qs = Violation.objects.all()
    status, kind = request.GET.get("status", ""), request.GET.get("kind", "")
    if status in S.values:
        qs = qs.filter(status=status)
    if kind in Violation.Kind.values:
        qs = qs.filter(kind=kind)
    return qs, status, kind


@login_required
def register(request):
    require(request.user, "violation.decide")
    qs, status, kind = _filtered(request)
    counts = {s: Violation.objects.filter(status=s).count() for s in S.values}
    return render(
        request,
        "discipline/register.html",
        {
            "cases": qs.order_by("-id")[:500],
            "total": qs.count(),
            "statuses": [(v, lbl, counts[v]) for v, lbl in S.choices],
            "kinds": Violation.Kind.choices,
            "status": status,
            "kind": kind,
            "pending_nominations": Nomination.objects.filter(status=Nomination.Status.PROPOSED).count(),
        },
    )


@login_required
@require_POST
def propose_facts(request):
    require(request.user, "violation.decide")
    report = services.propose_from_facts(actor=request.user)
    messages.success(
        request,
        _("已根据现有事实提出 %(n)s 项违规处理建议，补充证据 %(m)s 项。")
        % {"n": sum(report.proposed.values()), "m": sum(report.added.values())},
    )
    return redirect("discipline-register")


@login_required
def new(request):
    require(request.user, "violation.propose")
    pre, source = _prefill(request)
    initial = {"staff_no": request.GET.get("staff_no", "")[:64]}
    if pre is not None:
        initial.update(staff_no=pre.staff_no, kind=pre.kind, summary=pre.summary, source=source)
    form = ProposeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        evidence = []
        if d.get("finding"):
            evidence.append(services.Evidence(EvidenceLink.Kind.FINDING, str(d["finding"])))
        if pre is not None:
            evidence.append(services.Evidence(pre.evidence_kind, pre.ref, pre.note))
        try:
            if pre is not None and d["staff_no"].strip() != pre.staff_no:
                raise services.DisciplineError(_("来源所指的员工是 %(no)s。") % {"no": pre.staff_no})
            v = services.propose_manual(
                request.user, kind=d["kind"], staff_no=d["staff_no"], summary=d["summary"], evidence=evidence
            )
        except services.NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.DisciplineError as exc:
            form.add_error("staff_no", str(exc))
        else:
            if v is None:
                form.add_error("finding", _("这一问题已是该员工某一违规案件的证据。"))
            else:
                messages.success(request, _("已提出违规处理建议 #%(pk)s，待合规人员处理。") % {"pk": v.pk})
                if can(request.user, "violation.decide"):
                    return redirect("discipline-case", pk=v.pk)
                return redirect("discipline-new")
    return render(request, "discipline/new.html", {"form": form, "prefill": pre})


def _prefill(request):
    """(Prefill, source) of ``?source=alert:<id>`` (or the form's hidden field): 404 when the
    source names nothing this user may see; (None, "") without a source."""
    source = (request.POST.get("source") or request.GET.get("source") or "").strip()[:64]
    if not source:
        return None, ""
    from custos.watch.sources import prefill

    pre = prefill(request.user, source)
    if pre is None:
        raise Http404
    return pre, source


def _case_or_404(request, pk: int) -> Violation:
    v = get_object_or_404(Violation, pk=pk)
    if not services.may_see(request.user, v):
        raise Http404
    return v


def _evidence_rows(v: Violation, user) -> list[dict]:
    from custos.audit.models import AuditEntry

    links = list(v.evidence.all())
    audit = {
        str(e.seq): e
        for e in AuditEntry.objects.filter(
            seq__in=[int(x.ref) for x in links if x.kind == EvidenceLink.Kind.AUDIT]
        )
    }
    urls = {
        EvidenceLink.Kind.FINDING: "finding",
        EvidenceLink.Kind.EXTRACTION: "extraction",
        EvidenceLink.Kind.LEAK: "extraction-trace-detail",
        EvidenceLink.Kind.TASK: "remediation:task",
    }
    rows = []
    for link in links:
        url = ""
        if link.kind in urls:
            url = reverse(urls[link.kind], args=[int(link.ref)])
        entry = audit.get(link.ref) if link.kind == EvidenceLink.Kind.AUDIT else None
        rows.append({"link": link, "url": url, "entry": entry})
    return rows


def _history(v: Violation, deciders: bool) -> list[dict]:
    from django.contrib.contenttypes.models import ContentType

    from custos.audit.change_actions import CHANGE_ACTIONS
    from custos.audit.models import ChangeEvent

    ct = ContentType.objects.get_for_model(Violation)
    out = []
    for ev in ChangeEvent.objects.filter(content_type=ct, object_id=str(v.pk)).order_by("seq"):
        out.append(
            {
                "at": ev.at,
                "action": CHANGE_ACTIONS.get(ev.action, ev.action),
                "username": ev.username,
                "reason": ev.reason if deciders else "",
            }
        )
    return out


@login_required
def case(request, pk: int):
    v = _case_or_404(request, pk)
    decider = can(request.user, "violation.decide") and not services.is_own(request.user, v)
    own = services.is_own(request.user, v)
    forms = {
        "notify": NotifyForm(prefix="notify"),
        "decide": DecideForm(prefix="decide", case=v),
        "waive": WaiveForm(prefix="waive"),
        "appeal": AppealForm(prefix="appeal"),
    }
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in forms and action != "paid":
            raise Http404
        try:
            done = _act(request, v, action, forms)
        except services.NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.DisciplineError as exc:
            messages.error(request, str(exc))
            return redirect("discipline-case", pk=v.pk)
        if done:
            return redirect("discipline-case", pk=v.pk)
        v.refresh_from_db()
    from custos.book.models import Staff

    staff = Staff.objects.filter(staff_no=v.staff_no).first()
    return render(
        request,
        "discipline/case.html",
        {
            "v": v,
            "staff": staff,
            "evidence": _evidence_rows(v, request.user),
            "history": _history(v, decider),
            "decider": decider,
            "own": own,
            "forms": forms,
            "may_notify": decider and v.status == S.PROPOSED,
            "may_decide": decider and v.status in (S.PROPOSED, S.NOTIFIED, S.APPEALED),
            "may_close": decider and v.status == S.DECIDED and v.outcome == Violation.Outcome.UPHELD,
            "may_appeal": own and v.status == S.NOTIFIED,
            "total": case_services.total(v),
        },
    )


def _act(request, v: Violation, action: str, forms: dict) -> bool:
    """Run one move from the case page; False when its form has errors (shown beside the fields)."""
    user = request.user
    if action == "paid":
        services.close(v, user, paid=True, note=request.POST.get("note", ""))
        messages.success(request, _("已登记罚款缴纳。"))
        return True
    form_class = {"notify": NotifyForm, "decide": DecideForm, "waive": WaiveForm, "appeal": AppealForm}[
        action
    ]
    kwargs = {"case": v} if action == "decide" else {}
    form = form_class(request.POST, request.FILES or None, prefix=action, **kwargs)
    forms[action] = form
    if not form.is_valid():
        return False
    d = form.cleaned_data
    if action == "notify":
        services.notify(v, user, d.get("note", ""))
        messages.success(request, _("已告知当事员工，其可在线申诉。"))
    elif action == "decide":
        upheld = d["outcome"] == Violation.Outcome.UPHELD
        v = services.decide(v, user, upheld=upheld, reason=d["reason"], dismiss=bool(d.get("dismiss")))
        if v.dismissed:
            messages.success(
                request, _("已决定：解除劳动合同，其账号与接口令牌已停用，已提名行业黑名单待批准。")
            )
        else:
            messages.success(request, _("已作出决定。"))
    elif action == "waive":
        services.close(v, user, paid=False, note=d["note"])
        messages.success(request, _("罚款已免除。"))
    elif action == "appeal":
        services.appeal(v, user, d["note"], d.get("file"))
        messages.success(request, _("申诉已提交，合规人员将作出决定。"))
    return True


@login_required
def appeal_file(request, pk: int):
    from custos.discipline.services import appeals

    v = _case_or_404(request, pk)
    if v.appeal_file is None:
        raise Http404
    f = v.appeal_file
    return FileResponse(
        BytesIO(appeals.read(f)), as_attachment=True, filename=f.filename, content_type=f.content_type
    )


@login_required
def mine(request):
    staff_no = services.own_staff_no(request.user)
    cases = (
        Violation.objects.filter(staff_no=staff_no).order_by("-id") if staff_no else Violation.objects.none()
    )
    return render(request, "discipline/mine.html", {"cases": cases, "staff_no": staff_no})


def _month(request) -> str:
    month = request.GET.get("month") or timezone.localdate().strftime("%Y-%m")
    return month


@login_required
def fines_page(request):
    require(request.user, "violation.fines")
    form = MonthForm(request.GET or {"month": _month(request)})
    rows, month = [], ""
    if form.is_valid():
        month = form.cleaned_data["month"]
        rows = fines.rows(month)
        for r in rows:
            r["kind_label"] = Violation.Kind(r["kind"]).label
    return render(
        request,
        "discipline/fines.html",
        {
            "form": form,
            "month": month,
            "rows": rows,
            "total": fines.total(rows),
            "awaiting": sum(1 for r in rows if r["status"] == S.DECIDED and r["liability"] == "offender"),
        },
    )


@login_required
def fines_export(request, month: str, fmt: str):
    require(request.user, "violation.fines")
    if fmt not in ("csv", "xlsx"):
        raise Http404
    with tempfile.TemporaryDirectory(prefix="custos-fines-") as tmp:
        out = Path(tmp) / f"fines-{month}.{fmt}"
        try:
            fines.export(month, out)
        except services.DisciplineError as exc:
            messages.error(request, str(exc))
            return redirect("discipline-fines")
        data = out.read_bytes()
    return FileResponse(BytesIO(data), as_attachment=True, filename=out.name)


@login_required
@require_POST
def fines_paid(request):
    require(request.user, "violation.fines")
    form = MonthForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("月份须为 YYYY-MM。"))
        return redirect("discipline-fines")
    month = form.cleaned_data["month"]
    n = services.mark_month_paid(month, request.user)
    if n:
        messages.success(request, _("%(month)s 的 %(n)s 件罚款已登记为工资代扣。") % {"month": month, "n": n})
    else:
        messages.info(request, _("%(month)s 没有待缴纳的罚款。") % {"month": month})
    return redirect(f"{reverse('discipline-fines')}?month={month}")


@login_required
def nominations(request):
    require(request.user, "violation.decide")
    return render(
        request,
        "discipline/nominations.html",
        {"nominations": Nomination.objects.select_related("violation")[:500]},
    )


@login_required
@require_POST
def nomination_approve(request, pk: int):
    require(request.user, "violation.decide")
    n = get_object_or_404(Nomination, pk=pk)
    try:
        services.approve_nomination(n, request.user, request.POST.get("note", ""))
    except services.DisciplineError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("黑名单提名已批准，将报送行业协会。"))
    return redirect("discipline-nominations")
