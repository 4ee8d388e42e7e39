"""Remediation pages: my tasks, my team's tasks, a task, bulk assignment, letters, progress.

Thin: parse, call custos.remediation.services, render. Personal data only through the access service
(masked, logged); pages that show it carry the screen watermark."""

import re
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render as _render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access.capabilities import can, capabilities_of
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.book.labels import FIELD_LABELS, ROLE_LABELS, code_value
from custos.book.labels import label as _label
from custos.book.models import Party
from custos.checks.services import read_findings
from custos.remediation import letters as letters_mod
from custos.remediation import services as svc
from custos.remediation.models import ContactAttempt, Correction, Notice, Sample, Task
from custos.remediation.notes import event_note

PAGE = 100


def remediation_page(view, capability: str = "task.work"):
    """Signed in, and of a role that works remediation tasks (capability task.work, or the one given);
    others get 403. The request's AccessContext is made once (request.custos_ctx) and used by the view."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        ctx = AccessContext.for_request(request)
        if not can(ctx, capability):
            raise PermissionDenied(_("您的角色不使用整改任务。"))
        request.custos_ctx = ctx
        return view(request, *args, **kwargs)

    return wrapper


def progress_page(view):
    """Remediation progress: read-only, also for the auditor (capability task.progress)."""
    return remediation_page(view, "task.progress")


# The sub-navigation: each link with the capability its page needs (custos/access/capabilities.py);
# a role sees only the links it can follow (capabilities_of: what `can` answers, for all at once).
SUBNAV = (
    (gettext_lazy("我的任务"), "remediation:mine", "task.work"),
    (gettext_lazy("团队任务"), "remediation:team", "task.work"),
    (gettext_lazy("批量指派"), "remediation:assign", "task.assign"),
    (gettext_lazy("信函批次"), "remediation:letters", "task.work"),
    (gettext_lazy("整改进度"), "remediation:progress", "task.progress"),
    (gettext_lazy("抽检"), "remediation:samples", "task.work"),
)


def subnav(request) -> list[tuple[str, str, bool]]:
    """(label, url, current) of the sub-navigation links this user's capabilities allow."""
    from django.urls import reverse

    caps = capabilities_of(_ctx(request))  # two queries, whatever the number of links
    here = getattr(getattr(request, "resolver_match", None), "view_name", "")
    return [(label, reverse(name), here == name) for label, name, cap in SUBNAV if cap in caps]


def render(request, template, context=None, status=None):
    return _render(request, template, {**(context or {}), "subnav": subnav(request)}, status=status)


def _ctx(request) -> AccessContext:
    return getattr(request, "custos_ctx", None) or AccessContext.for_request(request)


def _list(request, qs, title, team=False, notices=(), holds=None):
    status = request.GET.get("status", "active")
    if status == "active":
        qs = qs.exclude(status=Task.Status.CLOSED)
    elif status in Task.Status.values:
        qs = qs.filter(status=status)
    qs = qs.select_related("assignee").only(
        "id", "policy_no", "role", "seq", "status", "checks", "open_findings", "due_on", "channel",
        "branch_code", "escalation", "assignee__username",
    ).order_by("due_on", "id")  # fmt: skip
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "remediation/tasks.html", {"page": page, "title": title, "team": team,
                  "status": status, "statuses": Task.Status.choices, "notices": notices, "holds": holds})  # fmt: skip


@remediation_page
def my_tasks(request):
    ctx = _ctx(request)
    tasks = svc.scoped_tasks(ctx)
    # reminders and escalations sent to me (of tasks still in my scope), the latest ten
    notices = list(Notice.objects.filter(recipient=request.user, task__in=tasks).select_related("task")[:10])
    return _list(request, tasks.filter(assignee=request.user), _("我的任务"), notices=notices,
                 holds=svc.commission_holds(ctx))  # fmt: skip


@remediation_page
def team_tasks(request):
    """Every task in my scope — the same tasks the progress page counts, so the two agree (its 未关闭
    is this list's 处理中). It was once "my reports' tasks" for roles without task.assign, which
    showed an executive 0 beside the progress page's 1,265."""
    return _list(request, svc.scoped_tasks(_ctx(request)), _("团队任务"), team=True)


