"""/api/v1/blacklist/: the industry blacklist look-up, served by the association to its members
(docs/blacklist.md). A member is a user with the role `member` and an API token; it holds
`blacklist.lookup` and nothing else.

- GET  setup?have=N   the setup message of the current list version (null when the member has it)
- POST lookup         {version, nonce, timestamp, request}: the blinded PSI request → its response
- POST nominations    {reference, id_no, name, reason, dismissed_on}: a member's nomination

Answers: 400 a malformed body (why), 403 not a member, 409 not an association / a replayed nonce /
a stale version, 429 over the member's rate limit."""

from __future__ import annotations

import base64
import json

from django.http import JsonResponse
from ninja import Router, Schema, Status

from custos.access.capabilities import require
from custos.blacklist.services import association as svc

router = Router(tags=["blacklist"])
MAX_BODY = 4 * 1024 * 1024


class SetupOut(Schema):
    version: int
    entries: int
    data_structure: str
    setup: str | None  # base64 of the serialised ServerSetup; null when the member has this version


class LookupOut(Schema):
    version: int
    items: int
    response: str  # base64 of the serialised PSI Response


class ReceivedOut(Schema):
    received: int
    status: str


class Error(Schema):
    detail: str


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status, json_dumps_params={"ensure_ascii": False})


def _body(request) -> dict | JsonResponse:
    if len(request.body) > MAX_BODY:
        return _error(400, f"body larger than {MAX_BODY} bytes")
    try:
        doc = json.loads(request.body)
    except (ValueError, RecursionError):
        return _error(400, "malformed JSON")
    if not isinstance(doc, dict):
        return _error(400, "the body must be a JSON object")
    return doc


def _object_body(required: list[str], props: dict) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "required": required, "properties": props}}
            },
        }
    }


@router.get(
    "/setup",
    response={200: SetupOut, 403: Error, 409: Error},
    summary="The setup message of the current list version (PSI, openmined-psi 2.0.6, RAW)",
)
def setup(request, have: int = 0):
    require(request.user, "blacklist.lookup")
    try:
        version, message = svc.setup_message()
    except svc.NotAssociation as exc:
        return _error(409, str(exc))
    current = svc.current()
    return {
        "version": version,
        "entries": current.entries if current else 0,
        "data_structure": "raw",
        "setup": None if have == version else base64.b64encode(message).decode(),
    }


@router.post(
    "/lookup",
    response={200: LookupOut, 400: Error, 403: Error, 409: Error, 429: Error},
    summary="Process a member's blinded PSI request (nonce and timestamp refuse a replay)",
    openapi_extra=_object_body(
        ["version", "nonce", "timestamp", "request"],
        {
            "version": {"type": "integer"},
            "nonce": {"type": "string", "minLength": 16, "maxLength": 64},
            "timestamp": {"type": "integer"},
            "request": {"type": "string", "description": "base64 of the serialised psi_proto.Request"},
        },
    ),
)
def lookup(request):
    require(request.user, "blacklist.lookup")
    doc = _body(request)
    if isinstance(doc, JsonResponse):
        return doc
    try:
        answer = svc.lookup(request.user, doc)
    except svc.NotAssociation as exc:
        return _error(409, str(exc))
    except svc.Refused as exc:
        return _error(exc.status, str(exc))
    return {
        "version": answer.version,
        "items": answer.items,
        "response": base64.b64encode(answer.response).decode(),
    }


@router.post(
    "/nominations",
    response={201: ReceivedOut, 400: Error, 403: Error, 409: Error},
    summary="A member's nomination for the list (after its compliance approved it)",
    openapi_extra=_object_body(
        ["reference", "id_no", "name", "reason", "dismissed_on"],
        {
            "reference": {"type": "string", "maxLength": 64},
            "id_no": {"type": "string"},
            "name": {"type": "string"},
            "company": {"type": "string"},
            "reason": {"type": "string"},
            "dismissed_on": {"type": "string", "format": "date"},
        },
    ),
)
def nominate(request):
    require(request.user, "blacklist.lookup")
    doc = _body(request)
    if isinstance(doc, JsonResponse):
        return doc
    try:
        got = svc.receive(request.user, doc)
    except svc.NotAssociation as exc:
        return _error(409, str(exc))
    except svc.Refused as exc:
        return _error(exc.status, str(exc))
    return Status(201, {"received": got.pk, "status": got.status})
