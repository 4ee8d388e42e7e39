"""Remediation in the REST API (/api/v1/remediation): tasks, attempts, corrections, review,
verification, bulk assignment, progress. Scoped by the access service; refusals are 4xx with the
service's message in the request's language; a stale `version` is 409."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from custos.access.capabilities import can
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.remediation import services as svc
from custos.remediation.models import Correction, Task

router = Router(tags=["remediation"])


class Refusal(Schema):
    """A refused request: the reason, in the request's language (Chinese by default)."""

    detail: str


# what an action may answer besides success: refused (400), not for your role / four eyes (403), not
# found or outside your scope (404), stale version or illegal transition (409), read log down (503)
REFUSALS = {400: Refusal, 403: Refusal, 404: Refusal, 409: Refusal, 503: Refusal}
PDF_OR_XLSX = ("application/pdf", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
MAX_ID = 2**31 - 1


def file_response(ctypes) -> dict:
    """OpenAPI: the 200 answer is a file (PDF, XLSX), not JSON."""
    ctypes = (ctypes,) if isinstance(ctypes, str) else ctypes
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"responses": {"200": {"description": "The file", "content": {c: binary for c in ctypes}}}}


def _ids(ids: list[int]) -> list[int]:
    if any(not 0 < i <= MAX_ID for i in ids):
        raise HttpError(400, "task ids are positive integers")
    return ids


class TaskOut(Schema):
    id: int
    policy_no: str
    role: str
    seq: int
    status: str
    version: int
    checks: str
    open_findings: int
    channel: str
    branch_code: str
    assignee: str | None
    assign_rule: str
    due_on: dt.date
    escalation: int


class TaskPage(Schema):
    count: int
    results: list[TaskOut]


def _out(t: Task) -> dict:
    return {**{k: getattr(t, k) for k in TaskOut.model_fields if k != "assignee"},
            "assignee": t.assignee.username if t.assignee_id else None}  # fmt: skip


def _call(fn):
    try:
        return fn()
    except svc.Conflict as exc:
        raise HttpError(409, str(exc)) from exc
    except svc.RemediationError as exc:
        raise HttpError(exc.status, str(exc)) from exc
    except ReadLogUnavailable as exc:
        raise HttpError(503, "audit log unavailable") from exc


def _allowed(request) -> None:
    """Only the roles that work remediation tasks (capability task.work) use this API: 403 for others."""
    if not can(request.user, "task.work"):
        raise HttpError(403, "your role does not use remediation tasks")


def _task(request, pk) -> Task:
    _allowed(request)
    try:
        return svc.task_for(request.user, pk)
    except Task.DoesNotExist:
        raise HttpError(404, "task not found") from None


@router.get("/tasks", response={200: TaskPage, 403: Refusal})
def list_tasks(request, mine: bool = True, status: str = "active", limit: int = 100, offset: int = 0):
    _allowed(request)
    qs = svc.scoped_tasks(request.user).select_related("assignee")
    if mine:
        qs = qs.filter(assignee=request.user)
    if status == "active":
        qs = qs.exclude(status="closed")
    elif status != "all":
        qs = qs.filter(status=status)
    limit, offset = max(1, min(limit, 1000)), max(0, min(offset, MAX_ID))
    return {
        "count": qs.count(),
        "results": [_out(t) for t in qs.order_by("due_on", "id")[offset : offset + limit]],
    }


@router.get("/tasks/{pk}", response={200: dict, 403: Refusal, 404: Refusal, 503: Refusal})
def get_task(request, pk: int):
    task = _task(request, pk)
    ctx = AccessContext.for_request(request)
    from custos.checks.services import read_findings

    def go():
        return {
            **_out(task),
            "findings": read_findings(
                ctx, svc.Finding.objects.filter(pk__in=task.links.values("finding_id")), "task_view"
            ),  # fmt: skip
            "corrections": svc.read_corrections(ctx, task),
            "events": list(
                task.events.values("at", "actor__username", "action", "from_status", "to_status", "reason")
            ),  # fmt: skip
            "attempts": list(
                task.attempts.values("at", "by__username", "method", "contact_masked", "outcome")
            ),
        }

    return _call(go)