def _task_or_404(request, pk):
    try:
        return svc.task_for(_ctx(request), pk)
    except Task.DoesNotExist:
        raise Http404 from None


ACTION_LABELS = {
    "create": gettext_lazy("创建"), "transition": gettext_lazy("状态变更"), "assign": gettext_lazy("指派"), "remind": gettext_lazy("到期提醒"),
    "escalate": gettext_lazy("逾期升级"), "close": gettext_lazy("关闭"), "review": gettext_lazy("复核"), "sample_failed": gettext_lazy("抽检不通过"),
    "ack_rejected": gettext_lazy("核心系统退回"),
}  # fmt: skip


@remediation_page
def task_detail(request, pk: int, kept: dict | None = None, status: int = 200):
    task = _task_or_404(request, pk)
    ctx = _ctx(request)
    try:
        party = ctx.read_parties(Party.objects.filter(policy_no=task.policy_no, role=task.role, seq=task.seq),
                                 action="task_view", limit=1)  # fmt: skip
        findings = read_findings(
            ctx, svc.Finding.objects.filter(pk__in=task.links.values("finding_id")), "task_view"
        )
        corrections = svc.read_corrections(ctx, task)
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    for row in (*findings, *corrections):
        row["field_label"] = _label(FIELD_LABELS, row["field"])
    _review_checks(task, corrections)
    finding_statuses = dict(svc.Finding.Status.choices)
    for row in findings:
        row["status_label"] = _label(finding_statuses, row["status"])
    events = list(task.events.select_related("actor"))
    statuses = dict(Task.Status.choices)
    for e in events:
        e.action_label = _label(ACTION_LABELS, e.action)
        e.from_label, e.to_label = _label(statuses, e.from_status), _label(statuses, e.to_status)
        e.note = event_note(e.reason, e.action)
    return render(request, "remediation/task.html", {
        "task": task, "role_label": _label(ROLE_LABELS, task.role),
        "party": [(_label(FIELD_LABELS, k), code_value(k, v)) for k, v in party[0].items()] if party else None,
        "findings": findings, "corrections": corrections, "events": events,
        "attempts": task.attempts.select_related("by"),
        "methods": ContactAttempt.Method.choices, "outcomes": ContactAttempt.Outcome.choices,
        "fields": [(f, _label(FIELD_LABELS, f)) for f in svc.EDITABLE_FIELDS], "kept": kept or {}, "watermark": True,
        "needs_request": [f for f in svc.conf.get("contact_fields") if svc.needs_request_no(task, f)],
        "closing": _closing(task, findings, corrections),
    }, status=status)  # fmt: skip


def _review_checks(task, corrections) -> None:
    """What the checks say about each proposed value, for its reviewer: the findings it would raise
    (code and reason, never the value), or none."""
    pending = {r["id"]: r for r in corrections if r["status"] == Correction.Status.PROPOSED}
    for c in Correction.objects.filter(pk__in=pending):
        try:
            found = svc.objections(task.policy_no, task.role, task.seq, c.field, c.new_value)
            pending[c.pk]["checks"] = [f"{o.code} {o.message}" for o in found if o.blocking]
            pending[c.pk]["warnings"] = [
                f"{o.code} {_label(FIELD_LABELS, o.field)}: {o.message}" for o in found if not o.blocking
            ]
        except svc.RemediationError as exc:
            pending[c.pk]["checks"] = [exc.localized()]
        pending[c.pk]["checked"] = True


def _closing(task, findings, corrections) -> dict:
    """Whether a person may close the task now, and if not, what must happen first (the server
    refuses a close while a finding of the task is open: close_task)."""
    open_findings = sum(1 for f in findings if f["status"] == "open")
    verified = [c for c in corrections if c["status"] == Correction.Status.VERIFIED]
    return {
        "may": task.status == Task.Status.VERIFIED and open_findings == 0,
        "open_findings": open_findings,
        "verified": len(verified),
        "exported": sum(1 for c in verified if c["exported_at"]),
        "accepted": sum(1 for c in verified if c["ack_status"] == "accepted"),
    }


