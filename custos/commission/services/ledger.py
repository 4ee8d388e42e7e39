"""A month's settlement: what falls due, what is held for untrue customer information, what is
released once it is corrected, what is clawed back from commission already paid.

An item is held while its policy has an open finding of the categories that hold commission
(missing or false information: the Measures' 不真实); it is released by the first run after the
last such finding closed. Commission already paid on a policy that now has one is deducted once
and then held like any other. Runs only add: a second run of a month with no new facts writes
nothing; with new facts it writes an adjustment run (seq + 1), never an edit of an earlier one."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import can
from custos.audit.record import record
from custos.book.models import BookLoad, CommissionItem, Policy
from custos.checks.models import Finding
from custos.commission.models import Account, Entry, ItemState, SettlementRun, Statement

HOLDING = ("missing", "false")  # the finding categories that hold commission
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
A, K, S = Account, Entry.Kind, ItemState.State
# (debit, credit) of each kind of entry; "owed" to the payee is what the payable account was credited
MOVES = {
    K.DUE: (A.EXPENSE, A.PAYABLE),
    K.HOLD: (A.PAYABLE, A.HELD),
    K.RELEASE: (A.HELD, A.PAYABLE),
    K.DEDUCT: (A.PAYABLE, A.HELD),
    K.PAY: (A.PAYABLE, A.PAID),
}


class CommissionError(Exception):
    pass


def fen(amount: Decimal) -> int:
    """Yuan (a Decimal with at most 2 places) as whole fen."""
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise CommissionError(f"{amount} is not a whole number of fen")
    return int(cents)


def yuan(fen_: int) -> Decimal:
    return (Decimal(fen_) / 100).quantize(Decimal("0.01"))


def check_month(month: str) -> str:
    if not _MONTH.fullmatch(month or ""):
        raise CommissionError(_("月份必须写作 YYYY-MM，收到的是“%(month)s”。") % {"month": month})
    return month


def derive_items(load: BookLoad) -> int:
    """Without a commissions table in the book: one first-year item per policy with a commission,
    due in the month of issue, unpaid, to the outlet that sold it or else the agent."""
    if CommissionItem.objects.filter(derived=False).exists():
        return 0
    have = set(CommissionItem.objects.values_list("item_no", flat=True))
    new = []
    for p in Policy.objects.filter(gone_load__isnull=True, commission__isnull=False).values(
        "policy_no", "partner_code", "agent_no", "issued_on", "commission"
    ):
        item_no = f"{p['policy_no']}-FY"
        if item_no in have or not (p["partner_code"] or p["agent_no"]) or p["issued_on"] is None:
            continue
        new.append(
            CommissionItem(
                item_no=item_no,
                policy_no=p["policy_no"],
                payee_kind="partner" if p["partner_code"] else "agent",
                payee=p["partner_code"] or p["agent_no"],
                kind="first_year",
                period=p["issued_on"].strftime("%Y-%m"),
                amount=p["commission"],
                derived=True,
                first_load=load,
                last_load=load,
            )
        )
    CommissionItem.objects.bulk_create(new, batch_size=5000)
    return len(new)


def _holding_findings() -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    rows = Finding.objects.filter(status=Finding.Status.OPEN, category__in=HOLDING).values_list(
        "policy_no", "id"
    )
    for policy_no, fid in rows.iterator(chunk_size=20_000):
        out[policy_no].append(fid)
    return out


def _owed_before(payees: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Each payee's payable balance before this run (credits − debits of the payable account)."""
    owed: dict[tuple[str, str], int] = defaultdict(int)
    rows = (
        Entry.objects.filter(statement__payee__in={p for _k, p in payees})
        .values("statement__payee_kind", "statement__payee", "debit", "credit")
        .annotate(total=Sum("amount"))
    )
    for r in rows:
        key = (r["statement__payee_kind"], r["statement__payee"])
        if key not in payees:
            continue
        if r["credit"] == A.PAYABLE:
            owed[key] += r["total"]
        if r["debit"] == A.PAYABLE:
            owed[key] -= r["total"]
    return owed


def settle(month: str, *, actor=None, by: str = "") -> SettlementRun | None:
    """Settle `month` against the current book and findings. Returns the new run, or None when
    nothing changed since the month's last run (the same facts settle to nothing new)."""
    check_month(month)
    load = BookLoad.objects.filter(status="done").order_by("-id").first()
    if load is None:
        raise CommissionError(_("还没有载入数据册：请先载入（custos load）。"))
    with transaction.atomic():
        derive_items(load)
        holds = _holding_findings()
        states = {s.item_no: s for s in ItemState.objects.select_for_update()}
        approved_runs = set(SettlementRun.objects.filter(status="approved").values_list("id", flat=True))
        lines: list[tuple] = []  # (kind, item, findings)
        live = CommissionItem.objects.filter(gone_load__isnull=True)
        for item in live.filter(period=month, paid_on__isnull=True).exclude(
            item_no__in=list(states)
        ):  # due this month, not settled before
            lines.append((K.DUE, item, []))
            if item.policy_no in holds:
                lines.append((K.HOLD, item, holds[item.policy_no]))
        held = [s for s in states.values() if s.state == S.HELD]
        by_no = {i.item_no: i for i in live.filter(item_no__in=[s.item_no for s in held])}
        for s in held:
            if s.policy_no not in holds and s.item_no in by_no:
                lines.append((K.RELEASE, by_no[s.item_no], []))
        paid = live.filter(policy_no__in=list(holds), period__lte=month).filter(
            Q(paid_on__isnull=False) | Q(item_no__in=[n for n, s in states.items() if s.state == S.SETTLED])
        )
        for item in paid:
            s = states.get(item.item_no)
            if s is not None and (s.state == S.HELD or s.run_id not in approved_runs):
                continue  # held already, or settled by a run not yet paid: not paid, nothing to claw back
            lines.append((K.DEDUCT, item, holds[item.policy_no]))
        if not lines:
            return None
        return _write_run(month, load, lines, actor, by)


