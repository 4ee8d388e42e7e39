"""Partners who do not correct: a clean-up campaign, the numbered formal letter (PDF, Chinese, fonts
embedded, SHA-256 kept) with its tracked delivery, termination recommendations (idempotent) with the
evidence, compliance's opinion and decision, and what a termination does: PT01 rejects the partner's
new applications, its staff lose every capability, their tokens and the partner's screening keys stop
working — each step in the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from custos.access.capabilities import can, capabilities_of
from custos.access.service import AccessContext
from custos.audit.models import ChangeEvent
from custos.book.models import CommissionItem
from custos.checks.models import Finding
from custos.commission import services as commission
from custos.partnership import services
from custos.partnership.models import Campaign, Letter, LetterEvent, Recommendation, Report, Termination
from custos.remediation import services as remediation
from tests.conftest import make_user, require
from tests.test_remediation import finding, keys, new_run  # noqa: F401 (keys: an autouse fixture)
from tests.test_screening import application, key, post

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def world(small_book, settings):
    """BK1 sold P2 and P4; each has an open false finding (opened 30 days ago) and a remediation task;
    January's commission of BK1 (30.05 + 40.00) is held, and 12.34 already paid on P4 was deducted."""
    settings.CUSTOS_OTP_REQUIRED = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    run = new_run(small_book)
    opened = timezone.now() - dt.timedelta(days=30)
    f2 = finding(run, "P2", code="ID03", field="id_no")
    f4 = finding(run, "P4", code="PH03", field="mobile")
    Finding.objects.filter(pk__in=[f2.pk, f4.pk]).update(opened_at=opened)
    remediation.sync_tasks(run)
    for no, policy, amount, paid in [
        ("I3", "P2", "30.05", None),
        ("I4", "P4", "40.00", None),
        ("I7", "P4", "12.34", dt.date(2025, 12, 1)),
    ]:
        CommissionItem.objects.create(
            item_no=no, policy_no=policy, payee_kind="partner", payee="BK1", kind="first_year", period="2026-01",
            amount=Decimal(amount), paid_on=paid, first_load=small_book, last_load=small_book,
        )  # fmt: skip
    commission.settle("2026-01", by="test")
    return {
        "load": small_book,
        "findings": {"P2": f2, "P4": f4},
        "compliance": make_user("comp", "compliance"),
        "cs": make_user("cs", "customer_service"),
        "bk1": make_user("bk1", "partner_staff", partner_code="BK1"),
        "agent": make_user("agent1", "agent", staff_no="A1"),
    }


def campaign_with_letter(w, deadline=None, started_on=None):
    ctx = AccessContext.for_user(w["compliance"])
    c = services.open_campaign("2026 清查", w["compliance"], started_on=started_on, deadline=deadline)
    return c, services.draft_letter(ctx, c, "BK1")


def deliver(letter, user):
    services.record_step(letter, user, "send", via="courier", tracking_no="SF100", on=timezone.localdate())
    return services.record_step(letter, user, "deliver", signed_by="李经理", on=timezone.localdate())


# --- campaigns and letters --------------------------------------------------------------------------


def test_a_campaigns_deadline_is_the_setting_unless_compliance_sets_a_date(world, settings):
    settings.CUSTOS_CAMPAIGN_DEADLINE_DAYS = 45
    start = dt.date(2026, 3, 1)
    c = services.open_campaign("春季清查", world["compliance"], started_on=start)
    assert c.deadline == start + dt.timedelta(days=45)
    c2 = services.open_campaign("专项", world["compliance"], started_on=start, deadline=dt.date(2026, 3, 10))
    assert c2.deadline == dt.date(2026, 3, 10)
    with pytest.raises(services.PartnershipError):
        services.open_campaign("倒序", world["compliance"], started_on=start, deadline=dt.date(2026, 2, 1))
    with pytest.raises(services.PartnershipError):
        services.open_campaign("客服", world["cs"])  # customer service does not hold partnership.manage
    assert ChangeEvent.objects.filter(action="campaign.opened").count() == 2


