"""`custos bench commission` at a tiny size: the figures it reports, a second run that writes
nothing, and a ledger that reconciles (the 1 M-policy figures are in docs/benchmarks.md)."""

import json

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_commission_bench_settles_a_tiny_book_and_reconciles(tmp_path, custos_home, capsys):
    from custos.book.models import CommissionItem, Policy
    from custos.checks.models import Finding
    from custos.commission.models import Entry, SettlementRun, Statement

    out = tmp_path / "bench.json"
    call_command("bench", "commission", "--policies", "2000", "--in-place", "--json", str(out))
    figures = json.loads(out.read_text())
    fixture = figures["fixture"]
    assert fixture["policies"] == Policy.objects.count() == 2000
    assert fixture["commission_items"] == CommissionItem.objects.count()
    assert 4.5 <= fixture["commission_items"] / 2000 <= 5.5  # about five items per policy
    holding = Finding.objects.filter(status="open", category__in=("missing", "false"))
    assert fixture["open_holding_findings"] == holding.count() > 0
    assert 0.02 <= fixture["policies_with_holding_findings"] / 2000 <= 0.06  # ~4 % untrue
    settle = figures["settle"]
    for key in ("wall_seconds", "cpu_seconds_custos", "peak_rss_mb"):
        assert settle[key] > 0, key
    assert figures["peak_rss_mb"] >= settle["peak_rss_mb"] > 0
    run = SettlementRun.objects.get()  # the one run: the second wrote nothing
    assert settle["run"] == str(run) == "2025-12#0"
    assert settle["statements"] == Statement.objects.filter(run=run).count() > 0
    entries = settle["entries"]
    assert entries == {k: Entry.objects.filter(run=run, kind=k).count() for k in entries}
    assert entries["due"] > 0 and entries["deduct"] > 0 and entries["hold"] > 0  # clawback at ~4 %
    due = sum(Statement.objects.filter(run=run).values_list("due", flat=True))
    assert settle["fen"]["due"] == due > 0
    assert figures["second_run_same_month"]["wrote"] is False
    assert figures["reconcile"]["problems"] == 0
    assert figures["database"] in ("sqlite", "postgresql") and figures["month"] == "2025-12"
    assert len(figures["load_average_before"]) == 3
    assert "0 problems" in capsys.readouterr().out


def test_in_place_refuses_a_database_that_holds_a_book(small_book):
    from django.core.management.base import CommandError

    with pytest.raises((CommandError, SystemExit), match="already holds a book"):
        call_command("bench", "commission", "--policies", "100", "--in-place")