def _write_run(month, load, lines, actor, by) -> SettlementRun:
    seq = SettlementRun.objects.filter(month=month).order_by("-seq").values_list("seq", flat=True).first()
    now = timezone.now()
    try:
        run = SettlementRun.objects.create(
            month=month,
            seq=0 if seq is None else seq + 1,
            load=load,
            prepared_by=actor if getattr(actor, "pk", None) else None,
            prepared_by_name=getattr(actor, "username", "") or by or "system",
            prepared_at=now,
        )
    except IntegrityError as exc:  # a concurrent run of the same month took this seq
        raise CommissionError(_("同一月份的另一次结算正在进行，请稍后重试。")) from exc
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind, item, _f in lines:
        sums[(item.payee_kind, item.payee)][kind] += fen(item.amount)
    owed = _owed_before(set(sums))
    statements = {}
    for (payee_kind, payee), s in sorted(sums.items()):
        net = s[K.DUE] - s[K.HOLD] + s[K.RELEASE] - s[K.DEDUCT]
        carried = min(0, owed.get((payee_kind, payee), 0))
        statements[(payee_kind, payee)] = Statement(
            run=run,
            payee_kind=payee_kind,
            payee=payee,
            due=s[K.DUE],
            held=s[K.HOLD],
            released=s[K.RELEASE],
            deducted=s[K.DEDUCT],
            net=net,
            carried_in=carried,
            payable=max(0, carried + net),
        )
    Statement.objects.bulk_create(statements.values(), batch_size=5000)
    entries, new_states = [], {}
    for kind, item, findings in lines:
        debit, credit = MOVES[kind]
        entries.append(
            Entry(
                run=run,
                statement=statements[(item.payee_kind, item.payee)],
                kind=kind,
                item_no=item.item_no,
                policy_no=item.policy_no,
                debit=debit,
                credit=credit,
                amount=fen(item.amount),
                findings=sorted(findings),
            )
        )
        new_states[item.item_no] = (item, S.HELD if kind in (K.HOLD, K.DEDUCT) else S.SETTLED)
    Entry.objects.bulk_create(entries, batch_size=5000)
    ItemState.objects.filter(item_no__in=list(new_states)).delete()
    ItemState.objects.bulk_create(
        [
            ItemState(
                item_no=no,
                policy_no=item.policy_no,
                payee_kind=item.payee_kind,
                payee=item.payee,
                amount=fen(item.amount),
                state=state,
                run=run,
            )
            for no, (item, state) in new_states.items()
        ],
        batch_size=5000,
    )
    totals = {
        f: sum(getattr(st, f) for st in statements.values())
        for f in ("due", "held", "released", "deducted", "net")
    }
    record(
        actor,
        "commission.settled",
        run,
        None,
        {"month": month, "seq": run.seq, "statements": len(statements), **totals},
        client="" if actor is not None else (by or "cli"),
    )
    return run


def held_items(payee_kind: str, payee: str) -> list[dict]:
    """What is held from a payee now, item by item, and the open findings whose correction
    releases it (for the payee's own page)."""
    holds = _holding_findings()
    out = []
    for s in ItemState.objects.filter(payee_kind=payee_kind, payee=payee, state=S.HELD).order_by("policy_no"):
        out.append(
            {
                "item_no": s.item_no,
                "policy_no": s.policy_no,
                "amount": yuan(s.amount),
                "findings": holds.get(s.policy_no, []),  # empty: corrected, released by the next run
            }
        )
    return out


def prepared_runs(month: str) -> list[SettlementRun]:
    return list(SettlementRun.objects.filter(month=check_month(month), status="prepared").order_by("seq"))


def approve(run: SettlementRun, actor) -> SettlementRun:
    """Finance approves a run (four eyes: never the preparer). Each statement's payable is paid;
    the run and its statements are immutable from here on."""
    if not can(actor, "commission.approve"):
        raise CommissionError(_("您没有审批佣金结算的权限。"))
    with transaction.atomic():
        run = SettlementRun.objects.select_for_update().get(pk=run.pk)
        if run.status == SettlementRun.Status.APPROVED:
            raise CommissionError(_("该结算已审批，不能再次审批。"))
        if run.prepared_by_id == actor.pk or run.prepared_by_name == actor.username:
            raise CommissionError(_("结算的编制人不能审批自己的结算（四眼原则）。"))
        pays = [
            Entry(run=run, statement=st, kind=K.PAY, debit=A.PAYABLE, credit=A.PAID, amount=st.payable)
            for st in run.statements.filter(payable__gt=0)
        ]
        Entry.objects.bulk_create(pays, batch_size=5000)
        SettlementRun.objects.filter(pk=run.pk).update(
            status=SettlementRun.Status.APPROVED, approved_by=actor, approved_at=timezone.now()
        )
        run.refresh_from_db()
        record(
            actor,
            "commission.approved",
            run,
            {"status": "prepared"},
            {"status": "approved", "paid": sum(e.amount for e in pays)},
        )
    return run