def test_the_letter_is_numbered_lists_policies_and_held_commission_and_its_pdf_is_kept(world, tmp_path):
    c, letter = campaign_with_letter(world)
    assert letter.number == f"合规清查函〔{timezone.localdate():%Y}〕{letter.pk:05d}号"
    assert (letter.policies, letter.held_fen, letter.deadline) == (2, 3005 + 4000 + 1234, c.deadline)
    data = Path(letter.path).read_bytes()
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == letter.sha256
    assert services.pdf_bytes(letter) == data
    with pytest.raises(services.PartnershipError):  # once per campaign and partner
        services.draft_letter(AccessContext.for_user(world["compliance"]), c, "BK1")
    event = ChangeEvent.objects.get(action="partner_letter.drafted")
    assert event.object_id == str(letter.pk)
    require(shutil.which("pdftotext") is not None and shutil.which("pdffonts") is not None, "poppler-utils")
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    flat = "".join(text.split())
    assert letter.number in flat and "P2" in flat and "P4" in flat and "P1" not in flat
    assert "某银行天河支行" in flat and "82.39" in flat and "终止" in flat and "手续费" in flat
    assert f"{c.deadline.year}年{c.deadline.month}月{c.deadline.day}日" in flat
    assert "13812345678" not in flat and "440106198005061234" not in flat  # no customer value
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    rows = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and any("Noto-Sans-CJK-SC" in r for r in rows)
    assert all(r.split()[-5] == "yes" for r in rows), fonts  # every font embedded


def test_a_tampered_pdf_is_refused(world):
    _c, letter = campaign_with_letter(world)
    Path(letter.path).write_bytes(b"%PDF-1.7 something else")
    with pytest.raises(services.PartnershipError, match="校验值"):
        services.pdf_bytes(letter)


def test_delivery_is_tracked_step_by_step_and_audited(world):
    _c, letter = campaign_with_letter(world)
    user = world["compliance"]
    with pytest.raises(services.PartnershipError):
        services.record_step(letter, user, "deliver", signed_by="x")  # not sent yet
    with pytest.raises(services.PartnershipError, match="运单号"):
        services.record_step(letter, user, "send", via="post")
    with pytest.raises(services.PartnershipError):
        services.record_step(letter, world["cs"], "send", via="email")  # no capability
    with pytest.raises(services.PartnershipError):
        services.record_step(letter, user, "send", via="email", on=timezone.localdate() + DAY)  # future
    letter = deliver(letter, user)
    assert (letter.status, letter.via, letter.tracking_no, letter.signed_by) == (
        "delivered",
        "courier",
        "SF100",
        "李经理",
    )
    with pytest.raises(services.PartnershipError, match="拒绝"):
        services.record_step(letter, user, "refuse")  # a refusal needs what the partner said
    letter = services.record_step(letter, user, "acknowledge", note="回执已收到")
    assert letter.status == "acknowledged"
    steps = list(LetterEvent.objects.filter(letter=letter).values_list("from_status", "to_status"))
    assert steps == [
        ("", "drafted"),
        ("drafted", "sent"),
        ("sent", "delivered"),
        ("delivered", "acknowledged"),
    ]
    actions = list(ChangeEvent.objects.filter(object_id=str(letter.pk), action__startswith="partner_letter.")
                   .order_by("seq").values_list("action", flat=True))  # fmt: skip
    assert actions == ["partner_letter.drafted", "partner_letter.sent", "partner_letter.delivered",
                       "partner_letter.acknowledged"]  # fmt: skip
    assert ChangeEvent.objects.filter(action="partner_letter.sent", username="comp").exists()


def test_a_returned_letter_is_sent_again(world):
    _c, letter = campaign_with_letter(world)
    user = world["compliance"]
    services.record_step(letter, user, "send", via="post", tracking_no="XA1")
    letter = services.record_step(letter, user, "return", note="地址不详")
    assert letter.status == "returned"
    letter = services.record_step(letter, user, "send", via="courier", tracking_no="SF2")
    assert (letter.status, letter.tracking_no) == ("sent", "SF2")


