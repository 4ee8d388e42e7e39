"""Screening keys and the context store: a key reads and replaces only context rows of policies in its
scope, a policy number custos holds outside the scope is refused (409), a screening never replaces the
book's rows, and the cross-record checks answer from the key's scope only (docs/screening.md: "What a
verdict discloses")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from custos.screening.models import ContextParty, Screening
from tests.test_screening import application, key, person, post, rid

pytestmark = pytest.mark.django_db

PT1, PT2 = "PT000001", "PT000002"
SCOPE = ("channel", "branch_code", "partner_code")  # the policy's, on every row of the store


@pytest.fixture
def home(custos_home):
    return custos_home


def bank(app_id: str, policy_no: str, partner: str, parties=None) -> dict:
    return application(app_id, policy_no, parties, channel="bancassurance", partner_code=partner)


def stored(policy_no: str) -> list[tuple]:
    """The policy's rows in the store as the checks read them (payload opened)."""
    return sorted(
        (r.role, r.seq, r.source, r.payload, r.k_id, r.k_mobile, *(getattr(r, c, "") for c in SCOPE))
        for r in ContextParty.objects.filter(policy_no=policy_no)
    )


def codes(resp) -> set[str]:
    assert resp.status_code == 200, resp.content
    return {f["code"] for f in resp.json()["findings"]}


def test_another_partners_key_cannot_replace_or_delete_rows(client, home):
    a, b = key("bank-a", partner_codes=[PT1]), key("bank-b", partner_codes=[PT2])
    ben = person(
        "beneficiary", name="王小明", id_no=rid("2010-03-04"), birth_date="2010-03-04", relation="son"
    )
    assert post(client, a, bank("A1", "N1", PT1, [person(), person("insured"), ben])).status_code == 200
    before = stored("N1")
    assert len(before) == 3
    # B resubmits A's policy number under its own partner code, with fewer parties and other values
    other = [person(name="冒名顶", mobile="13800138000"), person("insured", name="冒名顶")]
    resp = post(client, b, bank("B1", "N1", PT2, other))
    assert resp.status_code == 409, resp.content
    assert "outside this key's scope" in resp.json()["detail"]
    assert stored("N1") == before  # nothing replaced, the beneficiary not deleted
    assert not Screening.objects.filter(client__name="bank-b").exists()  # a 4xx is not recorded
    # A itself may screen a change of its policy: the dropped beneficiary leaves the store
    assert post(client, a, bank("A2", "N1", PT1, [person(), person("insured")])).status_code == 200
    assert ContextParty.objects.filter(policy_no="N1").count() == 2
    assert set(ContextParty.objects.values_list("partner_code", flat=True)) == {PT1}  # the rows' scope


def test_a_concurrent_screening_by_another_partner_cannot_replace_rows(client, home, monkeypatch):
    """B looks the policy number up before A's screening of it commits (so B sees it free), then
    writes: the store's upsert itself is bounded by B's scope and leaves A's rows alone."""
    from types import SimpleNamespace

    from custos.screening import context

    a, b = key("bank-a", partner_codes=[PT1]), key("bank-b", partner_codes=[PT2])
    assert post(client, a, bank("A1", "N1", PT1)).status_code == 200
    before = stored("N1")
    free = SimpleNamespace(in_book=False, held=set(), existing=set(), refused_by=lambda scope: False)
    monkeypatch.setattr(context, "owner", lambda policy_no: free, raising=False)  # B's earlier look-up
    other = [person(name="冒名顶", mobile="13800138000"), person("insured", name="冒名顶")]
    post(client, b, bank("B1", "N1", PT2, other))
    assert stored("N1") == before


