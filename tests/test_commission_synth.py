"""The synthetic book's commissions.csv, and the ledger over every month of a synthetic book: load,
check, settle each month in order with four eyes, correct some customer information in the next
book, settle again — the ledger reconciles after every step, on SQLite and PostgreSQL."""

import csv
import hashlib
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from custos.domain.bookformat import TABLES
from custos.synth import commissions as synth_commissions
from custos.synth import generate_book
from custos.synth import generator as synth_generator


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.csv"))
    }


# one worker builds the module's fixture (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_commission_synth")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cbook")
    return out, generate_book(out, 2000, 21, workers=1)


def test_commissions_follow_the_format_and_the_policies(book):
    out, summary = book
    rows = read(out / "commissions.csv")
    with open(out / "commissions.csv", encoding="utf-8", newline="") as f:
        assert tuple(next(csv.reader(f))) == TABLES["commissions"].column_names
    assert summary["rows"]["commissions"] == len(rows)
    policies = {p["policy_no"]: p for p in read(out / "policies.csv")}
    staff = {s["staff_no"] for s in read(out / "staff.csv")}
    partners = {p["partner_code"] for p in read(out / "partners.csv")}
    assert 4.0 <= len(rows) / len(policies) <= 6.0  # about five items per policy
    assert len({r["item_no"] for r in rows}) == len(rows)
    kinds = Counter(r["kind"] for r in rows)
    assert (
        {"first_year", "renewal", "bonus"} <= set(kinds) <= {"first_year", "renewal", "bonus", "adjustment"}
    )
    by_policy = defaultdict(list)
    for r in rows:
        by_policy[r["policy_no"]].append(r)
        p = policies[r["policy_no"]]
        if p["partner_code"]:  # the outlet that sold it is paid (手续费), else the agent (佣金)
            assert (r["payee_kind"], r["payee"]) == ("partner", p["partner_code"])
        else:
            assert (r["payee_kind"], r["payee"]) == ("agent", p["agent_no"])
        assert r["payee"] in (partners if r["payee_kind"] == "partner" else staff)
        whole, frac = r["amount"].lstrip("-").split(".")
        assert len(frac) == 2 and whole.isdigit()
        assert Decimal(r["amount"]) != 0 and (Decimal(r["amount"]) < 0) == (r["kind"] == "adjustment")
        assert "2010-01" <= r["period"] <= "2025-12"
        assert bool(r["paid_on"]) == (r["period"] <= "2025-10")  # the last two months are unpaid
        if r["paid_on"]:
            assert r["paid_on"][:7] > r["period"]
    for policy_no, items in by_policy.items():
        p = policies[policy_no]
        first = [i for i in items if i["kind"] == "first_year"]
        assert len(first) == 1 and Decimal(first[0]["amount"]) == Decimal(p["commission"])
        assert first[0]["period"] == p["issued_on"][:7]
        for i in items:
            if i["kind"] == "renewal":  # on an anniversary, a share of the first year's, to the fen
                assert i["period"][5:] == first[0]["period"][5:] and i["period"] > first[0]["period"]
                assert 0 < Decimal(i["amount"]) <= Decimal(p["commission"]) * Decimal("0.3")
        renewals = sum(1 for i in items if i["kind"] == "renewal")
        if p["term_years"] == "1":
            assert renewals == 0
    # items of the book's last two months exist unpaid (they fall due) and older ones paid (clawback)
    assert any(not r["paid_on"] for r in rows) and sum(1 for r in rows if r["paid_on"]) > len(rows) / 2


def test_same_seed_same_commissions_and_the_other_files_keep_their_bytes(tmp_path, monkeypatch):
    generate_book(tmp_path / "a", 1500, 8, workers=1, chunk_size=600)
    generate_book(tmp_path / "b", 1500, 8, workers=2, chunk_size=600)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    monkeypatch.setattr(synth_generator, "write_commissions", lambda *a, **k: 0)
    generate_book(tmp_path / "c", 1500, 8, workers=1, chunk_size=600)
    without = digest(tmp_path / "c")
    assert "commissions.csv" not in without
    assert {k: v for k, v in digest(tmp_path / "a").items() if k != "commissions.csv"} == without


def test_a_gb18030_book_has_its_commissions_in_the_same_encoding(tmp_path):
    generate_book(tmp_path, 200, 3, workers=1, encoding="gb18030")
    raw = (tmp_path / "commissions.csv").read_bytes()
    assert raw.decode("gb18030").splitlines()[0] == ",".join(TABLES["commissions"].column_names)
    assert len(raw.decode("gb18030").splitlines()) > 200


def test_amounts_are_integer_fen_whatever_the_commission():
    import random

    row = {
        "policy_no": "X1",
        "partner_code": "",
        "agent_no": "S1",
        "commission": "1234.57",
        "issued_on": "2015-03-09",
        "term_years": "20",
        "status": "in_force",
    }
    items = synth_commissions.items_of(row, random.Random(1))
    renewals = [i for i in items if i[4] == "renewal"]
    assert [i[6] for i in renewals][:3] == ["370.37", "246.91", "185.18"]  # 30 %, 20 %, 15 %, floored
    assert len(renewals) == 9 and renewals[-1][5] == "2024-03"
    assert synth_commissions.items_of({**row, "agent_no": ""}, random.Random(1)) == []


