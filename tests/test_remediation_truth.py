"""Corrections write only what the checks accept (issue 18): the new value goes through the
catalogue's own rules (the online evaluator) when proposed and again when applied; a failed return
visit takes the unverified value out of the record; a verified task says what must happen before
it can be closed."""

import datetime as dt

import pytest
from django.utils import translation

from custos.audit.models import ChangeEvent
from custos.book.models import Party
from custos.remediation import services as svc
from custos.remediation.models import Correction, CorrectionHistory
from tests.test_remediation import keys, make_task, people  # noqa: F401 (fixtures)
from tests.test_remediation_web import login

pytestmark = pytest.mark.django_db

GOOD_ID = "440106198005061235"  # 18 digits, right check digit, born 1980-05-06 as on file
GOOD_MOBILE = "13957208146"


def applicant(policy_no="P1") -> Party:
    return Party.objects.get(policy_no=policy_no, role="applicant", seq=1)


@pytest.mark.parametrize(
    "field, value, code, zh, en",
    [
        ("id_no", "123", "ID02", "居民身份证号码不是18位", "Resident ID number is not 18 characters"),
        ("email", "not-an-email", "EM01", "电子邮箱格式无效", "E-mail address is syntactically invalid"),
        ("mobile", "13800138000", "PH03", "占位手机号", "Placeholder mobile"),
        ("birth_date", "1990-01-01", "ID06", "出生日期与身份证号码", "Birth date differs"),
    ],
)
def test_a_value_the_checks_would_find_is_refused_with_the_reason(
    small_book,
    people,  # noqa: F811
    field,
    value,
    code,
    zh,
    en,
):
    task, _ = make_task(small_book, field=field, code="ID03" if field == "id_no" else "PH03")
    with pytest.raises(svc.ValueRefused) as refused:
        svc.propose_correction(task, people["agent"], field, value)
    assert code in [o.code for o in refused.value.objections] and zh in str(refused.value)
    with translation.override("en"), pytest.raises(svc.ValueRefused) as refused_en:
        svc.propose_correction(task, people["agent"], field, value)
    assert en in str(refused_en.value)
    task.refresh_from_db()
    assert task.status == "open" and not Correction.objects.exists()


def test_a_value_the_checks_accept_is_proposed(small_book, people):  # noqa: F811
    task, _ = make_task(small_book, field="id_no", code="ID03")
    assert svc.objections("P1", "applicant", 1, "id_no", "440106198005061234")[0].code == "ID03"  # on file
    c = svc.propose_correction(task, people["agent"], "id_no", GOOD_ID)
    svc.review_correction(c, people["cs"], approve=True)
    assert applicant().id_no == GOOD_ID
    c2_task, _ = make_task(small_book, policy_no="P3", field="email", code="EM01")
    svc.propose_correction(c2_task, people["agent2"], "email", "zhang.san@example.com")


def test_a_finding_on_another_field_is_shown_not_refused(small_book, people):  # noqa: F811
    """A valid ID number whose birth date contradicts the birth date on file: ID06 on birth_date is
    reported, not refused — the birth date is corrected next (either order would be refused)."""
    task, _ = make_task(small_book, field="id_no", code="ID03")
    found = svc.objections("P1", "applicant", 1, "id_no", "440106199001012713")
    assert [(o.code, o.field, o.blocking) for o in found] == [("ID06", "birth_date", False)]
    svc.propose_correction(task, people["agent"], "id_no", "440106199001012713")
    html = login(people["cs"]).get(f"/remediation/tasks/{task.pk}/").text
    assert "更正后其他字段将出现的问题" in html and "ID06" in html and "核查规则：新值未发现问题" in html


