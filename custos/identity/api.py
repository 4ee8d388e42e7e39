"""Persons in the REST API (/api/v1/persons): the persons in the caller's scope, one person, their
parties and their cross-channel conflicts (XC01–XC03). The same scope and masking as the pages
(custos.identity.services.persons): a person is seen only through the parties in scope, every read
is logged first, and a person with no party in scope is a 404 like one that does not exist."""

from __future__ import annotations

from ninja import Router, Schema
from ninja.errors import HttpError

from custos.access.capabilities import can
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.identity.services import persons as ps

router = Router(tags=["persons"])


class Error(Schema):
    detail: str


class PersonRow(Schema):
    person_id: str
    records: int
    policies: int
    channels: list[str]
    name: str  # masked
    gender: str
    birth_date: str  # masked
    conflicts: int  # open XC findings on the parties in scope


class PersonList(Schema):
    count: int
    page: int
    pages: int
    persons: list[PersonRow]


class PartyOut(Schema):
    policy_no: str
    role: str
    seq: int
    channel: str
    branch_code: str
    date: str | None  # the policy's application (or issue) date
    name: str
    gender: str
    birth_date: str
    id_type: str
    id_no: str
    mobile: str
    phone: str
    address: str
    email: str
    conflicts: dict[str, list[str]]  # field -> XC codes on it


class ConflictOut(Schema):
    id: int
    check_code: str
    policy_no: str
    role: str
    seq: int
    field: str
    value: str  # masked
    proposed: str  # masked
    detail: str


class PersonOut(Schema):
    person_id: str
    channels: list[str]
    parties: int
    conflicts: int


def _ctx(request) -> AccessContext:
    ctx = AccessContext.for_request(request)
    if not can(ctx, "identity.view"):
        raise HttpError(403, "your role does not see linked persons")
    return ctx


def _view(request, person_id: str, explain: bool = False) -> dict:
    ctx = _ctx(request)
    try:
        person = ps.person_for(ctx, person_id[:20])
        return ps.person_view(ctx, person, action="api", explain=explain)
    except ps.NotFound:
        raise HttpError(404, "no such person in your scope") from None
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned") from None


def _s(v) -> str:
    return "" if v is None else str(v)


@router.get("", response={200: PersonList, 403: Error, 503: Error},
            summary="The persons with a party in the caller's scope, a page at a time (masked, logged)")  # fmt: skip
def list_persons(request, q: str = "", page: int = 1, per_page: int = 20):
    ctx = _ctx(request)
    page, per_page = max(1, min(page, 10**9)), max(1, min(per_page, 100))
    try:
        listing = ps.person_list(ctx, q[:64], page, per_page=per_page, action="api")
    except ReadLogUnavailable:
        raise HttpError(503, "the read log is unavailable; no data returned") from None
    rows = [{**r, **{k: _s(r[k]) for k in ("name", "gender", "birth_date")}} for r in listing.rows]
    return {
        "count": listing.page.paginator.count,
        "page": listing.page.number,
        "pages": listing.page.paginator.num_pages,
        "persons": rows,
    }


@router.get("/{person_id}", response={200: PersonOut, 403: Error, 404: Error, 503: Error},
            summary="One person, as far as the caller's scope shows them")  # fmt: skip
def get_person(request, person_id: str):
    v = _view(request, person_id)
    return {"person_id": v["person_id"], "channels": v["channels"], "parties": len(v["records"]),
            "conflicts": len(v["conflicts"])}  # fmt: skip


@router.get("/{person_id}/parties", response={200: list[PartyOut], 403: Error, 404: Error, 503: Error},
            summary="The person's parties in the caller's scope: policy, role, channel, date, masked values")  # fmt: skip
def person_parties(request, person_id: str):
    v = _view(request, person_id)
    out = []
    for r in v["records"]:
        pol = r["policy"]
        out.append(
            {
                **{k: _s(r.get(k)) for k in ("policy_no", "role", *ps.VALUE_FIELDS)},
                "seq": r["seq"],
                "channel": _s(pol.get("channel")),
                "branch_code": _s(pol.get("branch_code")),
                "date": r["date"].isoformat() if r["date"] else None,
                "conflicts": {f: codes for f, codes in r["flags"].items() if codes},
            }
        )
    return out


@router.get("/{person_id}/conflicts", response={200: list[ConflictOut], 403: Error, 404: Error, 503: Error},
            summary="Open XC01–XC03 findings on the person's parties in scope (values and proposals masked)")  # fmt: skip
def person_conflicts(request, person_id: str):
    v = _view(request, person_id)
    return [
        {k: f[k] if k in ("id", "seq") else _s(f[k]) for k in ConflictOut.model_fields}
        for f in v["conflicts"]
    ]
