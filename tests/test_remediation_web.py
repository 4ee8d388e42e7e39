"""Remediation pages and API: scoped, masked, watermarked; refusals come back as clear messages."""

import datetime as dt
import html
import re
import shutil
import subprocess

import pytest
from django.test import Client

from custos.api.models import ApiToken
from custos.remediation import services as svc
from custos.remediation.models import Task
from tests.test_remediation import finding, keys, new_run, people  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tasks(small_book, people):  # noqa: F811
    from custos.book.models import Policy

    Policy.objects.update(issued_on=dt.date(2020, 1, 1))
    run = new_run(small_book)
    finding(run, "P1")
    finding(run, "P2")
    svc.sync_tasks(run)
    return {t.policy_no: t for t in Task.objects.all()}


def _shows(html: str, policy_no: str) -> bool:
    """The page names that policy number as a word (a random CSRF token may contain "P2")."""
    return re.search(rf"(?<![A-Za-z0-9]){policy_no}(?![A-Za-z0-9])", html) is not None


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages(tasks, people):  # noqa: F811
    agent = login(people["agent"])
    r = agent.get("/remediation/")
    assert r.status_code == 200 and _shows(r.text, "P1") and not _shows(r.text, "P2")
    t = tasks["P1"]
    r = agent.get(f"/remediation/tasks/{t.pk}/")
    assert r.status_code == 200 and 'class="watermark"' in r.text
    assert "138****5678" in r.text and "13812345678" not in r.text  # masked through the access service
    assert agent.get(f"/remediation/tasks/{tasks['P2'].pk}/").status_code == 404  # outside scope
    r = agent.post(f"/remediation/tasks/{t.pk}/corrections/", {"field": "mobile", "new_value": "13957208146",
                                                               "version": t.version})  # fmt: skip
    assert r.status_code == 400 and "申请单号" in r.text and 'value="13957208146"' in r.text  # input kept
    r = agent.post(f"/remediation/tasks/{t.pk}/attempts/", {"method": "phone", "contact": "13812345678",
                                                            "outcome": "reached", "version": t.version})  # fmt: skip
    assert r.status_code == 302
    r = agent.post(f"/remediation/tasks/{t.pk}/attempts/", {"method": "phone", "contact": "1", "outcome": "reached",
                                                            "version": t.version})  # stale  # fmt: skip
    assert r.status_code == 409 and "此任务已被他人修改" in r.text and "Someone else" not in r.text
    cs = login(people["compliance"])
    for url in (
        "/remediation/team/",
        "/remediation/assign/",
        "/remediation/letters/",
        "/remediation/progress/",
    ):
        assert cs.get(url).status_code == 200, url
    assert agent.get("/remediation/assign/").status_code == 403
    r = cs.post("/remediation/assign/", {"task": [t.pk], "to": "mgr", "reason": "x"})
    assert r.status_code == 302 and Task.objects.get(pk=t.pk).assignee == people["manager"]


