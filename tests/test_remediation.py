"""Remediation: tasks follow findings (不重不漏), assignment, the state machine and each refusal.

The book is tests/conftest.py's small book (4 policies, 2 parties each); findings are written
directly, as a check run would leave them, so each test shows one rule in a few lines."""

import datetime as dt

import pytest
from django.utils import timezone, translation

from custos.checks.models import CheckRun, Finding
from custos.crypto import keyring
from custos.remediation import services as svc
from custos.remediation.models import (
    Correction,
    CorrectionHistory,
    Evidence,
    Sample,
    Task,
    TaskEvent,
    Violation,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% evidence\n"


@pytest.fixture(autouse=True)
def keys(custos_home):
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def new_run(load) -> CheckRun:
    return CheckRun.objects.create(load=load, status=CheckRun.Status.RUNNING)


def finding(run, policy_no, role="applicant", seq=1, code="PH03", field="mobile", **kw) -> Finding:
    from custos.book.models import Policy

    p = Policy.objects.get(policy_no=policy_no)
    return Finding.objects.create(
        check_code=code, policy_no=policy_no, role=role, seq=seq, field=field, category="false",
        severity="high", value="13800138000", opened_run=run, last_seen_run=run, opened_at=timezone.now(),
        channel=p.channel, branch_code=p.branch_code, agent_no=p.agent_no, partner_code=p.partner_code, **kw,
    )  # fmt: skip


def close(f: Finding, run) -> None:
    Finding.objects.filter(pk=f.pk).update(status="closed", closed_run=run, closed_at=timezone.now())


@pytest.fixture
def people(small_book):
    from custos.book.models import Staff

    Staff.objects.filter(staff_no="A1").update(supervisor_no="M1")
    Staff.objects.create(staff_no="M1", name="经理", branch_code="GZ", channel="agency", position="manager",
                         first_load=small_book, last_load=small_book)  # fmt: skip
    return {
        "agent": make_user("agent1", "agent", staff_no="A1"),
        "agent2": make_user("agent2", "agent", staff_no="A2"),
        "partner": make_user("bank1", "partner_staff", partner_code="BK1"),
        "manager": make_user("mgr", "channel_manager", staff_no="M1", channel="agency", branch_code="GD"),
        "bank_mgr": make_user("bmgr", "channel_manager", channel="bancassurance"),
        "cs": make_user("cs1", "customer_service"),
        "cs2": make_user("cs2", "customer_service"),
        "compliance": make_user("comp", "compliance"),
    }


def test_sync_groups_findings_per_party_without_duplicates_or_omissions(small_book, people):
    run = new_run(small_book)
    f1 = finding(run, "P1")
    f2 = finding(run, "P1", code="NM02", field="name")
    f3 = finding(run, "P1", role="insured", code="ID03", field="id_no")
    f4 = finding(run, "P3", role="policy", seq=0, code="SC04", field="parties")
    counts = svc.sync_tasks(run)
    assert (counts.created, counts.linked) == (3, 4)
    assert svc.invariants() == dict.fromkeys(svc.invariants(), 0)
    task = Task.objects.get(policy_no="P1", role="applicant")
    assert task.open_findings == 2 and sorted(task.checks.split(",")) == ["NM02", "PH03"]
    assert task.due_on == timezone.localdate() + dt.timedelta(days=30)

    # again: nothing new; a new finding of the same party joins its open task
    assert svc.sync_tasks(run).created == 0
    run2 = new_run(small_book)
    f5 = finding(run2, "P1", code="PH05", field="phone")
    counts = svc.sync_tasks(run2)
    assert (counts.created, counts.linked) == (0, 1)
    task.refresh_from_db()
    assert task.open_findings == 3

    # a later book closes part of the task, then the rest: the task closes with the book
    close(f1, run2)
    svc.sync_tasks(run2)
    task.refresh_from_db()
    assert (task.status, task.open_findings) == ("open", 2)
    close(f2, run2), close(f5, run2)
    assert svc.sync_tasks(run2).closed == 1
    task.refresh_from_db()
    assert (task.status, task.close_reason, task.closed_run_id) == ("closed", "book", run2.pk)
    assert list(task.events.values_list("action", flat=True))[-1] == "close"

    # the identity fails again in a later book: a new episode, a new task (the old one stays closed)
    run3 = new_run(small_book)
    finding(run3, "P1")
    assert svc.sync_tasks(run3).created == 1
    assert Task.objects.filter(policy_no="P1", role="applicant").count() == 2
    assert svc.invariants() == dict.fromkeys(svc.invariants(), 0)
    assert f3.pk and f4.pk


def test_database_refuses_two_open_tasks_for_one_party(small_book):
    from django.db import IntegrityError, transaction

    run = new_run(small_book)
    kw = {"policy_no": "P1", "role": "applicant", "seq": 1, "due_on": dt.date.today(), "opened_run": run,
          "created_at": timezone.now()}  # fmt: skip
    Task.objects.create(**kw)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(**kw)
    Task.objects.update(status="closed")
    Task.objects.create(**kw)  # a closed task does not count


def test_assignment_rules(small_book, people):
    from custos.book.models import Staff

    run = new_run(small_book)
    finding(run, "P1")  # agency, agent A1 → the agent
    finding(run, "P2")  # bancassurance through BK1 → the partner's contact
    finding(run, "P3")  # agency, agent A2 at BJ → agent2
    svc.sync_tasks(run)
    got = {t.policy_no: (t.assignee.username, t.assign_rule) for t in Task.objects.select_related("assignee")}
    assert got == {"P1": ("agent1", "agent"), "P2": ("bank1", "partner"), "P3": ("agent2", "agent")}
    assert TaskEvent.objects.filter(action="assign").count() == 3

    # A1 leaves: P1 is an orphan and goes to the agency channel manager of its branch (GD covers GZ)
    Staff.objects.filter(staff_no="A1").update(left_on=dt.date(2020, 1, 1))
    svc.assign_tasks()
    t = Task.objects.get(policy_no="P1")
    assert (t.assignee.username, t.assign_rule) == ("mgr", "channel_manager")


def test_bulk_reassignment_by_managers_only(small_book, people):
    run = new_run(small_book)
    finding(run, "P1")
    svc.sync_tasks(run)
    t = Task.objects.get()
    with pytest.raises(svc.NotAllowed):
        svc.reassign([t.pk], people["agent2"], people["agent"])
    with pytest.raises(svc.NotAllowed):  # P1 is not in agent2's portfolio
        svc.reassign([t.pk], people["agent2"], people["compliance"])
    assert svc.reassign([t.pk], people["manager"], people["compliance"], "休假") == 1
    t.refresh_from_db()
    assert (t.assignee.username, t.assign_rule) == ("mgr", "manual")


def make_task(small_book, policy_no="P1", field="mobile", code="PH03"):
    run = new_run(small_book)
    finding(run, policy_no, code=code, field=field)
    svc.sync_tasks(run)
    return Task.objects.get(policy_no=policy_no, status__in=["open"]), run


def test_full_flow_attempt_correct_review_verify(small_book, people):
    from custos.book.models import Party, Policy

    Policy.objects.filter(policy_no="P1").update(issued_on=dt.date(2020, 1, 1))
    task, run = make_task(small_book)
    agent, cs, cs2 = people["agent"], people["cs"], people["cs2"]
    svc.record_attempt(task, agent, "phone", "13812345678", "reached", "客户确认手机已换")
    assert task.status == "contacting"
    assert "13812345678" not in task.attempts.get().contact_sealed
    ev = svc.store_evidence("申请书.pdf", PDF, agent)
    assert svc.open_evidence(ev) == PDF and PDF not in open(ev.path, "rb").read()
    c = svc.propose_correction(task, agent, "mobile", "13957208146", request_no="BQ2026001", evidence=ev,
                               version=task.version)  # fmt: skip
    assert task.status == "review" and c.old_value == "13812345678"
    svc.review_correction(c, cs, approve=True, note="材料齐全")
    task.refresh_from_db()
    assert task.status == "corrected"
    assert Party.objects.get(policy_no="P1", role="applicant").mobile == "13957208146"
    h = CorrectionHistory.objects.get()
    assert (h.old_value, h.new_value, h.applied_by) == ("13812345678", "13957208146", cs)
    svc.verify_task(task, cs2, contact="13957208146", success=True)
    assert task.status == "verified"
    assert Correction.objects.get().status == "verified"
    transitions = list(task.events.filter(action="transition").values_list("from_status", "to_status"))
    assert transitions == [("open", "contacting"), ("contacting", "review"), ("review", "corrected"),
                           ("corrected", "verified")]  # fmt: skip
    assert all(e.actor_id for e in task.events.filter(action="transition"))


def test_refusals(small_book, people):
    from custos.book.models import Policy

    Policy.objects.filter(policy_no="P1").update(issued_on=dt.date(2020, 1, 1))
    task, run = make_task(small_book)
    agent, cs = people["agent"], people["cs"]

    # change of contact data of an issued policy without a customer request number
    with pytest.raises(svc.RequestNumberRequired, match="申请单号"):
        svc.propose_correction(task, agent, "mobile", "13957208146")
    assert not Correction.objects.exists() and task.status == "open"

    # illegal transition and closing without verification: refused in Chinese, or in the active language
    with pytest.raises(
        svc.IllegalTransition, match=r"不允许的状态变更：待处理\(open\) → 已回访确认\(verified\)。$"
    ):
        svc.transition(task, "verified", cs)
    with pytest.raises(
        svc.IllegalTransition, match=r"^只有已回访确认的更正才能关闭任务：任务当前为 待处理\(open\)。$"
    ):
        svc.close_task(task, cs)
    with translation.override("en"):
        with pytest.raises(svc.IllegalTransition, match=r"^Illegal transition: Open\(open\) → Verified by"):
            svc.transition(task, "verified", cs)
        with pytest.raises(
            svc.IllegalTransition, match=r"^Only a verified correction closes a task; this task"
        ):
            svc.close_task(task, cs)
    task.refresh_from_db()
    assert task.status == "open"

    # self-approval (four eyes)
    c = svc.propose_correction(task, cs, "name", "张山峰", version=task.version)  # name needs no request no
    with pytest.raises(svc.SelfApproval, match=r"^不能复核自己提交的更正（双人复核）。$"):
        svc.review_correction(c, cs, approve=True)
    c.refresh_from_db()
    assert c.status == "proposed"
    with pytest.raises(svc.NotAllowed):  # an agent does not review
        svc.review_correction(c, agent, approve=True)

    # verification before correction
    with pytest.raises(svc.IllegalTransition):
        svc.verify_task(task, cs, contact="13812345678", success=True)

    # out of scope
    with pytest.raises(svc.NotAllowed):
        svc.record_attempt(task, people["agent2"], "phone", "1", "reached")

    # evidence: wrong type, too large
    with pytest.raises(svc.EvidenceRejected):
        svc.store_evidence("x.exe", b"MZ\x90\x00", agent)
    with pytest.raises(svc.EvidenceRejected):
        svc.store_evidence("big.pdf", b"%PDF" + b"0" * (5 * 1024 * 1024 + 1), agent)
    assert not Evidence.objects.exists()


def test_forced_contact_change_is_an_sc01_violation(small_book, people):
    from custos.book.models import Policy

    Policy.objects.filter(policy_no="P1").update(issued_on=dt.date(2020, 1, 1))
    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "address", "广东省广州市天河区体育东路8号", force=True)
    assert c.forced
    v = Violation.objects.get()
    assert (v.code, v.user, v.staff_no, v.policy_no, v.correction) == ("SC01", people["agent"], "A1", "P1", c)