# --- recommendations --------------------------------------------------------------------------------


def test_no_recommendation_before_the_deadline_nor_for_an_unsent_letter(world):
    c, letter = campaign_with_letter(
        world, started_on=timezone.localdate() - 60 * DAY, deadline=timezone.localdate() - DAY
    )
    assert services.review(c) == []  # drafted, never sent: the partner was not told
    deliver(letter, world["compliance"])
    assert services.review(c, today=timezone.localdate() - DAY) == []  # on the deadline day itself
    assert len(services.review(c)) == 1


def test_overdue_findings_give_one_recommendation_with_its_evidence_and_a_second_review_adds_nothing(world):
    today = timezone.localdate()
    c, letter = campaign_with_letter(world, started_on=today - 40 * DAY, deadline=today - 5 * DAY)
    deliver(letter, world["compliance"])
    # a finding opened after the deadline was not in the letter: it does not count as overdue
    late = finding(new_run(world["load"]), "P2", code="NM02", field="name")
    [rec] = services.review(c, actor=world["compliance"])
    assert rec.grounds == ["overdue"] and rec.deadline == c.deadline
    assert (rec.policies, rec.open_findings, rec.held_fen, rec.deducted_fen) == (
        2,
        2,
        3005 + 4000 + 1234,
        1234,
    )
    ids = {f["id"] for f in rec.evidence["findings"]}
    assert ids == {world["findings"]["P2"].pk, world["findings"]["P4"].pk} and late.pk not in ids
    assert "value" not in rec.evidence["findings"][0]  # codes and fields, never a customer value
    assert {i["item_no"] for i in rec.evidence["items"]} == {"I3", "I4", "I7"}
    [trail] = rec.evidence["letters"]
    assert (trail["number"], trail["status"], trail["tracking_no"], trail["signed_by"]) == (
        letter.number, "delivered", "SF100", "李经理",
    )  # fmt: skip
    assert [e["to"] for e in trail["events"]] == ["drafted", "sent", "delivered"]
    assert Report.objects.filter(recommendation=rec, kind="recommended").count() == 1
    assert ChangeEvent.objects.filter(action="termination.recommended", object_id=str(rec.pk)).count() == 1
    assert services.review(c) == [] and services.review() == []  # idempotent
    assert Recommendation.objects.count() == 1 and Report.objects.count() == 1


def test_a_recorded_refusal_gives_a_recommendation_before_the_deadline(world):
    c, letter = campaign_with_letter(world)  # deadline 60 days ahead
    deliver(letter, world["compliance"])
    services.record_step(letter, world["compliance"], "refuse", note="网点拒绝配合")
    [rec] = services.review(c)
    assert rec.grounds == ["refused"]


def test_corrected_in_time_no_recommendation(world):
    today = timezone.localdate()
    c, letter = campaign_with_letter(world, started_on=today - 40 * DAY, deadline=today - DAY)
    deliver(letter, world["compliance"])
    Finding.objects.update(status=Finding.Status.CLOSED, closed_at=timezone.now())
    assert services.review(c) == []


def test_opinion_then_decision_each_audited_extend_gives_a_second_round_later(world):
    today = timezone.localdate()
    c, letter = campaign_with_letter(world, started_on=today - 40 * DAY, deadline=today - DAY)
    deliver(letter, world["compliance"])
    [rec] = services.review(c)
    comp = world["compliance"]
    with pytest.raises(services.PartnershipError, match="意见"):
        services.decide(rec, comp, "extend", "给予最后期限", new_deadline=today + 10 * DAY)
    with pytest.raises(services.PartnershipError):
        services.record_opinion(rec, world["cs"], "客服无权出具意见")
    services.record_opinion(rec, comp, "该机构已开始整改，建议延期十日。")
    with pytest.raises(services.PartnershipError):
        services.decide(rec, comp, "extend", "x", new_deadline=today)  # must be after today
    with pytest.raises(services.PartnershipError):
        services.decide(rec, comp, "terminate", "")  # a reason is required
    rec = services.decide(rec, comp, "extend", "给予最后期限", new_deadline=today + 10 * DAY)
    assert (rec.status, rec.decision, rec.decided_by) == ("decided", "extend", comp)
    assert not Termination.objects.exists()
    assert services.review(c) == []  # the new deadline has not passed
    [second] = services.review(c, today=today + 11 * DAY)
    assert (second.round, second.deadline, second.grounds) == (2, today + 10 * DAY, ["overdue"])
    actions = set(ChangeEvent.objects.filter(object_id=str(rec.pk), action__startswith="termination.")
                  .values_list("action", flat=True))  # fmt: skip
    assert actions == {"termination.recommended", "termination.opinion", "termination.decided"}
    assert Report.objects.filter(kind="decided").count() == 1


