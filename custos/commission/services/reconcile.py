"""Proof that the ledger holds together, month by month and payee by payee.

- every entry moves a non-zero amount between two different accounts, as its kind says;
- every statement's figures are the sums of its entries, net = due − held + released − deducted,
  payable = max(0, carried_in + net), and an approved statement paid exactly its payable;
- every payee's held balance is the sum of its items in the held state;
- every item's state is what replaying its entries in order gives, and an item is in one state.

The sums and the replay are SQL aggregates (the last entry of each item by a window function), so a
ledger of millions of entries is proved without loading it; the comparisons are made here, on one
row per statement, per payee, or per item that disagrees. None of it reuses the settlement's SQL."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from custos.commission.models import Entry, ItemState, SettlementRun, Statement
from custos.commission.services.ledger import MOVES, A, K, S

_AFTER = {K.DUE: S.SETTLED, K.HOLD: S.HELD, K.RELEASE: S.SETTLED, K.DEDUCT: S.HELD}
_FIELDS = (("due", K.DUE), ("held", K.HOLD), ("released", K.RELEASE), ("deducted", K.DEDUCT))


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def reconcile(month: str | None = None) -> list[str]:
    """The problems found (empty: the ledger reconciles). `month` limits the statement checks."""
    problems: list[str] = []
    E, ST, R, IS = _t(Entry), _t(Statement), _t(SettlementRun), _t(ItemState)  # noqa: N806
    where, params = ("WHERE r.month = %s", [month]) if month else ("", [])
    moves = " OR ".join(
        f"(e.kind = '{k.value}' AND e.debit = '{d.value}' AND e.credit = '{c.value}')"
        for k, (d, c) in MOVES.items()
    )
    by_kind = ", ".join(
        f"SUM(CASE WHEN e.kind = '{k.value}' THEN e.amount ELSE 0 END)" for k in (*_AFTER, K.PAY)
    )
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT e.id, e.kind, e.debit, e.credit, e.amount FROM {E} e JOIN {R} r ON r.id = e.run_id
                {where} {"AND" if month else "WHERE"} (NOT ({moves}) OR (e.amount = 0 AND e.kind <> 'pay'))
                ORDER BY e.id""",
            params,
        )
        for pk, kind, debit, credit, amount in cur.fetchall():
            if (debit, credit) != MOVES.get(kind):
                problems.append(f"entry {pk}: {kind} moves {credit}→{debit}")
            if amount == 0 and kind != K.PAY:
                problems.append(f"entry {pk}: amount 0")
        cur.execute(
            f"""SELECT r.month, r.seq, r.status, st.payee_kind, st.payee, st.due, st.held, st.released,
                       st.deducted, st.net, st.carried_in, st.payable, {by_kind}
                FROM {ST} st JOIN {R} r ON r.id = st.run_id LEFT JOIN {E} e ON e.statement_id = st.id
                {where}
                GROUP BY st.id, r.month, r.seq, r.status, st.payee_kind, st.payee, st.due, st.held,
                         st.released, st.deducted, st.net, st.carried_in, st.payable
                ORDER BY r.month, r.seq, st.payee_kind, st.payee""",
            params,
        )
        for row in cur.fetchall():
            run_month, seq, status, payee_kind, payee = row[:5]
            st = dict(
                zip(
                    ("due", "held", "released", "deducted", "net", "carried_in", "payable"),
                    row[5:12],
                    strict=True,
                )
            )
            sums = dict(zip((*_AFTER, K.PAY), (int(v or 0) for v in row[12:]), strict=True))
            at = f"{run_month}#{seq} {payee_kind} {payee}"
            for field, kind in _FIELDS:
                if st[field] != sums[kind]:
                    problems.append(f"{at}: {field} {st[field]} ≠ entries {sums[kind]}")
            if st["net"] != st["due"] - st["held"] + st["released"] - st["deducted"]:
                problems.append(f"{at}: net {st['net']} ≠ due − held + released − deducted")
            if st["payable"] != max(0, st["carried_in"] + st["net"]) or st["carried_in"] > 0:
                problems.append(f"{at}: payable {st['payable']} ≠ max(0, {st['carried_in']} + {st['net']})")
            if sums[K.PAY] != (st["payable"] if status == SettlementRun.Status.APPROVED else 0):
                problems.append(f"{at}: paid {sums[K.PAY]} but payable {st['payable']} ({status})")
        # held balances and item states, over the whole ledger (states are not per month)
        held: dict[tuple[str, str], int] = defaultdict(int)
        cur.execute(
            f"""SELECT st.payee_kind, st.payee,
                       SUM(CASE WHEN e.credit = '{A.HELD.value}' THEN e.amount ELSE 0 END)
                       - SUM(CASE WHEN e.debit = '{A.HELD.value}' THEN e.amount ELSE 0 END)
                FROM {E} e JOIN {ST} st ON st.id = e.statement_id GROUP BY st.payee_kind, st.payee"""
        )
        for payee_kind, payee, amount in cur.fetchall():
            held[(payee_kind, payee)] += int(amount or 0)
        in_state: dict[tuple[str, str], int] = defaultdict(int)
        cur.execute(
            f"SELECT payee_kind, payee, SUM(amount) FROM {IS} WHERE state = %s GROUP BY payee_kind, payee",
            [S.HELD],
        )
        for payee_kind, payee, amount in cur.fetchall():
            in_state[(payee_kind, payee)] += int(amount or 0)
        after = " ".join(f"WHEN '{k.value}' THEN '{s.value}'" for k, s in _AFTER.items())
        last = f"""(SELECT item_no, CASE kind {after} END AS state FROM (
                      SELECT e.item_no, e.kind, ROW_NUMBER() OVER (
                          PARTITION BY e.item_no ORDER BY r.month DESC, r.seq DESC, e.id DESC) AS n
                      FROM {E} e JOIN {R} r ON r.id = e.run_id WHERE e.kind <> 'pay') x WHERE n = 1)"""
        cur.execute(
            f"""SELECT s.item_no, s.state, l.state FROM {IS} s LEFT JOIN {last} l ON l.item_no = s.item_no
                WHERE l.state IS NULL OR l.state <> s.state ORDER BY s.item_no"""
        )
        for item_no, state, replay in cur.fetchall():
            problems.append(f"item {item_no}: state {state}, entries say {replay}")
        cur.execute(
            f"""SELECT l.item_no FROM {last} l
                WHERE NOT EXISTS (SELECT 1 FROM {IS} s WHERE s.item_no = l.item_no) ORDER BY l.item_no"""
        )
        for (item_no,) in cur.fetchall():
            problems.append(f"item {item_no}: entries but no state")
    for payee in sorted(set(held) | set(in_state)):
        if held[payee] != in_state[payee]:
            problems.append(
                f"{payee[0]} {payee[1]}: held balance {held[payee]} ≠ held items {in_state[payee]}"
            )
    return problems