def test_not_issued_policy_needs_no_request_number(small_book, people):
    task, _ = make_task(small_book)  # issued_on is empty in the small book
    c = svc.propose_correction(task, people["agent"], "mobile", "13957208146")
    assert not c.forced and not Violation.objects.exists()


def test_stale_version_is_a_conflict_that_keeps_the_input(small_book, people):
    task, _ = make_task(small_book)
    seen = task.version
    svc.record_attempt(task, people["agent"], "sms", "13812345678", "sent", version=seen)
    stale = Task.objects.get(pk=task.pk)
    stale.version = seen
    with pytest.raises(svc.Conflict) as e:
        svc.propose_correction(stale, people["cs"], "name", "张山峰", version=seen)
    assert e.value.kept["new_value"] == "张山峰"
    assert not Correction.objects.exists()


def test_verification_must_reach_the_corrected_contact_and_failure_returns_to_contacting(small_book, people):
    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "mobile", "13957208146")
    svc.review_correction(c, people["cs"], approve=True)
    task.refresh_from_db()
    with pytest.raises(svc.RemediationError, match="^回访须拨打/寄送到更正后的联系方式。$"):
        svc.verify_task(task, people["cs2"], contact="13812345678", success=True)
    with (
        translation.override("en"),
        pytest.raises(svc.RemediationError, match="must reach the corrected contact"),
    ):
        svc.verify_task(task, people["cs2"], contact="13812345678", success=True)
    with pytest.raises(svc.NotAllowed):
        svc.verify_task(task, people["agent"], contact="13957208146", success=True)
    svc.verify_task(task, people["cs2"], contact="13957208146", success=False, note="空号")
    assert task.status == "contacting"
    assert Correction.objects.get().status == "failed"