def test_pages_in_english_with_the_language_cookie(tasks, people, settings):  # noqa: F811
    agent = login(people["agent"])
    agent.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the language switcher's choice
    r = agent.get("/remediation/")
    assert r.status_code == 200 and "My tasks" in r.text and "Status" in r.text and "我的任务" not in r.text
    assert 'href="/remediation/"' in r.text  # the main navigation links to the remediation pages
    t = tasks["P1"]
    r = agent.get(f"/remediation/tasks/{t.pk}/")
    assert "Record a contact attempt" in r.text and "Propose a correction" in r.text and "Open" in r.text
    # field, role, status and history labels in English too (the codes are not shown)
    assert "<td>Mobile</td>" in r.text and "Applicant/1" in r.text and "<td>Created</td>" in r.text
    assert "<td>mobile</td>" not in r.text and "<td>create</td>" not in r.text
    r = agent.post(f"/remediation/tasks/{t.pk}/corrections/", {"field": "mobile", "new_value": "13957208146",
                                                               "version": t.version})  # fmt: skip
    assert (
        r.status_code == 400 and "needs the customer's request number" in r.text and "申请单号" not in r.text
    )
    from custos.book.models import Branch, Partner

    book_names = set(Branch.objects.values_list("name", flat=True)) | set(
        Partner.objects.values_list("name", flat=True)
    )
    cs = login(people["compliance"])
    cs.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for url, words in (
        ("/remediation/team/", "My team's tasks"),
        ("/remediation/assign/", "Assign the selected tasks"),
        ("/remediation/letters/", "Notice to a partner outlet"),
        ("/remediation/progress/", "By channel"),
        ("/remediation/samples/", "Draw at random"),
    ):
        r = cs.get(url)
        assert r.status_code == 200 and words in html.unescape(r.text), url
        main = r.text[r.text.index('<main class="page">') : r.text.index("</main>")]  # not the shell's
        text = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", main, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        han = set(re.findall(r"[\u4e00-\u9fff]+", text)) - book_names  # branch and outlet names: book data
        assert not han, (url, han)  # no Chinese left in the page's own content


def test_letters_pdf_and_partner_notice(tasks, people, tmp_path):  # noqa: F811
    cs = login(people["compliance"])
    r = cs.post("/remediation/letters/", {"kind": "customer", "tasks": str(tasks["P1"].pk)})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        pdf = tmp_path / "l.pdf"
        pdf.write_bytes(r.content)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "尊敬的" in text and "P1" in text and "13812345678" not in text
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
        assert "Noto-Sans-CJK-SC" in fonts and " yes " in fonts  # embedded
    cs.cookies["django_language"] = "en"  # the notice goes to the outlet: Chinese whatever the sender reads
    r = cs.post("/remediation/letters/", {"kind": "partner", "partner": "BK1", "format": "xlsx"})
    assert r.status_code == 200 and r.content.startswith(b"PK")
    import io

    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(min_row=3, values_only=True))
    listed = [row for row in rows if row[0] and str(row[0]).startswith("P")]
    assert listed and {row[1] for row in listed} <= {"投保人", "被保险人", "受益人"}  # not applicant
    assert all(row[4] and not str(row[4]).isascii() for row in listed)  # 待处理, not Open / open
    r = cs.post("/remediation/letters/", {"kind": "partner", "partner": "BK1", "format": "pdf"})
    assert r.content.startswith(b"%PDF")


def test_api(tasks, people, settings):  # noqa: F811
    token = ApiToken.issue(people["agent"], "test")[1]
    c = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = c.get("/api/v1/remediation/tasks")
    assert r.status_code == 200 and [t["policy_no"] for t in r.json()["results"]] == ["P1"]
    t = tasks["P1"]
    r = c.get(f"/api/v1/remediation/tasks/{t.pk}")
    assert r.status_code == 200 and r.json()["findings"][0]["value"] != "13800138000"
    r = c.post(
        f"/api/v1/remediation/tasks/{t.pk}/corrections", {"field": "mobile", "new_value": "13957208146"}
    )
    assert r.status_code == 400 and "申请单号" in r.json()["detail"]  # in Chinese, or the chosen language
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = c.post(
        f"/api/v1/remediation/tasks/{t.pk}/corrections", {"field": "mobile", "new_value": "13957208146"}
    )
    assert r.status_code == 400 and r.json()["detail"] == (
        "Changing the contact data of an issued policy needs the customer's request number; refused."
    )
    del c.cookies[settings.LANGUAGE_COOKIE_NAME]
    r = c.post(f"/api/v1/remediation/tasks/{t.pk}/corrections",
               {"field": "mobile", "new_value": "13957208146", "request_no": "BQ1"})  # fmt: skip
    assert r.status_code == 201
    cid = r.json()["id"]
    r = c.post(
        f"/api/v1/remediation/corrections/{cid}/review", {"approve": True}, content_type="application/json"
    )
    assert r.status_code == 403  # self-approval
    assert c.get(f"/api/v1/remediation/tasks/{tasks['P2'].pk}").status_code == 404
    assert c.get("/api/v1/remediation/progress").json()["total"]["open"] == 1