def _act(request, pk, fn):
    """Run fn(task); a refusal re-renders the task with the message and the form filled with what
    this request carried — only that: a value read on the server (identity's proposed value, a
    correction's new value) goes back by reference (proposed_from), never in clear (issue 16)."""
    task = _task_or_404(request, pk)
    try:
        fn(task)
    except svc.RemediationError as exc:
        messages.error(request, exc.localized())
        return task_detail(request, pk, kept=dict(request.POST.items()), status=exc.status)
    messages.success(request, _("已保存。"))
    return redirect("remediation:task", pk=pk)


def _version(request) -> int | None:
    """The task version the form was rendered with; absent means no check. Anything but a whole
    number 0..MAX_VERSION (-1, "abc", 10**30) is refused with a 400, never read as "no version"."""
    v = request.POST.get("version", "")
    if v == "":
        return None
    if not re.fullmatch(r"[0-9]{1,10}", v):
        svc.check_version(-1)  # raises BadVersion, the one message for page, API and command
    svc.check_version(int(v))
    return int(v)


MAX_ID = 2**31 - 1


def _task_ids(values) -> list[int]:
    """Task numbers typed or ticked in a form: whole numbers 1..MAX_ID, or a 400 saying so."""
    ids = []
    for v in values:
        if not re.fullmatch(r"[0-9]{1,10}", v) or not 0 < int(v) <= MAX_ID:
            raise svc.RemediationError(
                _("任务编号须是 1 到 %(max)d 之间的整数：%(value)s。") % {"max": MAX_ID, "value": v[:20]}
            )
        ids.append(int(v))
    return ids


@remediation_page
@require_POST
def add_attempt(request, pk):
    p = request.POST
    return _act(request, pk, lambda t: svc.record_attempt(
        t, request.user, p.get("method", ""), p.get("contact", ""), p.get("outcome", ""), p.get("note", ""),
        version=_version(request)))  # fmt: skip


@remediation_page
@require_POST
def propose(request, pk):
    p = request.POST

    def go(task):
        version = _version(request)
        evidence = None
        f = request.FILES.get("evidence")
        if f is not None:
            if f.size > int(svc.conf.get("evidence_max_bytes")):
                raise svc.EvidenceRejected(_("证明文件过大。"))
            evidence = svc.store_evidence(f.name, f.read(), request.user)
        field, value = p.get("field", ""), p.get("new_value", "")
        if p.get("proposed_from"):  # identity's proposed value, read on the server
            field, value = svc.proposed_fill(task, p["proposed_from"])
        svc.propose_correction(task, request.user, field, value, request_no=p.get("request_no", ""),
                               evidence=evidence, note=p.get("note", ""), version=version)  # fmt: skip

    return _act(request, pk, go)


@remediation_page
@require_POST
def review(request, pk, cid):
    c = Correction.objects.filter(pk=cid, task_id=pk).first()
    if c is None:
        raise Http404
    approve = request.POST.get("decision") == "approve"
    return _act(request, pk, lambda t: svc.review_correction(c, request.user, approve=approve,
                                                               note=request.POST.get("note", "")))  # fmt: skip


@remediation_page
@require_POST
def verify(request, pk):
    p = request.POST
    return _act(request, pk, lambda t: svc.verify_task(t, request.user, contact=p.get("contact", ""),
                success=p.get("success") == "1", note=p.get("note", ""), version=_version(request)))  # fmt: skip


@remediation_page
@require_POST
def close(request, pk):
    return _act(request, pk, lambda t: svc.close_task(t, request.user, request.POST.get("reason", ""),
                                                        version=_version(request)))  # fmt: skip


