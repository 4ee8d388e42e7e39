"""Findings in the REST API (/api/v1/findings): list with filters, one finding, summary counts.

Every endpoint works on the findings of the policies in the caller's scope (the access service);
values are masked by field type; list and detail reads are logged before anything is returned (a read
that cannot be logged returns 503). A finding outside the caller's scope is a 404, logged as denied.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from custos.access.service import AccessContext, ReadLogUnavailable
from custos.checks import services
from custos.checks.models import Finding
from custos.core.params import ID_MAX

router = Router(tags=["findings"])


class Error(Schema):
    detail: str


class FindingOut(Schema):
    id: int
    check: str
    policy_no: str
    role: str
    seq: int
    field: str
    category: str
    severity: str
    status: str
    close_reason: str
    value: str  # masked
    proposed: str  # the value custos proposes, masked ("" when none)
    channel: str
    branch_code: str
    agent_no: str
    partner_code: str
    opened_run: int
    last_seen_run: int
    closed_run: int | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    settings_fingerprint: str
    recurs: int | None


class FindingDetail(FindingOut):
    message_zh: str
    message_en: str
    basis: str


class FindingPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[FindingOut]


class Summary(Schema):
    total: int
    by_category: dict[str, int]
    by_severity: dict[str, int]
    by_check: dict[str, int]
    by_channel: dict[str, int]
    by_status: dict[str, int]


class FindingFilters(Schema):
    check: str | None = None
    category: str | None = None
    severity: str | None = None
    status: str = "open"  # open | closed | all
    channel: str | None = None
    branch: str | None = None  # the branch's whole subtree
    agent: str | None = None
    partner: str | None = None
    policy_no: str | None = None
    run: int | None = Field(None, ge=1, le=ID_MAX)  # findings this check run found
    load: int | None = Field(None, ge=1, le=ID_MAX)  # findings the latest run of this load found
    opened_run: int | None = Field(None, ge=1, le=ID_MAX)
    closed_run: int | None = Field(None, ge=1, le=ID_MAX)


def _out(row: dict) -> dict:
    return {
        **row,
        "check": row["check_code"],
        "opened_run": row["opened_run_id"],
        "last_seen_run": row["last_seen_run_id"],
        "closed_run": row["closed_run_id"],
        "recurs": row["recurs_id"],
    }


def _filtered(request: HttpRequest, filters: FindingFilters):
    if filters.status not in ("open", "closed", "all"):
        raise HttpError(400, "status must be open, closed or all")
    ctx = AccessContext.for_request(request)
    params = filters.dict(exclude_none=True)
    return ctx, services.filter_findings(services.scoped_findings(ctx), params)


@router.get("", response={200: FindingPage, 400: Error, 503: Error}, summary="List findings in your scope")
def list_findings(request, filters: Query[FindingFilters], limit: int = 50, offset: int = 0):
    limit, offset = max(1, min(limit, 500)), max(0, min(offset, 2**62))  # past any row, still bindable
    ctx, qs = _filtered(request, filters)
    count = qs.count()
    page = Finding.objects.filter(
        pk__in=list(qs.order_by("-id").values_list("pk", flat=True)[offset : offset + limit])
    )
    try:
        rows = services.read_findings(ctx, page.order_by("-id"), action="api")
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned")
    return {"count": count, "limit": limit, "offset": offset, "items": [_out(r) for r in rows]}


@router.get("/summary", response={200: Summary, 400: Error}, summary="Finding counts in your scope")
def summary(request, filters: Query[FindingFilters]):
    _, qs = _filtered(request, filters)
    return services.summary_counts(qs)


@router.get(
    "/{finding_id}", response={200: FindingDetail, 404: Error, 503: Error}, summary="One finding, explained"
)
def get_finding(request, finding_id: int):
    ctx = AccessContext.for_request(request)
    try:
        rows = services.read_findings(ctx, Finding.objects.filter(pk=finding_id), action="api")
        if not rows:
            ctx.log_denied("api", "finding", ["value"])
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned")
    if not rows:
        return Status(404, {"detail": "finding not found or not in your scope"})
    row = _out(rows[0])
    return {**row, **services.explain(row["check"])}