def test_approval_checks_the_value_again(small_book, people):  # noqa: F811
    """A correction proposed before the checks applied to proposals (or one the book has since made
    wrong) is refused at approval: the record keeps its value."""
    task, _ = make_task(small_book, field="id_no", code="ID03")
    c = Correction.objects.create(task=task, policy_no="P1", role="applicant", seq=1, field="id_no",
                                  old_value="440106198005061234", new_value="123", proposed_by=people["agent"],
                                  proposed_at=task.created_at)  # fmt: skip
    with pytest.raises(svc.ValueRefused, match="ID02"):
        svc.review_correction(c, people["cs"], approve=True)
    c.refresh_from_db()
    assert c.status == "proposed" and applicant().id_no == "440106198005061234"
    assert not CorrectionHistory.objects.exists()


def test_the_reviewer_sees_what_the_checks_say(small_book, people):  # noqa: F811
    task, _ = make_task(small_book, field="id_no", code="ID03")
    Correction.objects.create(task=task, policy_no="P1", role="applicant", seq=1, field="id_no",
                              old_value="440106198005061234", new_value="123", proposed_by=people["agent"],
                              proposed_at=task.created_at)  # fmt: skip
    html = login(people["cs"]).get(f"/remediation/tasks/{task.pk}/").text
    assert "核查规则认为新值有问题" in html and "ID02 居民身份证号码不是18位" in html and ">123<" not in html
    # the page refuses a bad proposal with the reason and keeps the input
    r = login(people["agent"]).post(f"/remediation/tasks/{task.pk}/corrections/",
                                    {"field": "email", "new_value": "not-an-email"})  # fmt: skip
    assert r.status_code == 400 and "EM01 电子邮箱格式无效" in r.text


def test_a_failed_return_visit_reverts_the_unverified_value(small_book, people):  # noqa: F811
    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "mobile", GOOD_MOBILE)
    svc.review_correction(c, people["cs"], approve=True)
    assert applicant().mobile == GOOD_MOBILE and applicant().mobile_bidx != ""
    before_bidx = Party.objects.filter(policy_no="P2", role="applicant").values_list(
        "mobile_bidx", flat=True
    )[0]
    task.refresh_from_db()
    svc.verify_task(task, people["cs2"], contact=GOOD_MOBILE, success=False, note="号码不是本人")
    task.refresh_from_db()
    party = applicant()
    assert party.mobile == "13812345678" and party.mobile_bidx == before_bidx  # the value before, indexed
    assert task.status == "contacting" and Correction.objects.get().status == "failed"
    h = CorrectionHistory.objects.order_by("id").last()
    assert (h.old_value, h.new_value, h.applied_by) == (GOOD_MOBILE, "13812345678", people["cs2"])
    assert ChangeEvent.objects.filter(action="party.corrected").count() == 2  # applied, then reverted
    from custos.integrity.rows import check

    _, failures = check(Party, [party.pk])
    assert failures == []  # the integrity tag follows the revert
    # the task is open for contacting again: a new correction can be proposed
    svc.propose_correction(task, people["agent"], "mobile", "13957208147", version=task.version)


def test_a_verified_task_shows_what_must_happen_before_closing(small_book, people):  # noqa: F811
    task, _ = make_task(small_book)
    c = svc.propose_correction(task, people["agent"], "mobile", GOOD_MOBILE)
    svc.review_correction(c, people["cs"], approve=True)
    task.refresh_from_db()
    svc.verify_task(task, people["cs2"], contact=GOOD_MOBILE, success=True)
    html = login(people["cs"]).get(f"/remediation/tasks/{task.pk}/").text
    assert f"/remediation/tasks/{task.pk}/close/" not in html  # no button the server would refuse
    assert "现在还不能关闭" in html and "已导出 0 / 1" in html and "下一期数据复查通过后" in html
    with pytest.raises(svc.IllegalTransition):
        svc.close_task(task, people["cs"])
    # once no finding of the task is open (a sampled task reopened and verified again), the button is there
    svc.Finding.objects.update(status="closed", closed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    html = login(people["cs"]).get(f"/remediation/tasks/{task.pk}/").text
    assert f"/remediation/tasks/{task.pk}/close/" in html