class AttemptIn(Schema):
    method: str
    contact: str
    outcome: str
    note: str = ""
    version: int | None = None


@router.post("/tasks/{pk}/attempts", response={201: dict, **REFUSALS})
def add_attempt(request, pk: int, body: AttemptIn):
    task = _task(request, pk)
    a = _call(lambda: svc.record_attempt(task, request.user, body.method, body.contact, body.outcome, body.note,
                                         version=body.version))  # fmt: skip
    return Status(201, {"id": a.pk, "version": task.version, "status": task.status})


@router.post("/tasks/{pk}/corrections", response={201: dict, **REFUSALS})
def propose(
    request,
    pk: int,
    field: str = Form(""),
    new_value: str = Form(""),
    proposed_from: int | None = Form(None),  # a finding of the task: use its proposed value
    request_no: str = Form(""),
    note: str = Form(""),
    version: int | None = Form(None),
    evidence: UploadedFile | None = File(None),  # noqa: B008
):
    task = _task(request, pk)

    def go():
        ev = (
            svc.store_evidence(evidence.name, evidence.read(), request.user) if evidence is not None else None
        )
        f, v = svc.proposed_fill(task, proposed_from) if proposed_from is not None else (field, new_value)
        return svc.propose_correction(task, request.user, f, v, request_no=request_no, evidence=ev,
                                      note=note, version=version)  # fmt: skip

    c = _call(go)
    return Status(201, {"id": c.pk, "version": task.version, "status": task.status, "forced": c.forced})


class ReviewIn(Schema):
    approve: bool
    note: str = ""


@router.post("/corrections/{cid}/review", response={200: dict, **REFUSALS})
def review(request, cid: int, body: ReviewIn):
    _allowed(request)
    c = Correction.objects.filter(pk=cid).select_related("task").first()
    if c is None or not svc.scoped_tasks(request.user).filter(pk=c.task_id).exists():
        raise HttpError(404, "correction not found")
    _call(lambda: svc.review_correction(c, request.user, approve=body.approve, note=body.note))
    return {"id": c.pk, "status": c.status}


class VerifyIn(Schema):
    contact: str
    success: bool
    note: str = ""
    version: int | None = None


@router.post("/tasks/{pk}/verify", response={200: dict, **REFUSALS})
def verify(request, pk: int, body: VerifyIn):
    task = _task(request, pk)
    _call(lambda: svc.verify_task(task, request.user, contact=body.contact, success=body.success, note=body.note,
                                  version=body.version))  # fmt: skip
    return {"id": task.pk, "status": task.status, "version": task.version}


class CloseIn(Schema):
    reason: str = ""
    version: int | None = None


@router.post("/tasks/{pk}/close", response={200: dict, **REFUSALS})
def close(request, pk: int, body: CloseIn):
    task = _task(request, pk)
    _call(lambda: svc.close_task(task, request.user, body.reason, version=body.version))
    return {"id": task.pk, "status": task.status}


class AssignIn(Schema):
    tasks: list[int]
    to: str
    reason: str = ""


@router.post("/assign", response={200: dict, **REFUSALS})
def assign(request, body: AssignIn):
    _allowed(request)
    user = get_user_model().objects.filter(username=body.to).first()
    if user is None:
        raise HttpError(400, "unknown user")
    tasks = _ids(body.tasks)
    return {"assigned": _call(lambda: svc.reassign(tasks, user, request.user, body.reason))}


@router.get("/progress", response={200: dict, 403: Refusal})
def progress(request):
    if not can(request.user, "task.progress"):
        raise HttpError(403, "your role may not read remediation progress")
    return svc.progress(AccessContext.for_request(request))


class NoticeOut(Schema):
    id: int
    kind: str
    occasion: str
    at: dt.datetime
    task: int
    policy_no: str
    due_on: dt.date