def test_verdicts_do_not_depend_on_another_scopes_context(client, home):
    a, b = key("bank-a", partner_codes=[PT1]), key("bank-b", partner_codes=[PT2])
    a2 = key("bank-a-2", partner_codes=[PT1])  # a second system of the same partner: same scope
    # A's book of screenings: one customer, and one phone shared by three families (PH06 from the third)
    assert codes(post(client, a, bank("A1", "N1", PT1))) == set()
    shared = "13966661234"
    for i, name in enumerate(["赵一鸣", "钱二强", "孙三立"]):
        birth = f"198{i}-0{5 + i}-0{1 + i}"
        p = person(
            name=name,
            id_no=rid(birth),
            birth_date=birth,
            mobile=shared,
            address=f"北京市朝阳区建国路{10 + i}号{i + 1}栋402室",
        )
        found = codes(post(client, a, bank(f"A{10 + i}", f"N{10 + i}", PT1, [p, {**p, "role": "insured"}])))
    assert "PH06" in found
    # Inside the scope the cross-record checks see A's context ...
    impostor = [person(name="冒名顶"), person("insured", name="冒名顶")]
    assert "ID09" in codes(post(client, a2, bank("A20", "N20", PT1, impostor)))
    # ... outside it, a real ID number under a wrong name answers exactly as a fresh one does
    impostor = [person(name="假冒名"), person("insured", name="假冒名")]
    real = post(client, b, bank("B1", "N2", PT2, impostor))
    fresh_id = rid("1975-02-03")
    who = {"name": "冒名顶", "id_no": fresh_id, "birth_date": "1975-02-03"}
    fresh = post(client, b, bank("B2", "N3", PT2, [person(**who), person("insured", **who)]))
    assert codes(real) == codes(fresh) == set()
    assert real.json()["verdict"] == fresh.json()["verdict"] == "pass"
    # A's three families on one phone do not count towards B's fourth
    p = person(
        name="周五福",
        id_no=rid("1984-09-05"),
        birth_date="1984-09-05",
        mobile=shared,
        address="北京市朝阳区建国路20号5栋402室",
    )
    assert "PH06" not in codes(post(client, b, bank("B3", "N4", PT2, [p, {**p, "role": "insured"}])))
    # and the other way round: B's screenings are not A's context (B's ID number under another name)
    who = {**who, "name": "李正名"}
    assert (
        codes(post(client, a2, bank("A21", "N21", PT1, [person(**who), person("insured", **who)]))) == set()
    )


def _jsonable(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items() if v is not None}


def test_screenings_never_replace_the_books_rows_nor_read_its_history_out_of_scope(client, home, tmp_path):
    """The book's policies: a key outside a policy's scope is refused (and learns nothing of its
    changes and visits, SC01/PH08); a key covering it screens the change with the book's history but
    the store keeps the book's rows; a book customer's ID number under a wrong name is an ID09 only
    for a key that covers the customer's policy."""
    from custos.book.services import load_book
    from custos.checks.catalogue import CheckSettings
    from custos.checks.engine import run_checks
    from custos.crypto import snapshot as esnap
    from custos.screening.context import build_from_snapshot
    from custos.synth import generate_book

    generate_book(tmp_path / "book", 60, 5)
    load = load_book(tmp_path / "book")
    assert load.status == "done", load.errors
    snap = Path(load.snapshot_path)
    build_from_snapshot(snap, load_id=load.pk)
    history = {}
    for r in run_checks(snap, settings=CheckSettings()).to_pylist():
        if r["check"] in ("SC01", "PH08"):
            history.setdefault(r["policy_no"], set()).add(r["check"])
    assert history  # the book has policies with a change or visit history the checks flag
    policies = {p["policy_no"]: _jsonable(p) for p in esnap.read_arrow(snap, "policies").to_pylist()}
    parties: dict[str, list] = {}
    for p in esnap.read_arrow(snap, "parties").to_pylist():
        parties.setdefault(p["policy_no"], []).append(_jsonable(p))
    core = key("core")  # the insurer's own system: every policy is in its scope
    for n, (pno, flagged) in enumerate(sorted(history.items())):
        pol = policies[pno]
        before = stored(pno)
        assert before and {r[2] for r in before} == {"book"}
        other_channel = "internet" if pol["channel"] != "internet" else "agency"
        outsider = key(f"outsider-{n}", channels=[other_channel])
        doc = {
            "application_id": f"X{n}",
            "policy": {**pol, "channel": other_channel, "partner_code": ""},
            "parties": parties[pno],
        }
        resp = post(client, outsider, doc)
        assert resp.status_code == 409, resp.content
        assert not {"SC01", "PH08"} & set(str(resp.content))
        # the insurer's own system screens a change of the policy: the book's history counts ...
        changed = [dict(p) for p in parties[pno]]
        changed[0]["mobile"] = "13957460000"
        resp = post(client, core, {"application_id": f"C{n}", "policy": pol, "parties": changed})
        assert flagged <= codes(resp), (pno, flagged, resp.json()["findings"])
        # ... and the store still holds the book's rows, unchanged
        assert stored(pno) == before
    # the book as an oracle: a customer's ID number under a wrong name
    pno, p = next((k, v[0]) for k, v in sorted(parties.items()) if v[0].get("id_type") == "resident_id")
    pol = policies[pno]
    other_channel = "internet" if pol["channel"] != "internet" else "agency"
    outsider = key("outsider", channels=[other_channel])
    probe = {**p, "policy_no": "Q1", "name": "冒名顶"}
    doc = {
        "application_id": "Q1",
        "policy": {**pol, "policy_no": "Q1", "channel": other_channel, "partner_code": ""},
        "parties": [probe],
    }
    assert "ID09" not in codes(post(client, outsider, doc))
    doc = {
        "application_id": "Q2",
        "policy": {**pol, "policy_no": "Q2"},
        "parties": [{**probe, "policy_no": "Q2"}],
    }
    assert "ID09" in codes(post(client, core, doc))