def test_rejected_correction_changes_nothing(small_book, people):
    from custos.book.models import Party

    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "mobile", "13957208146")
    svc.review_correction(c, people["cs"], approve=False, note="无证明")
    task.refresh_from_db()
    assert task.status == "contacting" and Correction.objects.get().status == "rejected"
    assert Party.objects.get(policy_no="P1", role="applicant").mobile == "13812345678"


def test_sampling_failure_reopens_and_counts_against_the_closer(small_book, people):
    task, run = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "mobile", "13957208146")
    svc.review_correction(c, people["cs"], approve=True)
    task.refresh_from_db()
    svc.verify_task(task, people["cs2"], contact="13957208146", success=True)
    close(Finding.objects.get(), new_run(small_book))
    svc.sync_tasks(CheckRun.objects.latest("id"))
    task.refresh_from_db()
    assert (task.status, task.close_reason) == ("closed", "verified")
    (sample,) = svc.draw_samples(people["compliance"], share=1.0, seed=1)
    assert sample.closer == people["cs2"]  # the verifier, since the book closed it
    with pytest.raises(svc.SelfApproval):
        svc.record_sample(sample, people["cs2"], passed=False)
    svc.record_sample(sample, people["compliance"], passed=False, note="回访录音不符")
    task.refresh_from_db()
    assert (task.status, task.reopened) == ("contacting", True)
    assert Sample.objects.filter(result="failed", closer=people["cs2"]).count() == 1
    svc.sync_tasks(CheckRun.objects.latest("id"))  # a reopened task is not closed by the book again
    task.refresh_from_db()
    assert task.status == "contacting"
    assert svc.draw_samples(share=1.0) == []  # sampled once


