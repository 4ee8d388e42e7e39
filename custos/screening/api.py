"""POST /api/v1/screen: screen one application or change (docs/screening.md).

Authentication: ``Authorization: Bearer cs_…``, a screening key of a calling system (`custos
screenkey create`), not a user's token. Answers: 200 (verdict and findings), 400 (malformed JSON, JSON
nested too deeply to parse, or every field error), 401, 403 (out of the key's scope), 409 (the policy
number is held outside the key's scope), 413 (body over CUSTOS_SCREEN_MAX_BYTES), 429 (rate limit)."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import JsonResponse
from ninja import Router, Schema
from ninja.security import HttpBearer

from custos.screening import service


class ScreenKeyAuth(HttpBearer):
    def authenticate(self, request, token):
        client = service.authenticate(token)
        if client is not None:
            request.screen_client = client
        return client


router = Router(auth=ScreenKeyAuth(), tags=["screening"])


class Finding(Schema):
    code: str
    role: str
    seq: int
    field: str
    severity: str
    category: str
    blocking: str
    message_zh: str
    message_en: str
    proposed: str | None = None


class ScreenOut(Schema):
    application_id: str
    policy_no: str
    verdict: str
    findings: list[Finding]
    screening_id: int | None
    screened_at: str
    settings: str


class FieldError(Schema):
    field: str
    message: str


class Invalid(Schema):
    detail: str
    errors: list[FieldError]


class Error(Schema):
    detail: str


_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["application_id", "policy", "parties"],
                "properties": {
                    "application_id": {"type": "string", "maxLength": 100},
                    "policy": {"type": "object", "description": "policies columns of the book format"},
                    "parties": {
                        "type": "array",
                        "items": {"type": "object", "description": "parties columns of the book format"},
                    },
                    "changes": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    },
}


def _json(status: int, body: dict, **headers) -> JsonResponse:
    resp = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    for k, v in headers.items():
        resp[k] = v
    return resp


@router.post(
    "",
    response={200: ScreenOut, 400: Invalid, 403: Error, 409: Error, 413: Error, 429: Error},
    summary="Screen one application or change: verdict pass/refer/reject and the findings",
    openapi_extra={"requestBody": _BODY},
)
def screen(request):
    limit = settings.CUSTOS_SCREEN_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return _json(413, {"detail": f"body larger than {limit} bytes"})
    body = request.body
    if len(body) > limit:
        return _json(413, {"detail": f"body larger than {limit} bytes"})
    try:
        doc = json.loads(body)
    except RecursionError:  # the decoder recurses per bracket: '[' * 20000 exhausts the stack
        msg = "malformed JSON: arrays and objects nested too deeply"
        return _json(400, {"detail": "invalid application", "errors": [{"field": "", "message": msg}]})
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = (
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            if hasattr(exc, "msg")
            else ("malformed JSON: not UTF-8")
        )
        return _json(400, {"detail": "invalid application", "errors": [{"field": "", "message": msg}]})
    result = service.screen(request.screen_client, doc)
    headers = {"Idempotent-Replay": "true"} if result.replay else {}
    return _json(result.status, result.answer, **headers)
