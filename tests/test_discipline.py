"""Violations and fines (custos/discipline): proposals from each kind of fact, idempotent; the life
cycle with the appeal; joint liability; the fine schedule's effective dates; the payroll list;
dismissal cutting access and the blacklist nomination."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from custos.access.capabilities import can
from custos.audit import service as audit_service
from custos.audit.models import ChangeEvent
from custos.book.models import Change, Policy, Staff
from custos.checks.models import CheckRun
from custos.discipline import conf, services
from custos.discipline.models import EvidenceLink, Nomination, Violation
from custos.discipline.services import fines
from tests.conftest import make_user
from tests.test_findings_support import open_finding

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 appeal letter: I was on leave that day\n%%EOF"


@pytest.fixture
def world(custos_home, small_book, settings):
    """The small book (agents A1, A2; P1 and P4 sold by A1) plus a sales manager M1 over A1, an
    operator O1 under manager M2, an operator O2 without a supervisor; a user per person."""
    settings.CUSTOS_OTP_REQUIRED = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users
    row = {"first_load": small_book, "last_load": small_book}
    for no, position, sup in [("M1", "sales_manager", ""), ("M2", "operations", ""), ("O1", "operations", "M2"), ("O2", "operations", "")]:  # fmt: skip
        Staff.objects.create(
            staff_no=no, name="员工" + no, branch_code="GZ", position=position, supervisor_no=sup, **row
        )
    Staff.objects.filter(staff_no="A1").update(supervisor_no="M1")
    Policy.objects.filter(policy_no__in=["P1", "P4"]).update(issued_on=dt.date(2024, 1, 10))
    run = CheckRun.objects.create(load=small_book, status=CheckRun.Status.DONE)
    return {
        "load": small_book,
        "run": run,
        "co": make_user("co", "compliance"),
        "co2": make_user("co2", "compliance"),
        "fin": make_user("fin", "finance"),
        "a1": make_user("a1", "agent", staff_no="A1"),
        "a2": make_user("a2", "agent", staff_no="A2"),
        "o1": make_user("o1", "operations", staff_no="O1"),
        "cs": make_user("cs", "customer_service", staff_no="CS9"),
    }


def change(world, policy, field, by, request_no="", at=dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)):
    return Change.objects.create(
        policy_no=policy, role="applicant", seq=1, field=field, old_value="1", new_value="2",
        changed_at=at, changed_by=by, request_no=request_no,
        first_load=world["load"], last_load=world["load"],
    )  # fmt: skip


def case_of(staff_no, source=None):
    qs = Violation.objects.filter(staff_no=staff_no)
    return (qs.filter(source=source) if source else qs).get()


# --- proposals from facts ------------------------------------------------------------------------------


def test_sc01_proposes_against_the_operator_of_each_unrequested_change_once(world):
    c1 = change(world, "P1", "mobile", "O1")
    change(world, "P1", "mobile", "O2", request_no="BQ-1", at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC))
    change(world, "P1", "mobile", "O2", at=dt.datetime(2023, 5, 1, tzinfo=dt.UTC))  # before issue
    f = open_finding(world["run"], "P1", code="SC01", field="mobile")
    report = services.propose_from_facts()
    assert report.proposed["sc01"] == 1
    v = case_of("O1")
    assert (v.kind, v.status, v.source, v.subject) == ("operations", "proposed", "sc01", "P1")
    assert set(v.evidence.values_list("kind", "ref")) == {("finding", str(f.pk)), ("change", str(c1.pk))}
    assert not Violation.objects.filter(staff_no="O2").exists()
    assert "P1" in v.fact and "变更申请" in v.fact
    # idempotent: the same facts again propose nothing
    again = services.propose_from_facts()
    assert sum(again.proposed.values()) == 0 and sum(again.added.values()) == 0
    assert Violation.objects.count() == 1 and EvidenceLink.objects.count() == 2
    ev = ChangeEvent.objects.get(action="violation.proposed")
    assert ev.object_id == str(v.pk) and ev.username == "system"
    # decided; then O1 changes the address without a request too: a new case of the same policy
    services.decide(v, world["co"], upheld=False, reason="核实：客户口头同意")
    c2 = change(world, "P1", "address", "O1", at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    f2 = open_finding(world["run"], "P1", code="SC01", field="address")
    report = services.propose_from_facts()
    assert report.proposed["sc01"] == 1 and report.added["sc01"] == 0
    second = Violation.objects.exclude(pk=v.pk).get()
    assert (second.staff_no, second.group_key, second.status) == ("O1", "sc01:P1#2", "proposed")
    assert set(second.evidence.values_list("ref", flat=True)) == {str(f2.pk), str(c2.pk)}
    v.refresh_from_db()
    assert v.evidence.count() == 2 and v.outcome == "not_upheld"  # the decided case is untouched


def test_agents_own_phone_or_outlet_address_proposes_against_the_selling_agent(world):
    f1 = open_finding(world["run"], "P4", code="PH05", field="mobile")
    f2 = open_finding(world["run"], "P4", code="AD04", field="address", value="某银行天河支行")
    f3 = open_finding(world["run"], "P1", code="PH07", field="phone")
    open_finding(world["run"], "P3", code="PH03", field="mobile")  # a placeholder is nobody's misconduct
    report = services.propose_from_facts()
    assert report.proposed["agent_contact"] == 2  # one case per agent and policy
    p4 = Violation.objects.get(staff_no="A1", subject="P4")
    assert p4.kind == "sales"
    assert set(p4.evidence.values_list("ref", flat=True)) == {str(f1.pk), str(f2.pk)}
    assert Violation.objects.get(staff_no="A1", subject="P1").evidence.get().ref == str(f3.pk)
    assert not Violation.objects.filter(staff_no="A2").exists()
    # a new finding on a policy whose case is open is added to it, not a second case
    f4 = open_finding(world["run"], "P4", code="PH05", field="phone")
    report = services.propose_from_facts()
    assert report.added["agent_contact"] == 1 and report.proposed["agent_contact"] == 0
    assert p4.evidence.filter(ref=str(f4.pk)).exists()
    assert ChangeEvent.objects.filter(action="violation.evidence", object_id=str(p4.pk)).exists()


def test_refused_reads_on_one_day_propose_data_misuse_from_the_threshold(world):
    for _i in range(3):
        audit_service.append(username="a1", staff_no="A1", action="lookup", model="party", outcome="denied")
    for _i in range(2):  # below the threshold
        audit_service.append(username="a2", staff_no="", action="unmask", model="party", outcome="denied")
    audit_service.append(username="a2", action="login", outcome="failed")  # not a read
    audit_service.append(username="a2", staff_no="A2", action="lookup", outcome="ok")  # allowed
    report = services.propose_from_facts()
    assert report.proposed["denied"] == 1
    v = case_of("A1")
    assert v.kind == "data_misuse" and v.evidence.filter(kind="audit").count() == 3
    assert v.subject == timezone.localdate().isoformat()
    assert not Violation.objects.filter(staff_no="A2").exists()
    # a third refusal by a2 (whose entries carry no staff number: found through the profile)
    audit_service.append(username="a2", action="detail", model="finding", outcome="denied")
    report = services.propose_from_facts()
    assert report.proposed["denied"] == 1 and case_of("A2").evidence.count() == 3
    # one more refusal the same day by a1: evidence on the open case
    audit_service.append(username="a1", staff_no="A1", action="lookup", outcome="denied")
    report = services.propose_from_facts()
    assert report.added["denied"] == 1 and case_of("A1").evidence.count() == 4


def _extraction(requester, state="requested", recipient=None):
    from custos.extraction.models import Extraction

    return Extraction.objects.create(
        requester=requester, purpose="test", scope={}, fields=["name"], recipient_user=recipient,
        recipient_name="" if recipient else "x", recipient_org="" if recipient else "y", nonce="0" * 32,
        state=state,
    )  # fmt: skip


def test_a_rejected_extraction_proposes_against_its_requester(world):
    rejected = _extraction(world["cs"], "rejected")
    _extraction(world["a2"], "approved")
    services.propose_from_facts()
    v = case_of("CS9")
    assert (v.kind, v.source, v.subject) == ("data_misuse", "extraction", str(rejected.pk))
    assert Violation.objects.count() == 1


def _trace(ext, fields):
    from custos.extraction.models import LeakTrace

    return LeakTrace.objects.create(
        source_name="leak.csv", sha256="0" * 64, status=LeakTrace.Status.DONE,
        result={"rows": 10, "candidates": [{
            "extraction": ext.pk, "canaries": [[1, fields]], "matched": 0, "ascending": 0, "pairs": 0,
            "marks_agree": 0, "p_order": 1.0, "p_marks": 1.0,
        }]},
    )  # fmt: skip


def test_a_leak_traced_with_certainty_proposes_resale_against_the_recipient(world):
    ext = _extraction(world["co"], "downloaded", recipient=world["a2"])
    sure = _trace(ext, ["id_no"])  # a canary's ID number: certain
    _trace(_extraction(world["co"], "downloaded", recipient=world["a1"]), ["name"])  # moderate: no one
    services.propose_from_facts()
    v = Violation.objects.get()
    assert (v.staff_no, v.kind, v.source, v.subject) == ("A2", "resale", "leak", str(sure.pk))
    assert set(v.evidence.values_list("kind", "ref")) == {("leak", str(sure.pk)), ("extraction", str(ext.pk))}


def test_the_propose_command_is_idempotent_and_says_what_it_did(world, capsys):
    open_finding(world["run"], "P4", code="PH05", field="mobile")
    call_command("discipline", "propose")
    assert "1 proposals" in capsys.readouterr().out
    call_command("discipline", "propose")
    assert "0 proposals" in capsys.readouterr().out
    assert Violation.objects.get().proposed_by_name.startswith("cli")


# --- the life cycle ------------------------------------------------------------------------------------


def _sales_case(world) -> Violation:
    open_finding(world["run"], "P4", code="PH05", field="mobile")
    services.propose_from_facts()
    return case_of("A1")


def test_life_cycle_with_appeal_every_move_recorded_with_who_and_why(world):
    from custos.discipline.services import appeals

    v = _sales_case(world)
    co, a1 = world["co"], world["a1"]
    with pytest.raises(services.DisciplineError):  # not told yet: cannot be upheld
        services.decide(v, co, upheld=True, reason="r")
    with pytest.raises(services.NotAllowed):
        services.notify(v, world["fin"])
    with pytest.raises(services.NotAllowed):
        services.notify(v, a1)  # the staff member does not handle their own case
    v = services.notify(v, co, "电话告知")
    with pytest.raises(services.NotAllowed):
        services.appeal(v, world["a2"], "not mine")
    with pytest.raises(services.DisciplineError):
        services.appeal(v, a1, "   ")
    with override_settings(CUSTOS_DISCIPLINE={"appeal_max_bytes": 10}):
        with pytest.raises(services.DisciplineError, match="超过"):
            services.appeal(v, a1, "那天我在休假", SimpleUploadedFile("leave.pdf", PDF))
    assert Violation.objects.get(pk=v.pk).status == "notified"
    v = services.appeal(v, a1, "那天我在休假", SimpleUploadedFile("leave.pdf", PDF))
    assert v.status == "appealed" and v.appeal_file.content_type == "application/pdf"
    stored = Path(v.appeal_file.path).read_bytes()
    assert b"leave" not in stored and appeals.read(v.appeal_file) == PDF  # sealed at rest
    with pytest.raises(services.DisciplineError):
        services.appeal(v, a1, "again")  # one appeal
    with pytest.raises(services.NotAllowed):
        services.decide(v, world["cs"], upheld=True, reason="r")
    with pytest.raises(services.DisciplineError):
        services.decide(v, co, upheld=True, reason="")  # a decision says why
    v = services.decide(v, co, upheld=True, reason="回访证实电话是业务员本人的")
    assert (v.status, v.outcome, v.decided_by, v.decided_on) == (
        "decided",
        "upheld",
        co,
        timezone.localdate(),
    )
    v = services.close(v, world["fin"], paid=True)
    assert v.status == "paid"
    events = list(
        ChangeEvent.objects.filter(object_id=str(v.pk), action__startswith="violation.").order_by("seq")
    )
    assert [e.action for e in events] == [
        "violation.proposed", "violation.notified", "violation.appealed", "violation.decided", "violation.paid",
    ]  # fmt: skip
    assert [e.username for e in events[1:]] == ["co", "a1", "co", "fin"]
    assert events[3].reason == "回访证实电话是业务员本人的" and events[2].reason == "那天我在休假"
    assert events[3].after["offender_fine"] == "200.00" and events[3].before["status"] == "appealed"


def test_not_upheld_needs_no_notice_and_has_no_fine(world):
    v = _sales_case(world)
    v = services.decide(v, world["co"], upheld=False, reason="电话是客户本人的")
    assert (v.outcome, v.offender_fine, v.supervisor_fine) == ("not_upheld", None, None)
    with pytest.raises(services.DisciplineError):
        services.close(v, world["co"], paid=False, note="x")
    assert fines.rows(timezone.localdate().strftime("%Y-%m")) == []


def test_a_move_that_cannot_be_recorded_does_not_happen(world, monkeypatch):
    from custos.audit.record import AuditWriteError
    from custos.discipline.services import cases

    v = services.notify(_sales_case(world), world["co"])

    def refuse(*a, **k):
        raise AuditWriteError("log down")

    monkeypatch.setattr(cases, "record", refuse)
    with pytest.raises(AuditWriteError):
        services.decide(v, world["co"], upheld=True, reason="r")
    v.refresh_from_db()
    assert (v.status, v.offender_fine) == ("notified", None)


# --- fines: joint liability, schedule, payroll list ----------------------------------------------------


def _decided(world, staff_no, kind="sales", today=None, supervisor=True) -> Violation:
    v, _n = services.propose(
        kind=kind, staff_no=staff_no, source="manual", evidence=[], summary=f"{kind} by {staff_no}"
    )
    services.notify(v, world["co"])
    return services.decide(v, world["co"], upheld=True, reason="成立", today=today)


def test_joint_liability_of_the_direct_supervisor(world):
    sales = _decided(world, "A1", "sales")
    ops = _decided(world, "O1", "operations")
    alone = _decided(world, "O2", "operations")
    assert (sales.offender_fine, sales.supervisor_no, sales.supervisor_fine) == (
        Decimal("200.00"),
        "M1",
        Decimal("100.00"),
    )
    assert (ops.offender_fine, ops.supervisor_no, ops.supervisor_fine) == (
        Decimal("100.00"),
        "M2",
        Decimal("50.00"),
    )
    assert (alone.offender_fine, alone.supervisor_no, alone.supervisor_fine) == (Decimal("100.00"), "", None)
    month = timezone.localdate().strftime("%Y-%m")
    rows = fines.rows(month)
    assert [(r["case"], r["liability"], r["staff_no"], r["amount"]) for r in rows] == [
        (sales.pk, "offender", "A1", Decimal("200.00")),
        (sales.pk, "supervisor", "M1", Decimal("100.00")),
        (ops.pk, "offender", "O1", Decimal("100.00")),
        (ops.pk, "supervisor", "M2", Decimal("50.00")),
        (alone.pk, "offender", "O2", Decimal("100.00")),
    ]
    assert fines.total(rows) == Decimal("550.00")


def test_a_decided_case_keeps_the_schedule_it_was_decided_under(world, settings):
    settings.CUSTOS_DISCIPLINE = {
        "fines": conf.DEFAULTS["fines"]
        + [{"kind": "sales", "from": "2026-06-01", "offender": "300.50", "supervisor": "150.25"}]
    }
    before = _decided(world, "A1", today=dt.date(2026, 5, 31))
    on = _decided(world, "A2", today=dt.date(2026, 6, 1))
    assert (before.offender_fine, before.schedule_from) == (Decimal("200.00"), dt.date(2013, 1, 1))
    assert (on.offender_fine, on.supervisor_fine, on.schedule_from) == (
        Decimal("300.50"),
        None,
        dt.date(2026, 6, 1),
    )
    # the company changes its schedule afterwards: decided cases keep theirs
    settings.CUSTOS_DISCIPLINE = {
        "fines": [
            {"kind": k, "from": "2000-01-01", "offender": "999.99", "supervisor": "9.99"} for k in conf.KINDS
        ]
    }
    before.refresh_from_db()
    on.refresh_from_db()
    assert (before.offender_fine, before.supervisor_fine) == (Decimal("200.00"), Decimal("100.00"))
    assert on.offender_fine == Decimal("300.50")
    rows = fines.rows("2026-05")
    assert [r["amount"] for r in rows] == [Decimal("200.00"), Decimal("100.00")]
    assert rows[0]["schedule_from"] == "2013-01-01"
    later = _decided(world, "O1", "operations", today=dt.date(2026, 6, 2))
    assert (later.offender_fine, later.supervisor_fine) == (Decimal("999.99"), Decimal("9.99"))


def test_a_bad_schedule_entry_is_named(settings):
    settings.CUSTOS_DISCIPLINE = {
        "fines": [{"kind": "sales", "from": "2026-01-01", "offender": "1.005", "supervisor": "0"}]
    }
    with pytest.raises(ImproperlyConfigured, match=r"\['fines'\]\[0\].*2 decimals"):
        conf.schedule()
    settings.CUSTOS_DISCIPLINE = {
        "fines": [{"kind": "theft", "from": "2026-01-01", "offender": "1", "supervisor": "0"}]
    }
    with pytest.raises(ImproperlyConfigured, match="theft"):
        conf.schedule()


def test_the_payroll_list_as_csv_and_xlsx_and_the_command(world, tmp_path):
    from openpyxl import load_workbook

    v = _decided(world, "A1", today=dt.date(2026, 3, 15))
    waived = _decided(world, "O1", "operations", today=dt.date(2026, 3, 16))
    services.close(waived, world["co"], paid=False, note="初犯，免除")
    _decided(world, "O2", "operations", today=dt.date(2026, 4, 1))  # next month
    out = tmp_path / "fines.csv"
    call_command("discipline", "fines", "--month", "2026-03", str(out))
    lines = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["case"], r["liability"], r["staff_no"], r["amount"]) for r in lines] == [
        (str(v.pk), "offender", "A1", "200.00"),
        (str(v.pk), "supervisor", "M1", "100.00"),
    ]
    assert lines[0]["name"] == "业***1" and lines[0]["schedule_from"] == "2013-01-01"
    xlsx = tmp_path / "fines.xlsx"
    call_command("discipline", "fines", "--month", "2026-03", str(xlsx))
    ws = load_workbook(xlsx)["fines"]
    amounts = [ws.cell(row=r, column=9).value for r in (2, 3)]
    assert amounts == [200, 100] and ws.cell(row=2, column=9).number_format == "0.00"
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("discipline", "fines", "--month", "2026-3", str(out))
    with pytest.raises(CommandError, match=r"\.csv or \.xlsx|\.csv 或 \.xlsx"):
        call_command("discipline", "fines", "--month", "2026-03", str(tmp_path / "fines.pdf"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("discipline", "fines", "--month", "2026-03", str(tmp_path / "no" / "f.csv"))
    s = fines.summary()
    assert (s["cases"], s["upheld"], s["by_kind"]["operations"]["waived"]) == (3, 3, 1)
    assert s["fines"] == {
        "offender": Decimal("400.00"), "supervisor": Decimal("150.00"), "paid": Decimal("0.00"),
        "waived": Decimal("150.00"),
    }  # fmt: skip
    assert fines.summary(timezone.localdate() - dt.timedelta(days=1))["cases"] == 0  # proposed today
    n = services.mark_month_paid("2026-03", world["fin"])
    assert n == 1 and Violation.objects.get(pk=v.pk).status == "paid"
    assert [r["status"] for r in fines.rows("2026-03")] == ["paid", "paid"]
    with pytest.raises(services.NotAllowed):
        services.mark_month_paid("2026-04", world["a1"])


# --- dismissal and the blacklist nomination --------------------------------------------------------------


def test_dismissal_for_resale_ends_access_the_same_day_and_nominates(world, client):
    from custos.api.models import ApiToken

    a2 = world["a2"]
    token, secret = ApiToken.issue(a2, "phone")
    assert can(a2, "extract.request")
    client.force_login(a2)
    assert client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    ext = _extraction(world["co"], "downloaded", recipient=a2)
    _trace(ext, ["mobile"])
    services.propose_from_facts()
    v = case_of("A2")
    services.notify(v, world["co"])
    with pytest.raises(services.DisciplineError):  # dismissal only for an upheld resale case
        services.decide(v, world["co"], upheld=False, reason="x", dismiss=True)
    other = _decided(world, "A1")
    assert not other.dismissed
    v = services.decide(v, world["co"], upheld=True, reason="泄露客户信息，解除劳动合同", dismiss=True)
    assert v.dismissed and (v.offender_fine, v.supervisor_fine) == (Decimal("1000.00"), None)
    a2.refresh_from_db()
    token.refresh_from_db()
    assert not a2.is_active and token.revoked
    assert not can(a2, "extract.request")
    assert client.get("/api/v1/customers", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    assert client.get("/discipline/mine/").status_code == 302  # the session no longer signs in
    assert not client.login(username="a2", password="correct-horse-42")
    assert ChangeEvent.objects.filter(action="user.deactivated", username="co").exists()
    assert ChangeEvent.objects.filter(action="token.revoked", username="co").exists()
    n = Nomination.objects.get()
    assert (n.staff_no, n.status, n.dismissed_on, n.violation) == ("A2", "proposed", timezone.localdate(), v)
    assert list(services.approved_nominations()) == []
    with pytest.raises(services.DisciplineError):
        services.mark_sent(n)  # not approved yet
    with pytest.raises(services.NotAllowed):
        services.approve_nomination(n, world["fin"])
    services.approve_nomination(n, world["co"], "核实无误")
    assert list(services.approved_nominations()) == [n]
    assert services.nominee(n) == {
        "staff_no": "A2", "id_no": "", "name": "业务员A2", "reason": "泄露客户信息，解除劳动合同",
        "dismissed_on": timezone.localdate().isoformat(),
    }  # fmt: skip
    services.mark_sent(n)
    n.refresh_from_db()
    assert n.status == "sent" and n.sent_at and list(services.approved_nominations()) == []
    assert [e.action for e in ChangeEvent.objects.filter(action__startswith="nomination.").order_by("seq")] == [
        "nomination.proposed", "nomination.approved", "nomination.sent",
    ]  # fmt: skip


def test_the_demo_step_proposes_and_decides_one_case_once(world):
    from custos.discipline.demo import DEMO_REASON, demo_discipline

    make_user("demo_compliance", "compliance")
    make_user("demo_agent", "agent", staff_no="A1")
    open_finding(world["run"], "P1", code="SC01", field="mobile")
    change(world, "P1", "mobile", "O1")
    open_finding(world["run"], "P4", code="PH05", field="mobile")
    said: list[str] = []
    demo_discipline(said.append)
    v = Violation.objects.get(decision_reason=DEMO_REASON)
    assert (v.staff_no, v.status, v.offender_fine, v.supervisor_fine) == (
        "A1",
        "decided",
        Decimal("200.00"),
        Decimal("100.00"),
    )
    assert v.appealed_at is not None and "appealed by demo_agent" in said[-1]
    assert Violation.objects.get(staff_no="O1").status == "proposed"  # the other stays a proposal
    demo_discipline(said.append)
    assert "decided already" in said[-1] and Violation.objects.count() == 2


def test_key_rotation_reseals_appeal_files(world):
    from custos.crypto import rotate
    from custos.crypto.fields import keys
    from custos.discipline.services import appeals

    f = appeals.store("leave.pdf", PDF, world["a1"])
    old_id = keys().current_id
    rotate.rotate()
    status = rotate.reencrypt()
    assert status["sealed_files"]["appeal files"] == 1 and old_id in status["retired"]
    assert Path(f.path).read_text().startswith(f"e1:{keys().current_id}:")
    assert appeals.read(f) == PDF