def test_reminders_and_escalation(small_book, people):
    from custos.remediation.models import Notice

    run = new_run(small_book)
    finding(run, "P1")
    finding(run, "P3")
    svc.sync_tasks(run)
    today = timezone.localdate()
    Task.objects.filter(policy_no="P1").update(due_on=today + dt.timedelta(days=3))
    Task.objects.filter(policy_no="P3").update(due_on=today - dt.timedelta(days=1))
    out = svc.remind(today=today)
    assert (out["reminded"], out["escalated_to_manager"], out["escalated_to_compliance"]) == (1, 0, 1)
    p1 = Task.objects.get(policy_no="P1")
    assert Notice.objects.filter(task=p1, kind="remind", recipient=people["agent"]).count() == 1
    assert TaskEvent.objects.filter(task=p1, action="remind").count() == 1
    # P3's agent A2 has no supervisor: straight to compliance
    p3 = Task.objects.get(policy_no="P3")
    assert (p3.escalation, p3.escalated_to) == (2, people["compliance"])
    assert Notice.objects.get(task=p3).recipient == people["compliance"]

    # idempotent: the same run again (cron and the scheduled task, say) sends nothing
    later = timezone.now() + dt.timedelta(seconds=1)
    assert svc.remind(today=today, now=later) == {
        "reminded": 0, "escalated_to_manager": 0, "escalated_to_compliance": 0, "emailed": 0
    }  # fmt: skip
    assert (
        Notice.objects.count() == 2
        and TaskEvent.objects.filter(action__in=["remind", "escalate"]).count() == 2
    )

    # a reassigned task reminds its new assignee, once
    svc.reassign([p1.pk], people["manager"], people["manager"], "cover")
    assert svc.remind(today=today, now=later + dt.timedelta(seconds=1))["reminded"] == 1
    assert svc.remind(today=today, now=later + dt.timedelta(seconds=2))["reminded"] == 0
    assert Notice.objects.filter(task=p1, kind="remind").count() == 2
    Task.objects.filter(pk=p1.pk).update(assignee=people["agent"])

    # overdue → the agent's manager (Staff.supervisor_no M1), later → compliance
    Task.objects.filter(policy_no="P1").update(due_on=today - dt.timedelta(days=1))
    svc.remind(today=today, now=later + dt.timedelta(seconds=3))
    p1.refresh_from_db()
    assert (p1.escalation, p1.escalated_to) == (1, people["manager"])
    assert Notice.objects.filter(task=p1, kind="escalate_manager", recipient=people["manager"]).exists()
    out = svc.remind(today=today + dt.timedelta(days=20), now=later + dt.timedelta(seconds=4))
    assert out["escalated_to_compliance"] == 1
    p1.refresh_from_db()
    assert (p1.escalation, p1.escalated_to) == (2, people["compliance"])
    assert TaskEvent.objects.filter(action="escalate").count() == 3
    assert svc.remind(today=today + dt.timedelta(days=21), now=later + dt.timedelta(seconds=5)) == {
        "reminded": 0, "escalated_to_manager": 0, "escalated_to_compliance": 0, "emailed": 0
    }  # fmt: skip
    assert Notice.objects.filter(kind__startswith="escalate").count() == 3


