"""The commission ledger: holds, releases, clawbacks, carry-forward, four eyes, immutability,
idempotency, reconciliation and the payment export — to the fen."""

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from custos.book.models import CommissionItem, Policy
from custos.checks.models import CheckRun, Finding
from custos.commission import services
from custos.commission.models import Entry, Immutable, ItemState, SettlementRun, Statement
from custos.commission.services import exports
from tests.conftest import make_user
from tests.test_findings_support import open_finding

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(small_book):
    """P1 (agent A1) and P3 (agent A2) sold by agents, P2 and P4 through outlet BK1."""
    run = CheckRun.objects.create(load=small_book, status=CheckRun.Status.DONE)
    items = [
        ("I1", "P1", "agent", "A1", "2026-01", "100.10", None),
        ("I2", "P3", "agent", "A2", "2026-01", "200.00", None),
        ("I3", "P2", "partner", "BK1", "2026-01", "30.05", None),
        ("I4", "P4", "partner", "BK1", "2026-01", "40.00", None),
        ("I5", "P1", "agent", "A1", "2026-02", "50.00", None),
        ("I0", "P3", "agent", "A2", "2025-12", "999.99", dt.date(2025, 12, 20)),  # paid before custos
    ]
    for no, policy, kind, payee, period, amount, paid in items:
        CommissionItem.objects.create(
            item_no=no, policy_no=policy, payee_kind=kind, payee=payee, kind="first_year", period=period,
            amount=Decimal(amount), paid_on=paid, first_load=small_book, last_load=small_book,
        )  # fmt: skip
    return run


def statement(run, payee):
    return Statement.objects.get(run=run, payee=payee)


def close(finding):
    Finding.objects.filter(pk=finding.pk).update(status=Finding.Status.CLOSED, closed_at=timezone.now())


def test_a_month_holds_the_items_of_policies_with_untrue_information(book):
    f = open_finding(book, "P1", code="ID03", field="id_no", category="false")
    open_finding(book, "P4", code="PH06", category="suspicious")  # suspicious does not hold
    run = services.settle("2026-01", by="test")
    a1, bk1, a2 = statement(run, "A1"), statement(run, "BK1"), statement(run, "A2")
    assert (a1.due, a1.held, a1.net, a1.payable) == (10010, 10010, 0, 0)
    assert (bk1.due, bk1.held, bk1.net) == (7005, 0, 7005)
    assert (a2.due, a2.deducted) == (20000, 0)  # I0 was paid, but P3 has no finding
    hold = Entry.objects.get(run=run, kind="hold")
    assert (hold.item_no, hold.findings) == ("I1", [f.pk])
    assert ItemState.objects.get(item_no="I1").state == "held"
    assert not Statement.objects.filter(run=run, payee="A1", due=5000).exists()  # February not due yet
    assert services.reconcile() == []


def test_a_second_run_without_new_facts_writes_nothing(book):
    open_finding(book, "P1", code="ID03", field="id_no")
    first = services.settle("2026-01", by="test")
    counts = (SettlementRun.objects.count(), Statement.objects.count(), Entry.objects.count())
    assert services.settle("2026-01", by="test") is None
    assert (SettlementRun.objects.count(), Statement.objects.count(), Entry.objects.count()) == counts
    assert first.seq == 0


def test_a_correction_releases_what_was_held_in_an_adjustment_run(book):
    f = open_finding(book, "P1", code="ID03", field="id_no")
    first = services.settle("2026-01", by="test")
    close(f)
    adj = services.settle("2026-01", by="test")
    assert adj.seq == 1
    a1 = statement(adj, "A1")
    assert (a1.due, a1.held, a1.released, a1.net) == (0, 0, 10010, 10010)
    assert statement(first, "A1").held == 10010  # the first run is not edited
    assert ItemState.objects.get(item_no="I1").state == "settled"
    assert services.reconcile() == []


def test_commission_already_paid_is_clawed_back_and_the_negative_net_carried_forward(book):
    open_finding(book, "P3", code="NM01", field="name", category="missing")
    jan = services.settle("2026-01", by="test")
    a2 = statement(jan, "A2")
    # I2 (200.00) due and held; I0 (999.99, paid in December) deducted
    assert (a2.due, a2.held, a2.deducted, a2.net, a2.payable) == (20000, 20000, 99999, -99999, 0)
    deduct = Entry.objects.get(run=jan, kind="deduct")
    assert deduct.item_no == "I0" and deduct.findings
    services.approve(jan, make_user("fin", "finance"))
    CommissionItem.objects.create(
        item_no="I6", policy_no="P2", payee_kind="agent", payee="A2", kind="renewal", period="2026-02",
        amount=Decimal("1500.00"), first_load=book.load, last_load=book.load,
    )  # fmt: skip
    feb = services.settle("2026-02", by="test")
    a2 = statement(feb, "A2")
    assert (a2.due, a2.net, a2.carried_in, a2.payable) == (150000, 150000, -99999, 50001)
    assert services.settle("2026-02", by="test") is None  # the deduction is not made twice
    assert services.reconcile() == []