def test_sampling_page_and_api(tasks, people):  # noqa: F811
    from custos.remediation.models import Sample

    # P1 corrected, verified and closed by the next book; cs2 made the return visit (the closer)
    t = tasks["P1"]
    c = svc.propose_correction(t, people["agent"], "email", "a@example.com")
    svc.review_correction(c, people["cs"], approve=True)
    t.refresh_from_db()
    svc.verify_task(t, people["cs2"], contact="13800138000", success=True)
    from custos.checks.models import Finding

    Finding.objects.filter(policy_no="P1").update(status="closed")
    svc.sync_tasks(new_run(t.opened_run.load))
    t.refresh_from_db()
    assert (t.status, t.close_reason) == ("closed", "verified")

    comp = login(people["compliance"])
    assert login(people["cs"]).post("/remediation/samples/", {"share": "100"}).status_code == 302
    assert not Sample.objects.exists()  # only compliance draws
    r = comp.post("/remediation/samples/", {"share": "abc"}, follow=True)
    assert "0 到 100" in r.text and not Sample.objects.exists()
    comp.post("/remediation/samples/", {"share": "100"})
    sample = Sample.objects.get()
    assert (sample.task, sample.closer) == (t, people["cs2"])
    r = comp.get("/remediation/samples/")
    assert r.status_code == 200 and "cs2" in r.text and "P1" in r.text
    # the closer cannot check their own work
    token = ApiToken.issue(people["cs2"], "t")[1]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = api.post(
        f"/api/v1/remediation/samples/{sample.pk}", {"passed": True}, content_type="application/json"
    )
    assert r.status_code == 403
    r = login(people["cs"]).post(
        f"/remediation/samples/{sample.pk}/", {"result": "failed", "note": "号码空号"}
    )
    assert r.status_code == 302
    sample.refresh_from_db()
    t.refresh_from_db()
    assert (sample.result, sample.checked_by, sample.closer) == ("failed", people["cs"], people["cs2"])
    assert (t.status, t.reopened) == ("contacting", True)  # reopened, recorded against cs2
    r = api.get("/api/v1/remediation/samples?result=failed")
    assert [s["closer"] for s in r.json()] == ["cs2"]


def test_letter_batch_downloads_again_for_its_maker_only(tasks, people):  # noqa: F811
    from custos.remediation.models import LetterBatch

    cs = login(people["compliance"])
    assert (
        cs.post("/remediation/letters/", {"kind": "partner", "partner": "BK1", "format": "xlsx"}).status_code
        == 200
    )
    batch = LetterBatch.objects.get()
    r = cs.get(f"/remediation/letters/{batch.pk}/?format=xlsx")
    assert r.status_code == 200 and r.content.startswith(b"PK") and LetterBatch.objects.count() == 1
    assert f"/remediation/letters/{batch.pk}/" in cs.get("/remediation/letters/").text
    assert login(people["cs"]).get(f"/remediation/letters/{batch.pk}/").status_code == 404
    r = cs.post("/remediation/letters/", {"kind": "partner", "partner": "NOPE", "format": "xlsx"})
    assert r.status_code == 302 and LetterBatch.objects.count() == 1  # nothing to notify: refused, no batch


