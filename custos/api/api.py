"""The REST API under /api/v1 (Django Ninja, OpenAPI at /api/v1/openapi.json).

Authentication: `Authorization: Bearer <token>`; tokens are stored as SHA-256 digests (ApiToken) and
printed once by `custos token create USER` or `custos createuser … --token`. Personal data is read
through the access service only: scoped, masked, logged."""

import datetime as dt

from django.db import DataError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, File, Form, NinjaAPI, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer

from custos.access import search
from custos.access.capabilities import can
from custos.access.service import AccessContext, ReadLogUnavailable, client_address
from custos.access.signals import record_request
from custos.api.docs_auth import require_sign_in
from custos.api.models import ApiToken
from custos.book import load_errors
from custos.book.models import BookLoad, Party
from custos.core.uploads import UploadRejected, accept_upload

TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        found = (
            ApiToken.objects.select_related("user")
            .filter(digest=ApiToken.hash(token), revoked=False, user__is_active=True)
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= TOKEN_USE_RESOLUTION:
            # recorded to the minute: not a write (and a commit) on every call; each call is audited
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.user = found.user
        return found.user


class CustosAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI schema also documents the answers Ninja gives itself: 401 (no or a bad
    bearer token), 422 (parameters that do not validate) and 400 (a body that cannot be parsed, a value
    the database cannot hold), so clients and schemathesis know them."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        detail_list = {
            "type": "object",
            "properties": {"detail": {"type": "array", "items": {"type": "object"}}},
            "required": ["detail"],
        }
        detail_str = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
        for ops in schema.get("paths", {}).values():
            for op in ops.values():
                responses = op.setdefault("responses", {})
                responses.setdefault(
                    "401",
                    {
                        "description": "Missing or invalid bearer token",
                        "content": {"application/json": {"schema": detail_str}},
                    },
                )
                responses.setdefault(
                    "400",
                    {
                        "description": "A body that cannot be parsed, or a value the database cannot hold "
                        "(a NUL character, a number out of range)",
                        "content": {"application/json": {"schema": detail_str}},
                    },
                )
                responses.setdefault(
                    "422",
                    {
                        "description": "Parameters that do not validate",
                        "content": {"application/json": {"schema": detail_list}},
                    },
                )
        return schema


api = CustosAPI(
    title="custos",
    version="1",
    description="Book loads and masked customer look-ups of custos. Bearer-token authentication.",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_decorator=require_sign_in,  # schema and docs need sign-in outside development (docs_auth.py)
)


@api.exception_handler(DataError)
@api.exception_handler(OverflowError)
def _unstorable_value(request, exc):
    """A parameter PostgreSQL cannot take (NUL in text, a bigint out of range) or SQLite cannot bind
    (an integer over 64 bits) is the caller's error, whatever the operation: 400, never a 500."""
    return api.create_response(
        request,
        {"detail": "a value the database cannot hold (a NUL character or a number out of range)"},
        status=400,
    )


class Error(Schema):
    detail: str


class LoadError(Schema):
    file: str | None = None
    row: int | None = None
    column: str | None = None
    code: str = ""  # what kind of problem (not_date, duplicate_key, reference, …; "" for file-level ones)
    message: str  # values of the book quoted in it are masked, except in the error report


class LoadOut(Schema):
    id: int
    source_name: str
    mode: str
    status: str
    progress: int
    progress_note: str
    row_counts: dict
    error_count: int
    created_by: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class LoadDetail(LoadOut):
    sha256: str
    change_counts: dict
    warnings: list[LoadError]
    errors: list[LoadError] | None = None  # only for roles that may see error details; values masked


class LoadErrorReport(Schema):
    id: int
    error_count: int
    errors: list[LoadError]  # as the loader wrote them: values of the book in clear
    warnings: list[LoadError]


class LoadAccepted(Schema):
    id: int
    status: str
    url: str


