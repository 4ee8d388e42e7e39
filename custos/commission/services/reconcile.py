"""Proof that the ledger holds together, month by month and payee by payee.

- every entry moves a non-zero amount between two different accounts, as its kind says;
- every statement's figures are the sums of its entries, net = due − held + released − deducted,
  payable = max(0, carried_in + net), and an approved statement paid exactly its payable;
- every payee's held balance is the sum of its items in the held state;
- every item's state is what replaying its entries in order gives, and an item is in one state."""

from __future__ import annotations

from collections import defaultdict

from custos.commission.models import Entry, ItemState, SettlementRun, Statement
from custos.commission.services.ledger import MOVES, A, K, S

_AFTER = {K.DUE: S.SETTLED, K.HOLD: S.HELD, K.RELEASE: S.SETTLED, K.DEDUCT: S.HELD}


def reconcile(month: str | None = None) -> list[str]:
    """The problems found (empty: the ledger reconciles). `month` limits the statement checks."""
    problems: list[str] = []
    runs = SettlementRun.objects.order_by("month", "seq")
    if month:
        runs = runs.filter(month=month)
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in Entry.objects.filter(run__in=runs).iterator(chunk_size=20_000):
        if (e.debit, e.credit) != MOVES[e.kind]:
            problems.append(f"entry {e.pk}: {e.kind} moves {e.credit}→{e.debit}")
        if e.amount == 0 and e.kind != K.PAY:
            problems.append(f"entry {e.pk}: amount 0")
        sums[e.statement_id][e.kind] += e.amount
    for st in Statement.objects.filter(run__in=runs).select_related("run"):
        s = sums[st.pk]
        where = f"{st.run} {st.payee_kind} {st.payee}"
        for field, kind in (
            ("due", K.DUE),
            ("held", K.HOLD),
            ("released", K.RELEASE),
            ("deducted", K.DEDUCT),
        ):
            if getattr(st, field) != s[kind]:
                problems.append(f"{where}: {field} {getattr(st, field)} ≠ entries {s[kind]}")
        if st.net != st.due - st.held + st.released - st.deducted:
            problems.append(f"{where}: net {st.net} ≠ due − held + released − deducted")
        if st.payable != max(0, st.carried_in + st.net) or st.carried_in > 0:
            problems.append(f"{where}: payable {st.payable} ≠ max(0, {st.carried_in} + {st.net})")
        paid = s[K.PAY]
        if paid != (st.payable if st.run.status == SettlementRun.Status.APPROVED else 0):
            problems.append(f"{where}: paid {paid} but payable {st.payable} ({st.run.status})")
    # held balances and item states, over the whole ledger (states are not per month)
    held: dict[tuple[str, str], int] = defaultdict(int)
    replay: dict[str, str] = {}
    for kind, payee_kind, payee, debit, credit, item_no, amount in (
        Entry.objects.order_by("run__month", "run__seq", "id")
        .values_list(
            "kind", "statement__payee_kind", "statement__payee", "debit", "credit", "item_no", "amount"
        )
        .iterator(chunk_size=20_000)
    ):
        if credit == A.HELD:
            held[(payee_kind, payee)] += amount
        if debit == A.HELD:
            held[(payee_kind, payee)] -= amount
        if kind in _AFTER:
            replay[item_no] = _AFTER[kind]
    in_state: dict[tuple[str, str], int] = defaultdict(int)
    seen = set()
    for st in ItemState.objects.iterator(chunk_size=20_000):
        seen.add(st.item_no)
        if replay.get(st.item_no) != st.state:
            problems.append(f"item {st.item_no}: state {st.state}, entries say {replay.get(st.item_no)}")
        if st.state == S.HELD:
            in_state[(st.payee_kind, st.payee)] += st.amount
    for item_no in sorted(set(replay) - seen):
        problems.append(f"item {item_no}: entries but no state")
    for payee in sorted(set(held) | set(in_state)):
        if held[payee] != in_state[payee]:
            problems.append(
                f"{payee[0]} {payee[1]}: held balance {held[payee]} ≠ held items {in_state[payee]}"
            )
    return problems