@remediation_page
def evidence(request, pk, cid):
    task = _task_or_404(request, pk)
    c = (
        Correction.objects.filter(pk=cid, task=task, evidence__isnull=False)
        .select_related("evidence")
        .first()
    )
    if c is None:
        raise Http404
    from custos.access import readlog

    ctx = _ctx(request)
    # An evidence file is a scan of what the customer signed, in clear: the reviewers of corrections
    # (four eyes need it) and the person who uploaded it, nobody else (docs/remediation.md).
    if not (can(ctx, "task.review") or c.evidence.uploaded_by_id == request.user.pk):
        raise PermissionDenied(_("证明材料只有复核人员和上传人可以查看。"))
    try:
        readlog.append(user=request.user, staff_no=ctx.staff_no, action="evidence", model="evidence",
                       record_ids=[c.evidence_id], fields=["file"], client=ctx.client)  # fmt: skip
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    resp = HttpResponse(svc.open_evidence(c.evidence), content_type=c.evidence.content_type)
    resp["Content-Disposition"] = "inline"
    return resp


@remediation_page
def assign(request):
    ctx = _ctx(request)
    if not can(ctx, "task.assign"):
        raise PermissionDenied(_("只有管理人员可以批量指派任务。"))
    if request.method == "POST":
        p = request.POST
        user = get_user_model().objects.filter(username=p.get("to", "")).first()
        try:
            if p.get("matching"):  # every open task matching the list's filter, not only the ticked ones
                ids = list(_assign_filter(svc.scoped_tasks(ctx), p).exclude(status=Task.Status.CLOSED)
                           .values_list("id", flat=True)[:ASSIGN_MAX])  # fmt: skip
            else:
                ids = _task_ids(p.getlist("task"))
        except svc.RemediationError as exc:  # not task numbers: nothing to reassign, say why
            messages.error(request, exc.localized())
            return _assign_page(request, ctx, status=400)
        try:
            if user is None:
                raise svc.RemediationError(_("找不到该用户。"))
            n = svc.reassign(ids, user, request.user, p.get("reason", ""))
            messages.success(request, _("已指派 %(n)d 个任务。") % {"n": n})
        except svc.RemediationError as exc:
            messages.error(request, exc.localized())
        return redirect("remediation:assign")
    return _assign_page(request, ctx)


def _assign_page(request, ctx, status: int = 200):
    qs = _assign_filter(svc.scoped_tasks(ctx), request.GET).exclude(status=Task.Status.CLOSED)
    page = Paginator(qs.select_related("assignee").order_by("due_on", "id"), PAGE).get_page(
        request.GET.get("page")
    )
    filters = {k: request.GET.get(k, "") for k in ("unassigned", "assignee", "channel", "branch")}
    return render(request, "remediation/assign.html", {
        "page": page, "f": filters, "query": urlencode({k: v for k, v in filters.items() if v}), "max": ASSIGN_MAX,
    }, status=status)  # fmt: skip


ASSIGN_MAX = 5000  # tasks reassigned at once by "all matching"


def _assign_filter(qs, params):
    """The bulk assignment list's filter: unassigned only, or one assignee; channel; branch."""
    if params.get("unassigned"):
        qs = qs.filter(assignee__isnull=True)
    elif params.get("assignee"):
        qs = qs.filter(assignee__username=params["assignee"])
    if params.get("channel"):
        qs = qs.filter(channel=params["channel"])
    if params.get("branch"):
        qs = qs.filter(branch_code=params["branch"])
    return qs


@remediation_page
def letters(request):
    ctx = _ctx(request)
    if request.method == "POST":
        try:
            if request.POST.get("kind") == "partner":
                fmt = "xlsx" if request.POST.get("format") == "xlsx" else "pdf"
                batch, data = letters_mod.partner_notice(
                    ctx, request.POST.get("partner", ""), request.user, fmt
                )
                ctype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
                         else "application/pdf")  # fmt: skip
            else:
                try:
                    ids = _task_ids(request.POST.get("tasks", "").replace(",", " ").split())
                except svc.RemediationError as exc:  # not task numbers: a 400 with the page and why
                    messages.error(request, exc.localized())
                    return _letters_page(request, ctx, status=400)
                if not ids:
                    ids = list(svc.scoped_tasks(ctx).filter(assignee=request.user).exclude(status="closed")
                               .values_list("id", flat=True)[:200])  # fmt: skip
                batch, data = letters_mod.customer_letters(ctx, ids, request.user)
                fmt, ctype = "pdf", "application/pdf"
        except svc.RemediationError as exc:
            messages.error(request, exc.localized())
            return redirect("remediation:letters")
        except ReadLogUnavailable:
            return render(request, "web/audit_unavailable.html", status=503)
        resp = HttpResponse(data, content_type=ctype)
        resp["Content-Disposition"] = f'attachment; filename="letters-{batch.pk}.{fmt}"'
        return resp
    return _letters_page(request, ctx)