class PartyOut(Schema):
    policy_no: str
    role: str
    seq: int
    relation: str
    name: str
    gender: str
    birth_date: str
    id_type: str
    id_no: str
    mobile: str
    phone: str
    address: str
    email: str


class PartiesOut(Schema):
    policy_no: str
    parties: list[PartyOut]


def _load_out(load: BookLoad, detail: bool = False, with_errors: bool = False) -> dict:
    out = {
        "id": load.pk,
        "source_name": load.source_name,
        "mode": load.mode,
        "status": load.status,
        "progress": load.progress,
        "progress_note": load_errors.shown_note(load),
        "row_counts": load.row_counts or {},
        "error_count": load.error_count,
        "created_by": load.created_by.username if load.created_by else None,
        "created_at": load.created_at,
        "finished_at": load.finished_at,
    }
    if detail:
        out.update(
            sha256=load.sha256,
            change_counts=load.change_counts or {},
            warnings=load_errors.shown_warnings(load),
            errors=load_errors.shown_errors(load) if with_errors else None,
        )
    return out


@api.get("/loads", response=list[LoadOut], tags=["loads"], summary="List book loads, newest first")
def list_loads(request, limit: int = 50, offset: int = 0):
    limit, offset = max(1, min(limit, 500)), max(0, min(offset, 2**62))  # past any row, still bindable
    loads = BookLoad.objects.select_related("created_by")[offset : offset + limit]
    return [_load_out(x) for x in loads]


@api.post(
    "/loads",
    response={202: LoadAccepted, 400: Error, 403: Error, 413: Error},
    tags=["loads"],
    summary="Upload a book (.zip, .xlsx, .csv, .parquet); it is loaded in the background",
)
def create_load(request, file: UploadedFile = File(...), mode: str = Form("full")):  # noqa: B008
    if not can(request.user, "book.upload"):
        return Status(403, {"detail": "only the compliance and it_security roles may upload books"})
    try:
        load = accept_upload(file, user=request.user, mode=mode)
    except UploadRejected as exc:
        return Status(exc.status, {"detail": str(exc)})
    record_request("upload", request, model="load", record_ids=[load.pk], purpose=load.source_name)
    return Status(202, {"id": load.pk, "status": load.status, "url": f"/api/v1/loads/{load.pk}"})


@api.get("/loads/{load_id}", response={200: LoadDetail, 404: Error}, tags=["loads"], summary="One load")
def get_load(request, load_id: int):
    load = get_object_or_404(BookLoad.objects.select_related("created_by"), pk=load_id)
    return _load_out(load, detail=True, with_errors=can(request.user, "load.errors"))


@api.get(
    "/loads/{load_id}/error-report",
    response={200: LoadErrorReport, 403: Error, 404: Error, 503: Error},
    tags=["loads"],
    summary="A load's errors with the book's values in clear (IT security, compliance; every call is logged)",
)
def load_error_report(request, load_id: int):
    load = get_object_or_404(BookLoad, pk=load_id)
    if not can(request.user, "load.error_report"):
        return Status(403, {"detail": "only the it_security and compliance roles may read the error report"})
    try:
        report = load_errors.error_report(request.user, load, client=client_address(request))
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned")
    return {"id": load.pk, **report}


@api.get(
    "/policies/{policy_no}/parties",
    response={200: PartiesOut, 404: Error, 503: Error},
    tags=["customers"],
    summary="The masked parties of a policy in the caller's scope (every call is logged)",
)
def policy_parties(request, policy_no: str):
    ctx = AccessContext.for_request(request)
    try:
        # read_parties narrows any queryset to the caller's scope itself (one scope subquery, not two)
        rows = ctx.read_parties(Party.objects.filter(policy_no=policy_no), action="api")
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned")
    if not rows:
        return Status(404, {"detail": "policy not found or not in your scope"})
    return {
        "policy_no": policy_no,
        "parties": [{k: ("" if v is None else v) for k, v in r.items()} for r in rows],
    }