def test_escalation_goes_to_the_compliance_officer_covering_the_branch(small_book, people):
    run = new_run(small_book)
    finding(run, "P3")  # branch BJ
    svc.sync_tasks(run)
    bj = make_user("comp-bj", "compliance", branch_code="BJ")
    make_user("comp-gd", "compliance", branch_code="GD")
    Task.objects.update(due_on=timezone.localdate() - dt.timedelta(days=1))
    svc.remind()
    assert Task.objects.get().escalated_to == bj


def test_reminders_are_emailed_once_when_configured(small_book, people, settings, mailoutbox):
    settings.CUSTOS_REMEDIATION = {"notify_email": True}
    people["agent"].email = "agent1@example.com"
    people["agent"].save()
    run = new_run(small_book)
    finding(run, "P1")
    svc.sync_tasks(run)
    Task.objects.update(due_on=timezone.localdate() + dt.timedelta(days=2))
    assert svc.remind()["emailed"] == 1
    assert svc.remind(now=timezone.now() + dt.timedelta(seconds=1))["emailed"] == 0
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["agent1@example.com"]
    assert "P1" in mailoutbox[0].body


def test_reminders_are_a_scheduled_huey_task(small_book, people):
    from huey.contrib.djhuey import HUEY

    from custos.remediation import tasks

    def due(minute):  # the periodic tasks Huey's scheduler starts at 08:mm
        return {t.name for t in HUEY.read_periodic(dt.datetime(2030, 1, 7, 8, minute))}

    assert "periodic_remind" in due(17) and "periodic_remind" not in due(18)
    run = new_run(small_book)
    finding(run, "P1")
    svc.sync_tasks(run)
    Task.objects.update(due_on=timezone.localdate() + dt.timedelta(days=2))
    assert tasks.periodic_remind.call_local()["reminded"] == 1
    assert tasks.periodic_remind.call_local()["reminded"] == 0


def test_tasks_remind_command(small_book, people):
    from io import StringIO

    from django.core.management import call_command

    run = new_run(small_book)
    finding(run, "P1")
    svc.sync_tasks(run)
    Task.objects.update(due_on=dt.date(2030, 1, 10))
    out = StringIO()
    call_command("tasks", "remind", "--today", "2030-01-05", stdout=out)
    assert "reminded: 1" in out.getvalue()
    out = StringIO()
    call_command("tasks", "remind", "--today", "2030-01-05", stdout=out)
    assert "reminded: 0" in out.getvalue()


def test_export_and_acknowledge(small_book, people, tmp_path):
    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "name", "张三丰")
    svc.review_correction(c, people["cs"], approve=True)
    task.refresh_from_db()
    svc.verify_task(task, people["cs2"], contact="13812345678", success=True)
    out = tmp_path / "changes.csv"
    batch = svc.export_corrections(out, encoding="gbk")
    text = out.read_bytes().decode("gbk")
    assert text.splitlines()[0] == ",".join(svc.CHANGE_COLUMNS)
    assert "P1,applicant,1,name,张三伟,张三丰," in text and ",A1," in text
    assert batch.rows == 1 and Correction.objects.get().export_batch == batch
    assert svc.export_corrections(tmp_path / "again.csv").rows == 0  # exported once
    line = text.splitlines()[1].split(",")
    ack = tmp_path / "ack.csv"
    ack.write_text("policy_no,role,seq,field,changed_at,result,message\n"
                   f"{','.join(line[:4])},{line[6]},accepted,\n", encoding="utf-8")  # fmt: skip
    assert svc.acknowledge(ack) == {"accepted": 1, "rejected": 0, "already": 0}
    batch.refresh_from_db()
    assert batch.accepted == 1 and batch.acked_at
    assert Correction.objects.get().ack_status == "accepted"
    assert svc.acknowledge(ack) == {"accepted": 0, "rejected": 0, "already": 1}  # read twice: no change