def test_bulk_assignment_of_everything_a_filter_matches(tasks, people):  # noqa: F811
    cs = login(people["compliance"])
    r = cs.get("/remediation/assign/?assignee=agent1")
    assert r.status_code == 200 and _shows(r.text, "P1") and not _shows(r.text, "P2")
    r = cs.post(
        "/remediation/assign/", {"to": "mgr", "matching": "1", "assignee": "agent1", "reason": "离职交接"}
    )
    assert r.status_code == 302
    assert Task.objects.get(pk=tasks["P1"].pk).assignee == people["manager"]
    assert Task.objects.get(pk=tasks["P2"].pk).assignee != people["manager"]
    # a filter reaching a task outside the new assignee's scope reassigns nothing
    r = cs.post("/remediation/assign/", {"to": "agent1", "matching": "1", "reason": "x"}, follow=True)
    assert "nothing was reassigned" in r.text or "未做任何指派" in r.text
    assert Task.objects.get(pk=tasks["P1"].pk).assignee == people["manager"]


def test_identity_proposed_value_is_offered_without_showing_it(small_book, people):  # noqa: F811
    from custos.book.models import Party
    from custos.remediation.models import Correction

    run = new_run(small_book)
    old = Party.objects.get(policy_no="P1", role="applicant").id_no
    proposed = "440106198005061235"
    f = finding(run, "P1", code="ID05", field="id_no", proposed=proposed)
    svc.sync_tasks(run)
    task = Task.objects.get()
    agent = login(people["agent"])
    r = agent.get(f"/remediation/tasks/{task.pk}/")
    assert r.status_code == 200 and 'name="proposed_from"' in r.text and proposed not in r.text  # masked
    r = agent.post(
        f"/remediation/tasks/{task.pk}/corrections/", {"proposed_from": f.pk, "version": task.version}
    )
    assert r.status_code == 302, r.content[:500]
    c = Correction.objects.get()
    assert (c.field, c.new_value, c.old_value) == ("id_no", proposed, old or "")
    r = agent.post(f"/remediation/tasks/{task.pk}/corrections/", {"proposed_from": 999999, "version": 2})
    assert r.status_code == 400 and "没有可采用的建议值" in r.text


def test_task_history_notes_in_the_readers_language(tasks, people, settings):  # noqa: F811
    """The notes custos writes on events (check run, contact attempt, correction, review) are shown in
    the interface's language; a person's own words after them are kept as written."""
    from custos.remediation.notes import event_note

    t = tasks["P1"]
    agent = login(people["agent"])
    agent.post(f"/remediation/tasks/{t.pk}/attempts/", {"method": "phone", "contact": "13812345678",
                                                        "outcome": "reached", "version": t.version})  # fmt: skip
    t.refresh_from_db()
    r = agent.post(f"/remediation/tasks/{t.pk}/corrections/", {"field": "mobile", "new_value": "13957208146",
                                                               "request_no": "REQ-1", "version": t.version})  # fmt: skip
    assert r.status_code == 302
    reasons = list(t.events.values_list("reason", flat=True))
    assert any(r.startswith("check run #") for r in reasons) and "phone: reached" in reasons
    assert "correction of mobile" in reasons  # the stored text is unchanged (the API returns it)
    html = agent.get(f"/remediation/tasks/{t.pk}/").text
    history = html[html.index("处理记录") :]
    assert "电话：已联系上" in history and "提交更正：手机号码" in history and "发现问题" in history
    assert "phone: reached" not in history and "correction of" not in history and "check run" not in history
    agent.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    history = agent.get(f"/remediation/tasks/{t.pk}/").text
    assert "Phone: Reached" in history and "Correction of Mobile proposed" in history
    from django.utils import translation

    with translation.override("zh-hans"):
        assert event_note("approved mobile 客户来电确认") == "更正通过：手机号码 客户来电确认"
        assert event_note("rejected email: 无证明") == "更正退回：电子邮箱 无证明"
        assert event_note("客户要求暂缓") == "客户要求暂缓"  # a person's words, as they are
        assert (
            event_note("agent", "assign") == "按规则指派：业务员" and event_note("agent", "close") == "agent"
        )
        assert event_note("overdue → manager", "escalate") == "逾期，升级至主管"
