"""Extractions in the REST API (/api/v1/extractions): request, approve, reject, cancel, status.

Bearer-token authentication as the rest of /api/v1. Files are downloaded on the page only (one
logged download by the recipient). An extraction the caller may not see is a 404.
"""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from custos.access.service import client_address
from custos.audit.service import AuditWriteError
from custos.extraction import services as svc
from custos.extraction.models import Extraction

router = Router(tags=["extractions"])


class Error(Schema):
    detail: str


class Scope(Schema):
    branch: str = ""
    channel: str = ""
    status: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class RequestIn(Schema):
    purpose: str
    scope: Scope = Scope()
    fields: list[str]
    justification: str = ""
    recipient_username: str = ""
    recipient_name: str = ""
    recipient_org: str = ""
    recipient_partner_code: str = ""
    file_format: str = "xlsx"


class NoteIn(Schema):
    note: str = ""


class EventOut(Schema):
    at: dt.datetime
    actor: str
    from_state: str
    to_state: str
    note: str


class ExtractionOut(Schema):
    id: int
    state: str
    purpose: str
    scope: dict
    fields: list[str]
    requester: str
    approver: str | None
    recipient: str
    file_format: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    generated_at: dt.datetime | None
    expires_at: dt.datetime | None
    downloaded_at: dt.datetime | None
    row_count: int
    scope_rows: int  # at request: customers matching the filters in the requester's scope
    recipient_rows: int  # of those, the ones the recipient may see: the file holds only these
    # while requested: the customers the file would hold if approved now (as generation counts them)
    pending_rows: int | None = None
    error: str
    history: list[EventOut]


def _out(ext: Extraction, user) -> dict:
    return {
        "id": ext.pk,
        "state": ext.state,
        "purpose": ext.purpose,
        "scope": ext.scope,
        "fields": ext.fields,
        "requester": ext.requester.username,
        "approver": ext.approver.username if ext.approver_id else None,
        "recipient": ext.recipient_label,
        "file_format": ext.file_format,
        "created_at": ext.created_at,
        "decided_at": ext.decided_at,
        "generated_at": ext.generated_at,
        "expires_at": ext.expires_at,
        "downloaded_at": ext.downloaded_at,
        "row_count": ext.row_count,
        "scope_rows": ext.scope_rows,
        "recipient_rows": ext.recipient_rows,
        "pending_rows": svc.pending_rows(ext) if ext.state == Extraction.State.REQUESTED else None,
        "error": ext.error,
        "history": [
            {
                "at": e.at,
                "actor": e.actor_name,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "note": svc.event_note(e.note, user),
            }
            for e in ext.events.all()
        ],
    }


MAX_ID = 2**63 - 1  # larger ids cannot exist (and PostgreSQL refuses to compare with them)


def _visible(request, extraction_id: int) -> Extraction | None:
    if not 0 < extraction_id <= MAX_ID:
        return None
    return svc.visible_to(request.user).filter(pk=extraction_id).first()


def _fail(exc: Exception):
    if isinstance(exc, AuditWriteError):
        return Status(503, {"detail": "the audit log is unavailable; nothing was done"})
    return Status(exc.status, {"detail": str(exc)})


ERRORS = {400: Error, 403: Error, 404: Error, 409: Error, 410: Error, 503: Error}


@router.get(
    "", response=list[ExtractionOut], summary="Extractions the caller requested, receives or may decide"
)
def list_extractions(request, state: str = "", limit: int = 50, offset: int = 0):
    qs = svc.visible_to(request.user).prefetch_related("events")
    if state:
        qs = qs.filter(state=svc.clean_text(state))  # NUL: PostgreSQL refuses it in a query
    # offsets past any possible row are still offsets the databases can bind (not a 500)
    limit, offset = max(1, min(limit, 500)), max(0, min(offset, 2**62))
    return [_out(e, request.user) for e in qs[offset : offset + limit]]


@router.post("", response={201: ExtractionOut, **ERRORS}, summary="Request an extraction")
def create_extraction(request, body: RequestIn):
    try:
        ext = svc.request_extraction(
            request.user,
            purpose=body.purpose,
            scope=body.scope.model_dump(),
            fields=body.fields,
            justification=body.justification,
            recipient_username=body.recipient_username,
            recipient_name=body.recipient_name,
            recipient_org=body.recipient_org,
            recipient_partner_code=body.recipient_partner_code,
            file_format=body.file_format,
            client=client_address(request),
        )
    except svc.RecipientRefused as exc:  # one answer for an unknown user and one who may not receive
        return Status(400, {"detail": f"recipient_username: {exc}"})
    except (svc.ExtractionError, AuditWriteError) as exc:
        return _fail(exc)
    return Status(201, _out(ext, request.user))


@router.get(
    "/{extraction_id}", response={200: ExtractionOut, 404: Error}, summary="One extraction and its history"
)
def get_extraction(request, extraction_id: int):
    ext = _visible(request, extraction_id)
    if ext is None:
        return Status(404, {"detail": "extraction not found"})
    return _out(ext, request.user)


def _decide(request, extraction_id: int, body: NoteIn, fn):
    ext = _visible(request, extraction_id)
    if ext is None:
        return Status(404, {"detail": "extraction not found"})
    try:
        fn(ext, request.user, body.note, client=client_address(request))
    except (svc.ExtractionError, AuditWriteError) as exc:
        return _fail(exc)
    ext.refresh_from_db()
    return _out(ext, request.user)


@router.post(
    "/{extraction_id}/approve", response={200: ExtractionOut, **ERRORS}, summary="Approve (executive)"
)
def approve_extraction(request, extraction_id: int, body: NoteIn):
    return _decide(request, extraction_id, body, svc.approve)


@router.post("/{extraction_id}/reject", response={200: ExtractionOut, **ERRORS}, summary="Reject (executive)")
def reject_extraction(request, extraction_id: int, body: NoteIn):
    return _decide(request, extraction_id, body, svc.reject)


@router.post("/{extraction_id}/cancel", response={200: ExtractionOut, **ERRORS}, summary="Cancel (requester)")
def cancel_extraction(request, extraction_id: int, body: NoteIn):
    return _decide(request, extraction_id, body, svc.cancel)