def test_export_refusals_and_bad_acknowledgements_change_nothing(small_book, people, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "address", "广东省广州市天河区体育西路1号🏠")
    svc.review_correction(c, people["cs"], approve=True)
    task.refresh_from_db()
    svc.verify_task(task, people["cs2"], contact="广东省广州市天河区体育西路1号🏠", success=True)
    with pytest.raises(
        svc.RemediationError, match=rf"^更正 #{c.pk}（P1/applicant/1 address）含 gbk 无法表示"
    ):
        svc.export_corrections(tmp_path / "gbk.csv", encoding="gbk")  # the emoji has no GBK code
    with translation.override("en"), pytest.raises(svc.RemediationError, match=rf"^Correction #{c.pk} \(P1/"):
        svc.export_corrections(tmp_path / "gbk.csv", encoding="gbk")
    assert not (tmp_path / "gbk.csv").exists() and not Correction.objects.filter(exported_at__isnull=False)
    out = tmp_path / "changes.csv"
    out.write_text("earlier export")
    with pytest.raises(CommandError, match="已存在，未覆盖。$"):
        call_command("corrections", "export", str(out))
    with translation.override("en"), pytest.raises(CommandError, match="exists: not overwritten.$"):
        call_command("corrections", "export", str(out))
    out.unlink()
    stdout = StringIO()
    call_command("corrections", "export", str(out), stdout=stdout)
    assert stdout.getvalue().startswith("1 corrections written") and "🏠" in out.read_text()
    changed_at = out.read_text().splitlines()[1].split(",")[6]
    head = "policy_no,role,seq,field,changed_at,result,message\n"
    bad = tmp_path / "bad.csv"
    for body, reason in (
        (f"P1,applicant,1,address,{changed_at},maybe,\n", "row 2 result: 'maybe'"),
        (f"P1,applicant,1,address,{changed_at},accepted,\nP9,applicant,1,address,{changed_at},accepted,\n",
         "row 3: no exported correction P9/applicant/1"),
    ):  # fmt: skip
        bad.write_text(head + body)
        with pytest.raises(svc.RemediationError, match=reason):
            svc.acknowledge(bad)
        assert Correction.objects.get().ack_status == ""  # all or nothing
    bad.write_text("policy_no,role,result\nP1,applicant,accepted\n")
    with pytest.raises(CommandError, match="回执缺少列 changed_at, field, seq。$"):
        call_command("corrections", "ack", str(bad))
    with translation.override("en"), pytest.raises(CommandError, match="lacks the column"):
        call_command("corrections", "ack", str(bad))
    # a rejection (GBK file) sends the verified task back to contacting, recorded
    ack = tmp_path / "ack.csv"
    ack.write_bytes((head + f"P1,applicant,1,address,{changed_at},rejected,地址不规范\n").encode("gbk"))
    assert svc.acknowledge(ack)["rejected"] == 1
    task.refresh_from_db()
    assert task.status == "contacting"
    assert TaskEvent.objects.filter(task=task, to_status="contacting", reason__contains="地址不规范").exists()
    ack.write_text(head + f"P1,applicant,1,address,{changed_at},accepted,\n")
    with pytest.raises(svc.RemediationError, match="acknowledged rejected before"):
        svc.acknowledge(ack)


def test_tasks_sync_assign_and_sample_commands(small_book, people):
    from io import StringIO

    from django.core.management import call_command

    run = new_run(small_book)
    finding(run, "P1")
    finding(run, "P1", code="PH02")
    CheckRun.objects.filter(pk=run.pk).update(status="done")
    out = StringIO()
    call_command("tasks", "sync", "--run", str(run.pk), stdout=out)
    assert f"run #{run.pk}: 1 created, 2 findings linked, 0 closed, 1 assigned" in out.getvalue()
    assert "open_findings_without_open_task=0" in out.getvalue()
    Task.objects.update(assignee=None, assign_rule="")
    out = StringIO()
    call_command("tasks", "assign", stdout=out)
    assert out.getvalue().strip() == "1 tasks assigned" and Task.objects.get().assignee == people["agent"]
    out = StringIO()
    call_command("tasks", "sample", "--share", "1", stdout=out)
    assert out.getvalue().startswith("0 closed tasks drawn")
    with pytest.raises(Exception, match="抽检比例须在 0 到 1 之间：5.0。"):
        call_command("tasks", "sample", "--share", "5")