@router.get("/notices", response={200: list[NoticeOut], 403: Refusal})
def notices(request, limit: int = 50):
    """Reminders and escalations sent to me, of tasks in my scope, the latest first."""
    _allowed(request)
    from custos.remediation.models import Notice

    qs = Notice.objects.filter(recipient=request.user, task__in=svc.scoped_tasks(request.user))
    return [
        {"id": n.pk, "kind": n.kind, "occasion": n.occasion, "at": n.at, "task": n.task_id,
         "policy_no": n.task.policy_no, "due_on": n.task.due_on}
        for n in qs.select_related("task")[: max(1, min(limit, 500))]
    ]  # fmt: skip


class SampleOut(Schema):
    id: int
    task: int
    policy_no: str
    drawn_at: dt.datetime
    closer: str | None
    result: str
    checked_by: str | None
    note: str


@router.get("/samples", response={200: list[SampleOut], 403: Refusal})
def samples(request, result: str = "pending", limit: int = 100):
    """抽检: samples of tasks in my scope (result pending|passed|failed|all)."""
    from custos.remediation.models import Sample

    _allowed(request)
    qs = Sample.objects.filter(task__in=svc.scoped_tasks(request.user)).select_related(
        "task", "closer", "checked_by"
    )
    if result != "all":
        qs = qs.filter(result=result)
    return [
        {"id": s.pk, "task": s.task_id, "policy_no": s.task.policy_no, "drawn_at": s.drawn_at,
         "closer": s.closer.username if s.closer_id else None, "result": s.result,
         "checked_by": s.checked_by.username if s.checked_by_id else None, "note": s.note}
        for s in qs.order_by("-drawn_at", "-id")[: max(1, min(limit, 1000))]
    ]  # fmt: skip


class DrawIn(Schema):
    share: float | None = None  # 0..1; default conf "sample_share"


@router.post("/samples", response={201: dict, **REFUSALS})
def draw(request, body: DrawIn):
    """Compliance draws a share of the closed tasks in their scope at random."""
    _allowed(request)
    drawn = _call(lambda: svc.draw_samples(request.user, share=body.share, scope=request.user))
    return Status(201, {"drawn": [s.pk for s in drawn]})


class SampleIn(Schema):
    passed: bool
    note: str = ""


@router.post("/samples/{sid}", response={200: dict, **REFUSALS})
def sample_result(request, sid: int, body: SampleIn):
    """The re-check's result; a failure reopens the task and counts against whoever closed it."""
    from custos.remediation.models import Sample

    _allowed(request)
    s = Sample.objects.filter(pk=sid, task__in=svc.scoped_tasks(request.user)).select_related("task").first()
    if s is None:
        raise HttpError(404, "sample not found")
    _call(lambda: svc.record_sample(s, request.user, passed=body.passed, note=body.note))
    return {"id": s.pk, "result": s.result, "task_status": s.task.status}


class LettersIn(Schema):
    tasks: list[int]


@router.post("/letters", response=REFUSALS, openapi_extra=file_response("application/pdf"))
def letters(request, body: LettersIn):
    """Customer letters for these tasks (of my scope): one PDF, a page per task, personal data masked."""
    from django.http import HttpResponse

    from custos.remediation import letters as letters_mod

    _allowed(request)
    ctx = AccessContext.for_request(request)
    tasks = _ids(body.tasks)
    batch, data = _call(lambda: letters_mod.customer_letters(ctx, tasks, request.user))
    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="letters-{batch.pk}.pdf"'
    return resp


class NoticeIn(Schema):
    partner: str
    format: str = "pdf"  # pdf | xlsx


@router.post("/partner-notices", response=REFUSALS, openapi_extra=file_response(PDF_OR_XLSX))
def partner_notice(request, body: NoticeIn):
    """Notice to a partner outlet: its defective policies (of my scope), the deadline, the consequences."""
    from django.http import HttpResponse

    from custos.remediation import letters as letters_mod

    _allowed(request)
    if body.format not in ("pdf", "xlsx"):
        raise HttpError(400, "format must be pdf or xlsx")
    ctx = AccessContext.for_request(request)
    batch, data = _call(lambda: letters_mod.partner_notice(ctx, body.partner, request.user, body.format))
    ctype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if body.format == "xlsx"
             else "application/pdf")  # fmt: skip
    resp = HttpResponse(data, content_type=ctype)
    resp["Content-Disposition"] = f'attachment; filename="partner-{batch.pk}.{body.format}"'
    return resp