def test_no_action_is_final_for_the_campaign(world):
    c, letter = campaign_with_letter(world)
    deliver(letter, world["compliance"])
    services.record_step(letter, world["compliance"], "refuse", note="拒绝")
    [rec] = services.review(c)
    services.record_opinion(rec, world["compliance"], "误会已澄清。")
    services.decide(rec, world["compliance"], "none", "已当面沟通，同意配合")
    assert services.review(c) == []


# --- termination ------------------------------------------------------------------------------------


def terminate(w):
    c, letter = campaign_with_letter(w)
    deliver(letter, w["compliance"])
    services.record_step(letter, w["compliance"], "refuse", note="拒绝配合核查")
    [rec] = services.review(c)
    services.record_opinion(rec, w["compliance"], "拒不配合，建议终止合作。")
    return services.decide(rec, w["compliance"], "terminate", "拒不配合清查")


def test_termination_cuts_the_partners_staff_off_the_same_day(world, client):
    bk1, agent = world["bk1"], world["agent"]
    assert can(bk1, "commission.own") and AccessContext.for_user(bk1).policies().count() == 2
    rec = terminate(world)
    term = Termination.objects.get(partner_code="BK1")
    assert term.recommendation == rec and term.effective_on == timezone.localdate()
    bk1.refresh_from_db()
    assert not bk1.is_active and term.users_deactivated == ["bk1"]
    # even an account switched on again holds nothing: the capability table asks the termination
    type(bk1).objects.filter(pk=bk1.pk).update(is_active=True)
    bk1.refresh_from_db()
    assert not can(bk1, "commission.own") and capabilities_of(bk1) == frozenset()
    assert AccessContext.for_user(bk1).policies().count() == 0
    client.force_login(bk1)
    assert client.get("/commission/mine/").status_code == 403
    assert can(agent, "task.work")  # other people are not affected
    assert ChangeEvent.objects.filter(action="partner.terminated").count() == 1
    assert ChangeEvent.objects.filter(action="user.deactivated", object_id=str(bk1.pk)).exists()


def test_the_partners_api_token_stops_working(world, client):
    from custos.api.models import ApiToken

    secret = "tok-" + "x" * 40
    ApiToken.objects.create(user=world["bk1"], name="bank", prefix=secret[:8], digest=ApiToken.hash(secret))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/customers", **auth).status_code == 200
    terminate(world)
    assert client.get("/api/v1/customers", **auth).status_code == 401
    assert ApiToken.objects.get(user=world["bk1"]).revoked
    assert Termination.objects.get().tokens_revoked == 1


