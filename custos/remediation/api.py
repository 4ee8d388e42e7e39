"""Remediation in the REST API (/api/v1/remediation): tasks, attempts, corrections, review,
verification, bulk assignment, progress. Scoped by the access service; refusals are 4xx with the
service's bilingual message; a stale `version` is 409."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from custos.access.service import AccessContext, ReadLogUnavailable
from custos.remediation import services as svc
from custos.remediation.models import Correction, Task

router = Router(tags=["remediation"])


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


def _task(request, pk) -> Task:
    try:
        return svc.task_for(request.user, pk)
    except Task.DoesNotExist:
        raise HttpError(404, "task not found") from None


@router.get("/tasks", response=TaskPage)
def list_tasks(request, mine: bool = True, status: str = "active", limit: int = 100, offset: int = 0):
    qs = svc.scoped_tasks(request.user).select_related("assignee")
    if mine:
        qs = qs.filter(assignee=request.user)
    if status == "active":
        qs = qs.exclude(status="closed")
    elif status != "all":
        qs = qs.filter(status=status)
    limit = max(1, min(limit, 1000))
    return {
        "count": qs.count(),
        "results": [_out(t) for t in qs.order_by("due_on", "id")[offset : offset + limit]],
    }


@router.get("/tasks/{pk}")
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


@router.post("/tasks/{pk}/attempts", response={201: dict})
def add_attempt(request, pk: int, body: AttemptIn):
    task = _task(request, pk)
    a = _call(lambda: svc.record_attempt(task, request.user, body.method, body.contact, body.outcome, body.note,
                                         version=body.version))  # fmt: skip
    return Status(201, {"id": a.pk, "version": task.version, "status": task.status})


@router.post("/tasks/{pk}/corrections", response={201: dict})
def propose(
    request,
    pk: int,
    field: str = Form(...),
    new_value: str = Form(...),
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
        return svc.propose_correction(task, request.user, field, new_value, request_no=request_no, evidence=ev,
                                      note=note, version=version)  # fmt: skip

    c = _call(go)
    return Status(201, {"id": c.pk, "version": task.version, "status": task.status, "forced": c.forced})


class ReviewIn(Schema):
    approve: bool
    note: str = ""


@router.post("/corrections/{cid}/review")
def review(request, cid: int, body: ReviewIn):
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


@router.post("/tasks/{pk}/verify")
def verify(request, pk: int, body: VerifyIn):
    task = _task(request, pk)
    _call(lambda: svc.verify_task(task, request.user, contact=body.contact, success=body.success, note=body.note,
                                  version=body.version))  # fmt: skip
    return {"id": task.pk, "status": task.status, "version": task.version}


class CloseIn(Schema):
    reason: str = ""
    version: int | None = None


@router.post("/tasks/{pk}/close")
def close(request, pk: int, body: CloseIn):
    task = _task(request, pk)
    _call(lambda: svc.close_task(task, request.user, body.reason, version=body.version))
    return {"id": task.pk, "status": task.status}


class AssignIn(Schema):
    tasks: list[int]
    to: str
    reason: str = ""


@router.post("/assign")
def assign(request, body: AssignIn):
    user = get_user_model().objects.filter(username=body.to).first()
    if user is None:
        raise HttpError(400, "unknown user")
    return {"assigned": _call(lambda: svc.reassign(body.tasks, user, request.user, body.reason))}


@router.get("/progress")
def progress(request):
    return svc.progress(AccessContext.for_request(request))
