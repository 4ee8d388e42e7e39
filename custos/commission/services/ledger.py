"""A month's settlement: what falls due, what is held for untrue customer information, what is
released once it is corrected, what is clawed back from commission already paid.

An item is held while its policy has an open finding of the categories that hold commission
(missing or false information: the Measures' 不真实); it is released by the first run after the
last such finding closed. Commission already paid on a policy that now has one is deducted once
and then held like any other. Runs only add: a second run of a month with no new facts writes
nothing; with new facts it writes an adjustment run (seq + 1), never an edit of an earlier one.

The run is set-based: a handful of INSERT … SELECT statements over the items, the findings and the
item states (temporary tables `_cm_hold` and `_cm_line`), the same SQL on SQLite and PostgreSQL, so
a month of a 1 M-policy book settles without one Python object per item (docs/commission.md)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
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
# the order of a run's entries: an item's hold follows its due entry (replaying gives "held")
_ORDER = {K.DUE: 0, K.HOLD: 1, K.RELEASE: 2, K.DEDUCT: 3}


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


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _pg() -> bool:
    return connection.vendor == "postgresql"


# A decimal column as whole fen: SQLite keeps a decimal as REAL (exact to the fen below 2**53 / 100),
# PostgreSQL as numeric; ROUND makes both the exact integer.
_FEN = "CAST(ROUND({} * 100) AS BIGINT)"


def derive_items(load: BookLoad) -> int:
    """Without a commissions table in the book: one first-year item per policy with a commission,
    due in the month of issue, unpaid, to the outlet that sold it or else the agent."""
    if CommissionItem.objects.filter(derived=False).exists():
        return 0
    month = "to_char(p.issued_on, 'YYYY-MM')" if _pg() else "strftime('%%Y-%%m', p.issued_on)"
    no = "p.policy_no || '-FY'"
    with connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {_t(CommissionItem)} (item_no, policy_no, payee_kind, payee, kind, period,
                    amount, paid_on, derived, first_load_id, last_load_id, gone_load_id, original, extra)
                SELECT {no}, p.policy_no,
                       CASE WHEN p.partner_code <> '' THEN 'partner' ELSE 'agent' END,
                       CASE WHEN p.partner_code <> '' THEN p.partner_code ELSE p.agent_no END,
                       'first_year', {month}, p.commission, NULL, %s, %s, %s, NULL, NULL, NULL
                FROM {_t(Policy)} p
                WHERE p.gone_load_id IS NULL AND p.commission IS NOT NULL AND p.issued_on IS NOT NULL
                  AND (p.partner_code <> '' OR p.agent_no <> '')
                  AND NOT EXISTS (SELECT 1 FROM {_t(CommissionItem)} c WHERE c.item_no = {no})
                ORDER BY p.id""",
            [True, load.pk, load.pk],
        )
        return max(cur.rowcount, 0)