def test_pt01_rejects_new_applications_sold_through_a_terminated_partner(world, client, custos_home):
    from custos.screening import service
    from custos.screening.models import Client as ScreenKey

    core = key("core")
    bank = key("bk1-front-end", partner_codes=["BK1"])
    other = key("two-banks", partner_codes=["BK1", "BK2"])
    doc = application(
        "T1", "N91", channel="bancassurance", branch_code="GZ", partner_code="BK1", agent_no="A1"
    )
    before = post(client, core, doc).json()
    assert before["verdict"] == "pass" and not any(f["code"] == "PT01" for f in before["findings"])
    terminate(world)
    service._CLIENTS.clear()  # the per-process key cache (10 s) of this test's worker
    r = post(client, core, {**doc, "application_id": "T2", "policy": {**doc["policy"], "policy_no": "N92"}})
    answer = r.json()
    assert r.status_code == 200 and answer["verdict"] == "reject"
    [pt] = [f for f in answer["findings"] if f["code"] == "PT01"]
    assert (pt["blocking"], pt["field"], pt["role"]) == ("reject", "partner_code", "policy")
    assert "终止合作" in pt["message_zh"] and "terminated" in pt["message_en"]
    # the bank's own front end for BK1 alone is revoked; a key for two banks keeps working
    assert post(client, bank, {**doc, "application_id": "T3"}).status_code == 401
    assert not ScreenKey.objects.get(name="bk1-front-end").active
    assert ScreenKey.objects.get(name="two-banks").active
    assert Termination.objects.get().keys_revoked == ["bk1-front-end"]
    plain = application("T4", "N94", channel="agency", branch_code="GZ", partner_code="", agent_no="A1")
    assert post(client, other, plain).status_code == 403  # out of its scope, as before
    assert post(client, core, plain).json()["verdict"] == "pass"  # other business is not affected


def test_pt01_rejects_whatever_the_companys_reject_list_says(world, client, settings):
    settings.CUSTOS_SCREEN_REJECT = frozenset()
    settings.CUSTOS_SCREEN_IGNORE = frozenset({"PT01"})
    terminate(world)
    core = key("core")
    doc = application(
        "T9", "N99", channel="bancassurance", branch_code="GZ", partner_code="BK1", agent_no="A1"
    )
    assert post(client, core, doc).json()["verdict"] == "reject"


def test_the_command_reviews_and_says_what_it_did(world, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    today = timezone.localdate()
    start, deadline = (today - 20 * DAY).isoformat(), (today - DAY).isoformat()  # the findings: 30 days old
    call_command("partnership", "campaign", "--name", "命令行清查", "--user", "comp",
                 "--start", start, "--deadline", deadline)  # fmt: skip
    c = Campaign.objects.get(name="命令行清查")
    assert c.deadline == today - DAY
    call_command("partnership", "letters", "--campaign", str(c.pk), "--user", "comp")
    letter = Letter.objects.get(campaign=c)
    assert letter.partner_code == "BK1" and letter.number in capsys.readouterr().out
    deliver(letter, world["compliance"])
    call_command("partnership", "review", "--campaign", str(c.pk))
    assert "1 new recommendation(s)" in capsys.readouterr().out
    call_command("partnership", "review")
    assert "0 new recommendation(s)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no campaign"):
        call_command("partnership", "review", "--campaign", "999")
    with pytest.raises(CommandError, match="not a date"):
        call_command("partnership", "campaign", "--name", "x", "--user", "comp", "--deadline", "2026-13-01")


def test_the_demo_step_writes_sends_and_recommends_once(world):
    from custos.partnership.demo import DEMO_CAMPAIGN, demo_partnership

    make_user("demo_compliance", "compliance")
    make_user("demo_partner_staff", "partner_staff", partner_code="BK1")
    said: list[str] = []
    demo_partnership(said.append)
    letter = Letter.objects.get(campaign__name=DEMO_CAMPAIGN)
    assert (letter.partner_code, letter.status, letter.via) == ("BK1", "refused", "courier")
    [rec] = Recommendation.objects.all()
    assert rec.grounds == ["refused"] and rec.status == "open" and letter.number in said[-1]
    assert can(world["bk1"], "partnership.own")  # no decision: the demo partner keeps its access
    demo_partnership(said.append)
    assert Recommendation.objects.count() == 1 and "exists" in said[-1]


def test_the_daily_job_reviews_like_the_command(world):
    from custos.partnership.tasks import periodic_review

    today = timezone.localdate()
    _c, letter = campaign_with_letter(world, started_on=today - 40 * DAY, deadline=today - DAY)
    deliver(letter, world["compliance"])
    assert periodic_review.call_local() == 1
    assert periodic_review.call_local() == 0
    assert Recommendation.objects.get().created_by_name == "huey"