def test_four_eyes_and_an_approved_run_is_immutable(book):
    preparer = make_user("fin1", "finance")
    run = services.settle("2026-01", actor=preparer)
    with pytest.raises(services.CommissionError, match="四眼"):
        services.approve(run, preparer)
    with pytest.raises(services.CommissionError):
        services.approve(run, make_user("cs", "customer_service"))
    run = services.approve(run, make_user("fin2", "finance"))
    assert run.status == "approved" and run.approved_by.username == "fin2"
    paid = sum(Entry.objects.filter(run=run, kind="pay").values_list("amount", flat=True))
    assert paid == sum(s.payable for s in run.statements.all()) == 10010 + 20000 + 7005
    st = run.statements.first()
    st.net += 1
    with pytest.raises(Immutable):
        st.save()
    with pytest.raises(Immutable):
        Entry.objects.filter(run=run).first().delete()
    with pytest.raises(services.CommissionError):
        services.approve(run, make_user("fin3", "finance"))
    assert services.reconcile() == []


def test_reconcile_finds_a_statement_altered_behind_the_ledger(book):
    open_finding(book, "P1", code="ID03", field="id_no")
    run = services.settle("2026-01", by="test")
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {Statement._meta.db_table} SET held = 0 WHERE run_id = %s AND payee = 'A1'", [run.pk]
        )
        cur.execute(f"UPDATE {ItemState._meta.db_table} SET state = 'settled' WHERE item_no = 'I1'")
    problems = services.reconcile()
    assert any("A1: held 0" in p for p in problems)
    assert any(p.startswith("item I1: state settled") for p in problems)
    with pytest.raises(CommandError, match="does NOT reconcile"):
        call_command("commission", "reconcile")


def test_the_payment_export_is_exact_to_the_fen(book, tmp_path):
    open_finding(book, "P1", code="ID03", field="id_no")
    run = services.settle("2026-01", by="test")
    with pytest.raises(services.CommissionError):  # nothing approved yet
        exports.export("2026-01", tmp_path / "x.csv")
    services.approve(run, make_user("fin", "finance"))
    call_command("commission", "export", "--month", "2026-01", str(tmp_path / "out.csv"))
    rows = list(csv.reader(open(tmp_path / "out.csv", encoding="utf-8")))
    assert rows[0][:8] == ["payee_kind", "payee", "period", "due", "held", "released", "deducted", "net"]
    assert rows[1] == ["agent", "A1", "2026-01", "100.10", "100.10", "0.00", "0.00", "0.00", "0.00", "0.00"]
    assert rows[3] == ["partner", "BK1", "2026-01", "70.05", "0.00", "0.00", "0.00", "70.05", "0.00", "70.05"]
    call_command("commission", "export", "--month", "2026-01", str(tmp_path / "out.xlsx"))
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "out.xlsx")
    assert wb.sheetnames == ["statements", "items"]
    assert [c.value for c in wb["statements"][2]][3] == pytest.approx(100.10)
    items = list(wb["items"].iter_rows(min_row=2, values_only=True))
    assert {r[4] for r in items if r[3] != "pay"} == {"I1", "I2", "I3", "I4"}
    assert sorted(r[6] for r in items if r[3] == "pay") == [pytest.approx(70.05), pytest.approx(200.0)]


def test_without_a_commissions_table_each_policy_brings_one_first_year_item(small_book):
    Policy.objects.filter(policy_no="P1").update(commission=Decimal("88.80"), issued_on=dt.date(2026, 3, 5))
    Policy.objects.filter(policy_no="P2").update(commission=Decimal("12.34"), issued_on=dt.date(2026, 3, 9))
    run = services.settle("2026-03", by="test")
    item = CommissionItem.objects.get(item_no="P2-FY")
    assert (item.payee_kind, item.payee, item.period, item.derived) == ("partner", "BK1", "2026-03", True)
    assert statement(run, "A1").due == 8880 and statement(run, "BK1").due == 1234


def test_the_command_says_what_it_did_and_refuses_a_bad_month(book, capsys):
    call_command("commission", "run", "--month", "2026-01")
    assert "settled 2026-01 (run 0)" in capsys.readouterr().out
    call_command("commission", "run", "--month", "2026-01")
    assert "nothing new to settle" in capsys.readouterr().out
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("commission", "run", "--month", "2026-13")
    with pytest.raises(CommandError, match="no prepared"):
        call_command(
            "commission", "approve", "--month", "2026-02", "--user", make_user("f", "finance").username
        )


def test_reconcile_finds_a_lost_state_a_wrong_move_and_a_held_balance_off(book):
    open_finding(book, "P1", code="ID03", field="id_no")
    run = services.settle("2026-01", by="test")
    hold = Entry.objects.get(run=run, kind="hold")
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {ItemState._meta.db_table} WHERE item_no = 'I2'")
        cur.execute(f"UPDATE {ItemState._meta.db_table} SET amount = amount + 1 WHERE item_no = 'I1'")
        cur.execute(f"UPDATE {Entry._meta.db_table} SET debit = 'paid' WHERE id = %s", [hold.pk])
    problems = services.reconcile()
    assert "item I2: entries but no state" in problems
    assert "agent A1: held balance 10010 ≠ held items 10011" in problems
    assert f"entry {hold.pk}: hold moves held→paid" in problems
    assert services.reconcile("2026-02") == [p for p in problems if not p.startswith("entry")]
