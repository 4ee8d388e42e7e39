"""Extraction pages: new request, my requests, the executives' approvals queue, compliance's list of
all extractions, one extraction with its history and actions, and the leak traces (upload, then a
page that follows the trace job).

Thin: parse, call custos.extraction.services, render. An extraction the viewer may not see is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from custos.access.capabilities import can
from custos.access.service import ReadLogUnavailable, client_address
from custos.audit.service import AuditWriteError
from custos.extraction import conf
from custos.extraction import services as svc
from custos.extraction.forms import DecisionForm, RequestForm, TraceForm
from custos.extraction.models import Extraction

AUDIT_DOWN = gettext_lazy("审计日志不可用，操作未执行。")


def _get(request, pk: int) -> Extraction:
    ext = svc.visible_to(request.user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if ext is None:
        raise Http404
    return ext


def _list(request, qs, title: str, template_flags: dict | None = None):
    rows = qs if isinstance(qs, list) else list(qs[:500])
    for e in rows:  # customers: the file's rows once generated, before that the count at request
        if not hasattr(e, "pending_rows"):
            e.pending_rows = None
        generated = e.state not in (Extraction.State.REQUESTED, Extraction.State.APPROVED)
        e.shown_rows = (
            e.row_count if generated else (e.pending_rows if e.pending_rows is not None else e.recipient_rows)
        )
    return render(
        request,
        "extraction/list.html",
        {
            "rows": rows,
            "title": title,
            **(template_flags or {}),
            "can_request": svc.can_request(request.user),
            "show_canaries": svc.sees_canaries(request.user),
        },
    )


@login_required
def mine(request):
    u = request.user
    qs = svc.visible_to(u).filter(requester=u) | svc.visible_to(u).filter(recipient_user=u)
    return _list(request, qs.distinct(), _("我的数据提取"))


@login_required
def approvals(request):
    if not svc.can_approve(request.user):
        raise PermissionDenied
    qs = Extraction.objects.filter(state=Extraction.State.REQUESTED).exclude(requester=request.user)
    rows = list(qs.select_related("requester", "recipient_user")[:500])
    for e in rows:  # what each file would hold if approved now, as generation will count it
        e.pending_rows = svc.pending_rows(e)
    return _list(request, rows, _("待我审批的数据提取"))


@login_required
def all_extractions(request):
    if not svc.can_oversee(request.user):
        raise PermissionDenied
    qs = svc.visible_to(request.user)
    state = request.GET.get("state", "")
    if state in Extraction.State.values:
        qs = qs.filter(state=state)
    return _list(
        request,
        qs,
        _("全部数据提取"),
        {"states": Extraction.State.choices, "state": state, "oversight": True},
    )


@login_required
@require_http_methods(["GET", "POST"])
def new(request):
    if not svc.can_request(request.user):
        raise PermissionDenied
    form = RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ext = svc.request_extraction(
                request.user,
                purpose=d["purpose"],
                scope={k: d.get(k) for k in ("branch", "channel", "status", "date_from", "date_to")},
                fields=d["fields"],
                justification=d["justification"],
                recipient_username=d["recipient_username"],
                recipient_name=d["recipient_name"],
                recipient_org=d["recipient_org"],
                recipient_partner_code=d["recipient_partner_code"],
                file_format=d["file_format"],
                client=client_address(request),
            )
        except svc.RecipientRefused as exc:
            form.add_error("recipient_username", str(exc))
        except svc.ExtractionError as exc:
            form.add_error(None, str(exc))
        except AuditWriteError:
            form.add_error(None, str(AUDIT_DOWN))
        else:
            messages.success(request, _("提取申请 #%(id)s 已提交，等待总经理室审批。") % {"id": ext.pk})
            if ext.recipient_rows < ext.scope_rows:
                messages.warning(request, svc.narrowing_note(ext))
            return redirect("extraction", pk=ext.pk)
    return render(request, "extraction/new.html", {"form": form})


@login_required
def detail(request, pk: int):
    return _detail(request, _get(request, pk))


def _detail(request, ext: Extraction, reject_error: str = "", status: int = 200):
    u = request.user
    live = ext.state in (Extraction.State.REQUESTED, Extraction.State.APPROVED, Extraction.State.GENERATED)
    events = list(ext.events.select_related("actor"))
    for ev in events:
        ev.note = svc.event_note(ev.note, u)
    ctx = {
        "ext": ext,
        "events": events,
        "pending_rows": svc.pending_rows(ext) if ext.state == Extraction.State.REQUESTED else None,
        "show_canaries": svc.sees_canaries(u),
        "field_labels": [str(svc.FIELD_LABELS.get(f, f)) for f in ext.fields],
        "form": DecisionForm(),
        "can_decide": ext.state == Extraction.State.REQUESTED
        and svc.can_approve(u)
        and u.pk not in (ext.requester_id, ext.recipient_user_id),
        "can_cancel": live and (u.pk == ext.requester_id or can(u, "extract.cancel")),
        "can_download": ext.state == Extraction.State.GENERATED and svc.downloader_of(ext).pk == u.pk,
        "oversight": svc.can_oversee(u),
        "reject_error": reject_error,
    }
    return render(request, "extraction/detail.html", ctx, status=status)


@login_required
@require_POST
def act(request, pk: int, action: str):
    ext = _get(request, pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    fn = {"approve": svc.approve, "reject": svc.reject, "cancel": svc.cancel}.get(action)
    if fn is None:
        raise Http404
    u = request.user
    may_decide = svc.can_approve(u) and u.pk not in (ext.requester_id, ext.recipient_user_id)
    if action == "reject" and may_decide and not note.strip() and ext.state == Extraction.State.REQUESTED:
        # the form again, the error beside the reason (the service refuses an empty one too)
        return _detail(request, ext, reject_error=_("驳回须说明理由。"), status=400)
    try:
        fn(ext, request.user, note, client=client_address(request))
    except svc.ExtractionError as exc:
        messages.error(request, str(exc))
    except AuditWriteError:
        messages.error(request, str(AUDIT_DOWN))
    else:
        messages.success(request, _("已处理：%(state)s") % {"state": ext.get_state_display()})
    return redirect("extraction", pk=pk)


@login_required
@require_POST
def download(request, pk: int):
    """A POST (a button, not a link): link previews and prefetchers cannot spend the one download."""
    ext = _get(request, pk)
    try:
        name, data = svc.download(ext, request.user, client=client_address(request))
    except svc.ExtractionError as exc:
        messages.error(request, str(exc))
        return redirect("extraction", pk=pk)
    except (AuditWriteError, ReadLogUnavailable):
        messages.error(request, str(AUDIT_DOWN))
        return redirect("extraction", pk=pk)
    ctype = (
        "text/csv; charset=utf-8"
        if name.endswith(".csv")
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response = HttpResponse(data, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def trace(request):
    """Upload a leaked file: checked (type, size), stored, traced by a job; the page of the trace
    follows its progress. Over the size limit: 413 before the body is read."""
    if not svc.can_trace(request.user):
        raise PermissionDenied
    status, refused = 200, ""
    form = TraceForm()
    if request.method == "POST":
        limit = conf.trace_max_bytes()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + 64 * 1024:  # the file alone is over the limit: do not even read it
            refused = str(svc.TraceRejected.too_large(limit))
            status = 413
        else:
            form = TraceForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    lt = svc.start_trace(
                        form.cleaned_data["file"],
                        request.user,
                        client_address(request),
                        note=form.cleaned_data["note"],
                    )
                except svc.TraceRejected as exc:
                    form.add_error("file", str(exc))
                    status = exc.status
                else:
                    return redirect("extraction-trace-detail", pk=lt.pk)
            else:
                status = 400
    traces = svc.traces_visible_to(request.user)[:50]
    ctx = {"form": form, "traces": traces, "refused": refused}
    return render(request, "extraction/trace.html", ctx, status=status)


def _trace(request, pk: int):
    if not svc.can_trace(request.user):
        raise PermissionDenied
    lt = svc.traces_visible_to(request.user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if lt is None:
        raise Http404
    result = svc.TraceResult.from_stored(lt.result) if lt.status == lt.Status.DONE else None
    return {"lt": lt, "result": result}


@login_required
def trace_detail(request, pk: int):
    return render(request, "extraction/trace_detail.html", _trace(request, pk))


@login_required
def trace_status(request, pk: int):
    """The progress / result fragment, polled every second by htmx while the trace runs."""
    return render(request, "extraction/_trace_status.html", _trace(request, pk))
