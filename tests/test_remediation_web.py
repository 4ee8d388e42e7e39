"""Remediation pages and API: scoped, masked, watermarked; refusals come back as clear messages."""

import datetime as dt
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


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages(tasks, people):  # noqa: F811
    agent = login(people["agent"])
    r = agent.get("/remediation/")
    assert r.status_code == 200 and "P1" in r.text and "P2" not in r.text
    t = tasks["P1"]
    r = agent.get(f"/remediation/tasks/{t.pk}/")
    assert r.status_code == 200 and 'class="watermark"' in r.text
    assert "138****5678" in r.text and "13812345678" not in r.text  # masked through the access service
    assert agent.get(f"/remediation/tasks/{tasks['P2'].pk}/").status_code == 404  # outside scope
    r = agent.post(f"/remediation/tasks/{t.pk}/corrections/", {"field": "mobile", "new_value": "13912345678",
                                                               "version": t.version})  # fmt: skip
    assert r.status_code == 400 and "申请单号" in r.text and 'value="13912345678"' in r.text  # input kept
    r = agent.post(f"/remediation/tasks/{t.pk}/attempts/", {"method": "phone", "contact": "13812345678",
                                                            "outcome": "reached", "version": t.version})  # fmt: skip
    assert r.status_code == 302
    r = agent.post(f"/remediation/tasks/{t.pk}/attempts/", {"method": "phone", "contact": "1", "outcome": "reached",
                                                            "version": t.version})  # stale  # fmt: skip
    assert r.status_code == 409 and "Someone else changed this task first" in r.text
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
    r = cs.post("/remediation/letters/", {"kind": "partner", "partner": "BK1", "format": "xlsx"})
    assert r.status_code == 200 and r.content.startswith(b"PK")
    r = cs.post("/remediation/letters/", {"kind": "partner", "partner": "BK1", "format": "pdf"})
    assert r.content.startswith(b"%PDF")


def test_api(tasks, people):  # noqa: F811
    token = ApiToken.issue(people["agent"], "test")[1]
    c = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    r = c.get("/api/v1/remediation/tasks")
    assert r.status_code == 200 and [t["policy_no"] for t in r.json()["results"]] == ["P1"]
    t = tasks["P1"]
    r = c.get(f"/api/v1/remediation/tasks/{t.pk}")
    assert r.status_code == 200 and r.json()["findings"][0]["value"] != "13800138000"
    r = c.post(
        f"/api/v1/remediation/tasks/{t.pk}/corrections", {"field": "mobile", "new_value": "13912345678"}
    )
    assert r.status_code == 400 and "request number" in r.json()["detail"]
    r = c.post(f"/api/v1/remediation/tasks/{t.pk}/corrections",
               {"field": "mobile", "new_value": "13912345678", "request_no": "BQ1"})  # fmt: skip
    assert r.status_code == 201
    cid = r.json()["id"]
    r = c.post(
        f"/api/v1/remediation/corrections/{cid}/review", {"approve": True}, content_type="application/json"
    )
    assert r.status_code == 403  # self-approval
    assert c.get(f"/api/v1/remediation/tasks/{tasks['P2'].pk}").status_code == 404
    assert c.get("/api/v1/remediation/progress").json()["total"]["open"] == 1