class CustomerQuery(Schema):
    policy_no: str | None = Field(None, min_length=1, max_length=64)
    id_no: str | None = Field(None, min_length=1, max_length=32)
    mobile: str | None = Field(None, min_length=11, max_length=20, pattern=r"^[0-9+ -]+$")
    name: str | None = Field(None, min_length=1, max_length=100)
    birth_date: dt.date | None = None


class CustomersOut(Schema):
    count: int
    parties: list[PartyOut]


class PolicyOut(Schema):
    policy_no: str
    product_name: str
    channel: str
    branch_code: str
    agent_no: str
    partner_code: str
    status: str
    parties: list[PartyOut]


class CustomerListOut(Schema):
    count: int  # policies in scope
    page: int
    pages: int
    policies: list[PolicyOut]


def _party_out(row: dict) -> dict:
    return {k: ("" if v is None else v) for k, v in row.items() if k != "id"}


@api.post(
    "/customers/lookup",
    response={200: CustomersOut, 404: Error, 503: Error},
    tags=["customers"],
    summary="Masked parties by policy number (any case), ID number, mobile, or name with birth date, "
    "in the caller's scope (every call is logged)",
    description="At least one of policy_no, id_no, mobile, or name together with birth_date; given "
    "together they must all match. ID numbers and mobiles are matched on their blind index and travel "
    "in the body, never in a URL. Out of scope and unknown look the same: 404.",
)
def customer_lookup(request, query: CustomerQuery):
    if bool(query.name) != bool(query.birth_date):
        raise ValidationError([{"loc": ["body", "query"], "msg": "name and birth_date go together"}])
    criteria = search.Criteria(
        policy_no=query.policy_no or "",
        id_no=query.id_no or "",
        mobile=query.mobile or "",
        name=query.name or "",
        birth_date=query.birth_date,
    )
    if criteria.empty:
        raise ValidationError(
            [{"loc": ["body", "query"], "msg": "give policy_no, id_no, mobile, or name with birth_date"}]
        )
    ctx = AccessContext.for_request(request)  # scoped by the access service; the read is logged
    try:
        found = search.page(ctx, criteria, 1, per_page=200, action="api")
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned")
    if not found.rows:
        return Status(404, {"detail": "no customer found in your scope"})
    return {"count": len(found.rows), "parties": [_party_out(r) for r in found.rows]}


@api.get(
    "/customers",
    response={200: CustomerListOut, 503: Error},
    tags=["customers"],
    summary="The caller's policies with their masked parties, a page at a time (every page is logged)",
)
def customer_list(request, page: int = 1, per_page: int = 20):
    page, per_page = max(1, min(page, 10**9)), max(1, min(per_page, 100))
    ctx = AccessContext.for_request(request)
    try:
        found = search.page(ctx, search.Criteria(), page, per_page=per_page, action="api")
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned")
    return {
        "count": found.page.paginator.count,
        "page": found.page.number,
        "pages": found.page.paginator.num_pages,
        "policies": [
            {
                **{k: p[k] or "" for k in search.POLICY_FIELDS},
                "parties": [_party_out(r) for r in p["parties"]],
            }
            for p in found.policies
        ],
    }


from custos.checks.api import router as findings_router  # noqa: E402

api.add_router("/findings", findings_router)

from custos.extraction.api import router as extractions_router  # noqa: E402

api.add_router("/extractions", extractions_router)

from custos.remediation.api import router as remediation_router  # noqa: E402

api.add_router("/remediation", remediation_router)

from custos.screening.api import router as screening_router  # noqa: E402

api.add_router("/screen", screening_router)

from custos.commission.api import router as commission_router  # noqa: E402

api.add_router("/commission", commission_router)

from custos.blacklist.api import router as blacklist_router  # noqa: E402

api.add_router("/blacklist", blacklist_router)

from custos.identity.api import router as persons_router  # noqa: E402

api.add_router("/persons", persons_router)