def _letters_page(request, ctx, status: int = 200):
    from custos.remediation.models import LetterBatch

    return render(request, "remediation/letters.html", {
        "partners": letters_mod.partners_with_open_tasks(ctx),
        "batches": LetterBatch.objects.filter(created_by=request.user).order_by("-id")[:20],
    }, status=status)  # fmt: skip


@progress_page
def progress(request):
    ctx = _ctx(request)
    data = svc.progress(ctx)
    return render(request, "remediation/progress.html", {"p": data, "burndown": data["burndown"]})


@progress_page
def progress_export(request):
    """Progress by branch and channel as XLSX: aggregates only (no customer)."""
    from custos.remediation.services.reading import progress_workbook

    data = svc.progress(_ctx(request))
    resp = HttpResponse(progress_workbook(data),
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip
    resp["Content-Disposition"] = 'attachment; filename="remediation-progress.xlsx"'
    return resp


@remediation_page
def samples(request):
    """抽检: the samples of tasks in my scope, pending first; compliance draws a share at random."""
    ctx = _ctx(request)
    if request.method == "POST":
        try:
            raw = request.POST.get("share", "").strip()
            try:
                share = float(raw) / 100 if raw else None
            except ValueError:
                raise svc.RemediationError(_("抽检比例须是 0 到 100 之间的数字。")) from None
            n = len(svc.draw_samples(request.user, share=share, scope=ctx))
            messages.success(request, _("已抽取 %(n)d 个任务。") % {"n": n})
        except svc.RemediationError as exc:
            messages.error(request, exc.localized())
        return redirect("remediation:samples")
    qs = (
        Sample.objects.filter(task__in=svc.scoped_tasks(ctx))
        .select_related("task", "closer", "checked_by")
        .order_by("-result", "-drawn_at", "-id")  # pending, then passed/failed
    )
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "remediation/samples.html", {
        "page": page, "may_draw": can(ctx, "sample.draw"), "may_check": can(ctx, "sample.check"),
    })  # fmt: skip


@remediation_page
@require_POST
def sample_result(request, pk: int):
    sample = (
        Sample.objects.filter(pk=pk, task__in=svc.scoped_tasks(_ctx(request))).select_related("task").first()
    )
    if sample is None:
        raise Http404
    try:
        svc.record_sample(sample, request.user, passed=request.POST.get("result") == "passed",
                          note=request.POST.get("note", ""))  # fmt: skip
        messages.success(request, _("已保存。"))
    except svc.RemediationError as exc:
        messages.error(request, exc.localized())
    return redirect("remediation:samples")


@remediation_page
def letter_batch(request, pk: int):
    """Download a letter batch again (for printing): generated anew from the batch's tasks, through the
    access service (masked, logged); only the person who made the batch."""
    from custos.remediation.models import LetterBatch

    batch = LetterBatch.objects.filter(pk=pk, created_by=request.user).first()
    if batch is None:
        raise Http404
    ctx = _ctx(request)
    try:
        if batch.kind == LetterBatch.Kind.PARTNER:
            fmt = "xlsx" if request.GET.get("format") == "xlsx" else "pdf"
            _, data = letters_mod.partner_notice(ctx, batch.partner_code, request.user, fmt, batch=batch)
        else:
            fmt = "pdf"
            _, data = letters_mod.customer_letters(ctx, batch.task_ids, request.user, batch=batch)
    except svc.RemediationError as exc:
        messages.error(request, exc.localized())
        return redirect("remediation:letters")
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    ctype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
             else "application/pdf")  # fmt: skip
    resp = HttpResponse(data, content_type=ctype)
    resp["Content-Disposition"] = f'attachment; filename="letters-{batch.pk}.{fmt}"'
    return resp