# --- the ledger over a whole synthetic book -----------------------------------------------------


def _months(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _correct_mobiles(book_dir: Path, delta: Path, policies: set[str]) -> int:
    """The next book from the core system: the applicants of `policies` with a valid mobile of
    their own (what a correction brings back). Written as a delta book of parties."""
    from custos.domain.bookformat import TABLES

    delta.mkdir()
    rows = [
        r for r in read(book_dir / "parties.csv") if r["policy_no"] in policies and r["role"] == "applicant"
    ]
    cols = TABLES["parties"].column_names
    with open(delta / "parties.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for k, r in enumerate(sorted(rows, key=lambda r: r["policy_no"])):
            r["mobile"] = f"1391{k:03d}{7345 + 3 * k:04d}"
            w.writerow([r[c] for c in cols])
    return len(rows)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_every_month_of_a_synthetic_book_settles_approves_and_reconciles(tmp_path, custos_home):
    from custos.book.models import CommissionItem
    from custos.book.services import load_book
    from custos.checks.models import Finding
    from custos.checks.services import run_check
    from custos.commission import services
    from custos.commission.models import Entry, ItemState, SettlementRun, Statement
    from tests.conftest import make_user

    generate_book(tmp_path / "book", 300, 7, workers=1)
    load = load_book(tmp_path / "book")
    assert load.status == "done", load.errors
    assert CommissionItem.objects.filter(derived=False).count() == load.row_counts["commissions"] > 1000
    run_check(load=load)
    holding = Finding.objects.filter(status="open", category__in=services.HOLDING)
    held_policies = set(holding.values_list("policy_no", flat=True))
    assert held_policies and CommissionItem.objects.filter(policy_no__in=held_policies).exists()

    preparer, approver = make_user("fin1", "finance"), make_user("fin2", "finance")
    periods = CommissionItem.objects.values_list("period", flat=True)
    months = _months(min(periods), max(periods))
    assert len(months) > 100
    runs = 0
    for month in months:
        run = services.settle(month, actor=preparer)
        if run is not None:
            runs += 1
            with pytest.raises(services.CommissionError):
                services.approve(run, preparer)  # four eyes
            services.approve(run, approver)
        assert services.reconcile() == [], month
    assert services.settle(months[-1], actor=preparer) is None  # nothing new: nothing written
    assert runs >= 2
    totals = {f: sum(Statement.objects.values_list(f, flat=True)) for f in ("due", "held", "deducted")}
    assert all(totals.values()), totals  # due in the unpaid months, held, clawed back
    # every item of a settled month is in one state; paid items of clean policies need none
    settled = ItemState.objects.count()
    assert settled == Entry.objects.exclude(kind="pay").values("item_no").distinct().count()
    assert set(
        ItemState.objects.filter(state="held").values_list("policy_no", flat=True)
    ) == held_policies & set(
        CommissionItem.objects.filter(period__lte=months[-1]).values_list("policy_no", flat=True)
    )

    # the next book corrects the applicants' mobiles of policies held only for their mobile
    fields = defaultdict(set)
    for policy_no, role, field in holding.values_list("policy_no", "role", "field"):
        fields[policy_no].add((role, field))
    fixable = {p for p, f in fields.items() if f == {("applicant", "mobile")}}
    fixable &= set(ItemState.objects.filter(state="held").values_list("policy_no", flat=True))
    assert fixable, "the synthetic book has policies held for an applicant's mobile only"
    assert _correct_mobiles(tmp_path / "book", tmp_path / "next", fixable) == len(fixable)
    nxt = load_book(tmp_path / "next", mode="delta", source_name="next")
    assert nxt.status == "done", nxt.errors
    check = run_check(load=nxt)
    still = set(
        Finding.objects.filter(status="open", category__in=services.HOLDING).values_list(
            "policy_no", flat=True
        )
    )
    corrected = fixable - still  # a new value may meet another check: that policy stays held
    assert check.findings_closed >= len(corrected) >= len(fixable) / 2

    adj = services.settle(months[-1], actor=preparer)
    assert adj is not None and adj.seq >= 1
    released_items = Entry.objects.filter(run=adj, kind="release")
    assert set(released_items.values_list("policy_no", flat=True)) == corrected
    assert (
        sum(released_items.values_list("amount", flat=True))
        == sum(Statement.objects.filter(run=adj).values_list("released", flat=True))
        > 0
    )
    assert services.reconcile() == []
    services.approve(adj, approver)
    assert services.reconcile() == []
    assert services.settle(months[-1], actor=preparer) is None
    assert not ItemState.objects.filter(policy_no__in=corrected, state="held").exists()
    assert ItemState.objects.filter(state="held").exclude(policy_no__in=still).count() == 0
    assert SettlementRun.objects.filter(status="prepared").count() == 0
