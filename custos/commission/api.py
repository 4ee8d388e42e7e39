"""Commission in the REST API (/api/v1/commission): statements and their items for finance,
compliance and auditors (commission.view); an agent's or a partner outlet's own statements and what
is held from it (commission.own). Amounts are decimal strings in yuan with exactly 2 places, never
floats. No customer data: items name policies, payees and the finding ids behind a hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Query, Router, Schema
from ninja.errors import HttpError

from custos.access.capabilities import can
from custos.commission import services
from custos.commission.models import Entry, ItemState, SettlementRun, Statement
from custos.commission.services.ledger import check_month
from custos.commission.services.payees import own_payee
from custos.core.params import ID_MAX

router = Router(tags=["commission"])

MONEY = ("due", "held", "released", "deducted", "net", "carried_in", "payable")


class Error(Schema):
    detail: str


class StatementOut(Schema):
    id: int
    month: str
    run_seq: int  # 0: the month's first run; 1, 2, …: adjustments
    run_status: str  # prepared | approved
    payee_kind: str
    payee: str
    due: Decimal
    held: Decimal
    released: Decimal
    deducted: Decimal
    net: Decimal
    carried_in: Decimal
    payable: Decimal


class EntryOut(Schema):
    kind: str  # due | hold | release | deduct | pay
    item_no: str
    policy_no: str
    debit: str
    credit: str
    amount: Decimal
    findings: list[int]  # the open findings behind a hold or a deduction


class StatementDetail(StatementOut):
    approved_at: dt.datetime | None
    entries: list[EntryOut]


class StatementPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[StatementOut]


class ItemOut(Schema):
    item_no: str
    policy_no: str
    payee_kind: str
    payee: str
    amount: Decimal
    state: str  # settled | held
    run_month: str
    run_seq: int


class ItemPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ItemOut]


class HeldOut(Schema):
    item_no: str
    policy_no: str
    amount: Decimal
    findings: list[int]  # correcting these releases the item at the next run; empty: released then


class Mine(Schema):
    payee_kind: str
    payee: str
    statements: list[StatementOut]
    held: list[HeldOut]
    held_total: Decimal


class StatementFilters(Schema):
    month: str | None = None
    payee_kind: str | None = None
    payee: str | None = None
    status: str | None = None  # prepared | approved


class ItemFilters(Schema):
    policy_no: str | None = None
    payee_kind: str | None = None
    payee: str | None = None
    state: str | None = None  # settled | held


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, 500)), max(0, min(offset, 2**62))  # past any row, still bindable


def _clean(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if "\x00" in value or len(value) > 64:
        raise HttpError(400, f"{field}: not a value this field can hold")
    return value


def _statement(st: Statement) -> dict:
    return {
        "id": st.pk,
        "month": st.run.month,
        "run_seq": st.run.seq,
        "run_status": st.run.status,
        "payee_kind": st.payee_kind,
        "payee": st.payee,
        **{f: services.yuan(getattr(st, f)) for f in MONEY},
    }


def _require_view(request) -> None:
    if not can(request.user, "commission.view"):
        raise HttpError(403, "your role may not read commission statements")


@router.get(
    "/statements",
    response={200: StatementPage, 400: Error, 403: Error},
    summary="Commission statements (finance, compliance, audit)",
)
def list_statements(request, filters: Query[StatementFilters], limit: int = 50, offset: int = 0):
    _require_view(request)
    limit, offset = _page(limit, offset)
    qs = Statement.objects.select_related("run")
    if filters.month is not None:
        try:
            qs = qs.filter(run__month=check_month(filters.month))
        except services.CommissionError as exc:
            raise HttpError(400, f"month: {exc}") from None
    if filters.status is not None:
        if filters.status not in SettlementRun.Status.values:
            raise HttpError(400, "status must be prepared or approved")
        qs = qs.filter(run__status=filters.status)
    for field in ("payee_kind", "payee"):
        value = _clean(getattr(filters, field), field)
        if value is not None:
            qs = qs.filter(**{field: value})
    qs = qs.order_by("-run__month", "-run__seq", "payee_kind", "payee")
    return {
        "count": qs.count(),
        "limit": limit,
        "offset": offset,
        "items": [_statement(st) for st in qs[offset : offset + limit]],
    }


@router.get(
    "/statements/{statement_id}",
    response={200: StatementDetail, 403: Error, 404: Error},
    summary="One statement with its items (entries) and the findings behind each hold",
)
def get_statement(request, statement_id: int):
    _require_view(request)
    st = (
        Statement.objects.select_related("run").filter(pk=statement_id).first()
        if 0 < statement_id <= ID_MAX
        else None
    )
    if st is None:
        raise HttpError(404, "statement not found")
    entries = [
        {
            "kind": e.kind,
            "item_no": e.item_no,
            "policy_no": e.policy_no,
            "debit": e.debit,
            "credit": e.credit,
            "amount": services.yuan(e.amount),
            "findings": e.findings,
        }
        for e in Entry.objects.filter(statement=st).order_by("kind", "item_no", "id")
    ]
    return {**_statement(st), "approved_at": st.run.approved_at, "entries": entries}


@router.get(
    "/items",
    response={200: ItemPage, 400: Error, 403: Error},
    summary="Settled commission items and where each stands (settled or held)",
)
def list_items(request, filters: Query[ItemFilters], limit: int = 50, offset: int = 0):
    _require_view(request)
    limit, offset = _page(limit, offset)
    qs = ItemState.objects.select_related("run")
    if filters.state is not None:
        if filters.state not in ItemState.State.values:
            raise HttpError(400, "state must be settled or held")
        qs = qs.filter(state=filters.state)
    for field in ("policy_no", "payee_kind", "payee"):
        value = _clean(getattr(filters, field), field)
        if value is not None:
            qs = qs.filter(**{field: value})
    qs = qs.order_by("policy_no", "item_no")
    items = [
        {
            "item_no": s.item_no,
            "policy_no": s.policy_no,
            "payee_kind": s.payee_kind,
            "payee": s.payee,
            "amount": services.yuan(s.amount),
            "state": s.state,
            "run_month": s.run.month,
            "run_seq": s.run.seq,
        }
        for s in qs[offset : offset + limit]
    ]
    return {"count": qs.count(), "limit": limit, "offset": offset, "items": items}


@router.get(
    "/mine",
    response={200: Mine, 403: Error, 404: Error},
    summary="Your own statements (agent or partner outlet) and what is held from you",
)
def mine(request):
    if not can(request.user, "commission.own"):
        raise HttpError(403, "only agents and partner outlets have commission statements")
    payee = own_payee(request.user)
    if payee is None:
        raise HttpError(404, "your profile names no staff number or partner outlet")
    qs = Statement.objects.filter(payee_kind=payee[0], payee=payee[1]).select_related("run")
    held = services.held_items(*payee)
    return {
        "payee_kind": payee[0],
        "payee": payee[1],
        "statements": [_statement(st) for st in qs.order_by("-run__month", "-run__seq")[:120]],
        "held": held,
        "held_total": sum((h["amount"] for h in held), Decimal("0.00")),
    }