def _holding_findings(policies=None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    rows = Finding.objects.filter(status=Finding.Status.OPEN, category__in=HOLDING)
    if policies is not None:
        rows = rows.filter(policy_no__in=policies)
    for policy_no, fid in rows.order_by("id").values_list("policy_no", "id").iterator(chunk_size=20_000):
        out.setdefault(policy_no, []).append(fid)
    return out


def _temp_tables(cur) -> None:
    """_cm_hold: the policies with an open holding finding and those findings' ids (a JSON list);
    _cm_line: the run's lines, one per entry to write, in the order they are written."""
    json_t = "JSONB" if _pg() else "TEXT"
    auto = "BIGSERIAL PRIMARY KEY" if _pg() else "INTEGER PRIMARY KEY"
    _drop_temp(cur)
    cur.execute(f"CREATE TEMP TABLE _cm_hold (policy_no VARCHAR(64) PRIMARY KEY, findings {json_t})")
    cur.execute(
        f"""CREATE TEMP TABLE _cm_line (id {auto}, ord INTEGER NOT NULL, kind VARCHAR(8) NOT NULL,
            item_no VARCHAR(64) NOT NULL, policy_no VARCHAR(64) NOT NULL,
            payee_kind VARCHAR(16) NOT NULL, payee VARCHAR(64) NOT NULL, amount BIGINT NOT NULL,
            findings {json_t})"""
    )


def _drop_temp(cur) -> None:
    for name in ("_cm_hold", "_cm_line"):
        cur.execute(f"DROP TABLE IF EXISTS {name}")


def _collect(cur, month: str) -> int:
    """Fill _cm_hold and _cm_line for `month`; the number of lines."""
    F, I, IS, R = _t(Finding), _t(CommissionItem), _t(ItemState), _t(SettlementRun)  # noqa: N806, E741
    if _pg():
        agg = "jsonb_agg(f.id ORDER BY f.id)"
        src = f"{F} f WHERE f.status = 'open' AND f.category IN ('missing', 'false')"
        cur.execute(f"INSERT INTO _cm_hold SELECT f.policy_no, {agg} FROM {src} GROUP BY f.policy_no")
    else:  # SQLite before 3.44 has no ORDER BY inside an aggregate: an ordered subquery instead
        cur.execute(
            f"""INSERT INTO _cm_hold
                SELECT policy_no, json_group_array(id) FROM (
                    SELECT f.policy_no, f.id FROM {F} f
                    WHERE f.status = 'open' AND f.category IN ('missing', 'false')
                    ORDER BY f.policy_no, f.id)
                GROUP BY policy_no"""
        )
    if _pg():
        cur.execute("ANALYZE _cm_hold")
    empty = "'[]'::jsonb" if _pg() else "'[]'"
    cols = "(ord, kind, item_no, policy_no, payee_kind, payee, amount, findings)"
    amount = _FEN.format("i.amount")
    # due this month and not settled before; held at once where the policy has a holding finding
    cur.execute(
        f"""INSERT INTO _cm_line {cols}
            SELECT 0, 'due', i.item_no, i.policy_no, i.payee_kind, i.payee, {amount}, {empty}
            FROM {I} i
            WHERE i.period = %s AND i.paid_on IS NULL AND i.gone_load_id IS NULL
              AND NOT EXISTS (SELECT 1 FROM {IS} s WHERE s.item_no = i.item_no)""",
        [month],
    )
    cur.execute(
        f"""INSERT INTO _cm_line {cols}
            SELECT 1, 'hold', l.item_no, l.policy_no, l.payee_kind, l.payee, l.amount, h.findings
            FROM _cm_line l JOIN _cm_hold h ON h.policy_no = l.policy_no
            WHERE l.kind = 'due'"""
    )
    # held before, on a policy with no holding finding left (and an item still in the book): what
    # was held is released, to the payee it was held from
    cur.execute(
        f"""INSERT INTO _cm_line {cols}
            SELECT 2, 'release', s.item_no, s.policy_no, s.payee_kind, s.payee, s.amount, {empty}
            FROM {IS} s JOIN {I} i ON i.item_no = s.item_no AND i.gone_load_id IS NULL
            WHERE s.state = 'held'
              AND NOT EXISTS (SELECT 1 FROM _cm_hold h WHERE h.policy_no = s.policy_no)"""
    )
    # paid on a policy that now has a holding finding: paid before custos saw it, or settled by an
    # approved run (a run not yet approved paid nothing), and not held already. From the few held
    # policies to their items by the policy_no index: left to themselves both planners scan every
    # item (SQLite by period: 38 s instead of 1.7 s at 5 M items; PostgreSQL a hash join: 17 s
    # instead of 6.5 on a loaded machine). SQLite's CROSS JOIN keeps the order; on PostgreSQL a
    # LATERAL subquery with OFFSET 0 (never flattened) is probed once per held policy.
    if _pg():
        items = f"CROSS JOIN LATERAL (SELECT * FROM {I} i WHERE i.policy_no = h.policy_no OFFSET 0) i"
    else:
        items = f"CROSS JOIN {I} i ON i.policy_no = h.policy_no"
    cur.execute(
        f"""INSERT INTO _cm_line {cols}
            SELECT 3, 'deduct', i.item_no, i.policy_no, i.payee_kind, i.payee, {amount}, h.findings
            FROM _cm_hold h {items}
            LEFT JOIN {IS} s ON s.item_no = i.item_no
            LEFT JOIN {R} r ON r.id = s.run_id
            WHERE i.gone_load_id IS NULL AND i.period <= %s
              AND ((s.id IS NULL AND i.paid_on IS NOT NULL)
                   OR (s.state = 'settled' AND r.status = 'approved'))""",
        [month],
    )
    cur.execute("SELECT COUNT(*) FROM _cm_line")
    n = cur.fetchone()[0]
    if n and _pg():
        cur.execute("ANALYZE _cm_line")  # the planner knows nothing of a temporary table otherwise
    return n


def settle(month: str, *, actor=None, by: str = "") -> SettlementRun | None:
    """Settle `month` against the current book and findings. Returns the new run, or None when
    nothing changed since the month's last run (the same facts settle to nothing new)."""
    check_month(month)
    load = BookLoad.objects.filter(status="done").order_by("-id").first()
    if load is None:
        raise CommissionError(_("还没有载入数据册：请先载入（custos load）。"))
    with transaction.atomic(), connection.cursor() as cur:
        if _pg():  # one settlement at a time: item states are read, then rewritten
            cur.execute(f"LOCK TABLE {_t(ItemState)} IN EXCLUSIVE MODE")
        derive_items(load)
        _temp_tables(cur)
        try:
            if not _collect(cur, month):
                return None
            return _write_run(cur, month, load, actor, by)
        finally:
            _drop_temp(cur)


def _write_run(cur, month, load, actor, by) -> SettlementRun:
    seq = SettlementRun.objects.filter(month=month).order_by("-seq").values_list("seq", flat=True).first()
    try:
        with transaction.atomic():
            run = SettlementRun.objects.create(
                month=month,
                seq=0 if seq is None else seq + 1,
                load=load,
                prepared_by=actor if getattr(actor, "pk", None) else None,
                prepared_by_name=getattr(actor, "username", "") or by or "system",
                prepared_at=timezone.now(),
            )
    except IntegrityError as exc:  # a concurrent run of the same month took this seq
        raise CommissionError(_("同一月份的另一次结算正在进行，请稍后重试。")) from exc
    ST, E, IS = _t(Statement), _t(Entry), _t(ItemState)  # noqa: N806

    def by_kind(kind):
        return f"SUM(CASE WHEN l.kind = '{kind}' THEN l.amount ELSE 0 END)"

    # the payable balance each payee carried in: credits − debits of its payable account over all
    # earlier entries (one aggregate, joined); a positive balance was paid, so only a negative one
    # carries
    owed = f"""(SELECT o.payee_kind, o.payee,
                       SUM(CASE WHEN e.credit = 'payable' THEN e.amount ELSE 0 END)
                       - SUM(CASE WHEN e.debit = 'payable' THEN e.amount ELSE 0 END) AS owed
                FROM {ST} o JOIN {E} e ON e.statement_id = o.id
                WHERE o.run_id <> %s GROUP BY o.payee_kind, o.payee)"""
    net = "g.due - g.held + g.released - g.deducted"
    carried = "CASE WHEN w.owed < 0 THEN w.owed ELSE 0 END"
    cur.execute(
        f"""INSERT INTO {ST} (run_id, payee_kind, payee, due, held, released, deducted, net,
                              carried_in, payable)
            SELECT %s, g.payee_kind, g.payee, g.due, g.held, g.released, g.deducted, {net}, {carried},
                   CASE WHEN {carried} + {net} > 0 THEN {carried} + {net} ELSE 0 END
            FROM (SELECT l.payee_kind, l.payee, {by_kind("due")} AS due, {by_kind("hold")} AS held,
                         {by_kind("release")} AS released, {by_kind("deduct")} AS deducted
                  FROM _cm_line l GROUP BY l.payee_kind, l.payee) g
            LEFT JOIN {owed} w ON w.payee_kind = g.payee_kind AND w.payee = g.payee
            ORDER BY g.payee_kind, g.payee""",
        [run.pk, run.pk],
    )
    moves = " ".join(f"WHEN '{k.value}' THEN '{d.value}'" for k, (d, _c) in MOVES.items())
    credits = " ".join(f"WHEN '{k.value}' THEN '{c.value}'" for k, (_d, c) in MOVES.items())
    cur.execute(
        f"""INSERT INTO {E} (run_id, statement_id, kind, item_no, policy_no, debit, credit, amount,
                             findings)
            SELECT %s, st.id, l.kind, l.item_no, l.policy_no, CASE l.kind {moves} END,
                   CASE l.kind {credits} END, l.amount, l.findings
            FROM _cm_line l JOIN {ST} st
              ON st.run_id = %s AND st.payee_kind = l.payee_kind AND st.payee = l.payee
            ORDER BY l.ord, l.item_no""",
        [run.pk, run.pk],
    )
    # each item's state after the run: held if it was held or deducted, else settled (a due item
    # has a hold line exactly when its policy is in _cm_hold: one row per item, no grouping).
    # Only released and deducted items can have a state already (due ones have none by definition).
    cur.execute(f"DELETE FROM {IS} WHERE item_no IN (SELECT item_no FROM _cm_line WHERE ord >= 2)")
    cur.execute(
        f"""INSERT INTO {IS} (item_no, policy_no, payee_kind, payee, amount, state, run_id)
            SELECT l.item_no, l.policy_no, l.payee_kind, l.payee, l.amount,
                   CASE WHEN l.kind = 'deduct' THEN 'held' WHEN l.kind = 'release' THEN 'settled'
                        WHEN EXISTS (SELECT 1 FROM _cm_hold h WHERE h.policy_no = l.policy_no)
                        THEN 'held' ELSE 'settled' END, %s
            FROM _cm_line l WHERE l.kind <> 'hold'
            ORDER BY l.item_no""",
        [run.pk],
    )
    cur.execute(
        f"SELECT COUNT(*), SUM(due), SUM(held), SUM(released), SUM(deducted), SUM(net) FROM {ST} "
        "WHERE run_id = %s",
        [run.pk],
    )
    n, *sums = cur.fetchone()
    totals = dict(
        zip(("due", "held", "released", "deducted", "net"), (int(v or 0) for v in sums), strict=True)
    )
    record(
        actor,
        "commission.settled",
        run,
        None,
        {"month": month, "seq": run.seq, "statements": n, **totals},
        client="" if actor is not None else (by or "cli"),
    )
    return run


def held_items(payee_kind: str, payee: str) -> list[dict]:
    """What is held from a payee now, item by item, and the open findings whose correction
    releases it (for the payee's own page)."""
    states = list(
        ItemState.objects.filter(payee_kind=payee_kind, payee=payee, state=S.HELD).order_by("policy_no")
    )
    holds = _holding_findings(sorted({s.policy_no for s in states}))
    return [
        {
            "item_no": s.item_no,
            "policy_no": s.policy_no,
            "amount": yuan(s.amount),
            "findings": holds.get(s.policy_no, []),  # empty: corrected, released by the next run
        }
        for s in states
    ]


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
        empty = "'[]'::jsonb" if _pg() else "'[]'"
        with connection.cursor() as cur:
            cur.execute(
                f"""INSERT INTO {_t(Entry)} (run_id, statement_id, kind, item_no, policy_no, debit,
                                             credit, amount, findings)
                    SELECT %s, st.id, 'pay', '', '', 'payable', 'paid', st.payable, {empty}
                    FROM {_t(Statement)} st WHERE st.run_id = %s AND st.payable > 0 ORDER BY st.id""",
                [run.pk, run.pk],
            )
            cur.execute(
                f"SELECT COALESCE(SUM(payable), 0) FROM {_t(Statement)} WHERE run_id = %s AND payable > 0",
                [run.pk],
            )
            paid = int(cur.fetchone()[0])
        SettlementRun.objects.filter(pk=run.pk).update(
            status=SettlementRun.Status.APPROVED, approved_by=actor, approved_at=timezone.now()
        )
        run.refresh_from_db()
        record(
            actor, "commission.approved", run, {"status": "prepared"}, {"status": "approved", "paid": paid}
        )
    return run
