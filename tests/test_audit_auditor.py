"""The auditor (regulator) reads the audit log, its verification results and proofs, and the
integrity page — read-only: no action on any page it opens, every write refused (issue 18: it got 403
on the very pages it exists to read)."""

import json
import re

import pytest
from django.urls import reverse

from custos.access.capabilities import CAPABILITIES, roles_with
from custos.access.models import Role
from custos.audit import service
from custos.audit.models import AuditEntry, Checkpoint, VerifyRun
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"
# what the shell itself posts on every page: the language switch and signing out
SHELL_FORMS = ("/i18n/setlang/", "/logout/")


@pytest.fixture
def auditor(client):
    make_user("au", Role.AUDITOR, staff_no="AU1")
    assert client.login(username="au", password=PASSWORD)
    return client


def _action_forms(html: str) -> list[str]:
    forms = re.findall(r"<form\b[^>]*>", html)
    return [
        f
        for f in forms
        if 'method="post"' in f.lower() and not any(f'action="{a}"' in f for a in SHELL_FORMS)
    ]


def test_auditor_searches_the_audit_log_read_only(auditor):
    service.append(username="a1", staff_no="A1", action="lookup", model="party", record_ids=[7])
    response = auditor.get("/audit/", {"username": "a1"})
    html = response.content.decode()
    assert response.status_code == 200 and "a1" in html and 'id="to-verification"' in html
    assert _action_forms(html) == []
    assert AuditEntry.objects.filter(action="audit_search", username="au").exists()


def test_auditor_reads_verification_runs_checkpoints_and_proofs(auditor):
    for i in range(5):
        service.append(username=f"u{i}", action="lookup")
    first = service.checkpoint()
    service.append(username="u5", action="lookup")
    second = service.checkpoint()
    VerifyRun.objects.create(status="passed", requested_by="sec", entries=6, checkpoints=2)
    html = auditor.get("/audit/verification/").content.decode()
    assert "status-passed" in html and f'<td class="num">{second.tree_size}</td>' in html
    assert _action_forms(html) == []

    html = auditor.get("/audit/verification/", {"seq": 3}).content.decode()
    assert "证明有效" in html
    proof = json.loads(
        re.search(r'<pre[^>]*id="proof-json">(.*?)</pre>', html, re.S).group(1).replace("&quot;", '"')
    )
    assert proof["entry"]["seq"] == 3 and service.check_proof(proof)
    html = auditor.get(
        "/audit/verification/", {"first": first.tree_size, "second": second.tree_size}
    ).content.decode()
    assert "证明有效" in html and "前缀" in html
    entries = AuditEntry.objects.filter(action="audit_proof", username="au").order_by("seq")
    assert [e.purpose for e in entries] == ["inclusion", "consistency"]


def test_proofs_the_page_cannot_give_sign_nothing(auditor):
    service.append(username="u0", action="lookup")
    html = auditor.get("/audit/verification/", {"seq": 0}).content.decode()
    assert 'id="no-proof"' in html and not Checkpoint.objects.exists()  # no checkpoint signed by a read
    assert 'id="no-proof"' in auditor.get("/audit/verification/", {"first": 1, "second": 2}).content.decode()
    assert auditor.get("/audit/verification/", {"seq": "-1"}).status_code == 400


def test_auditor_reads_the_integrity_page_without_actions(auditor):
    response = auditor.get("/security/integrity/")
    html = response.content.decode()
    assert response.status_code == 200 and _action_forms(html) == []
    assert "custos integrity verify" not in html  # a shell command means nothing to an auditor


def test_auditor_holds_no_capability_that_writes():
    """Every page and API operation of the auditor's capabilities only reads."""
    from custos.api.api import api

    schema = api.get_openapi_schema()
    methods = {op["operationId"]: method for ops in schema["paths"].values() for method, op in ops.items()}
    for cap in CAPABILITIES.values():
        if Role.AUDITOR not in roles_with(cap.name):
            continue
        assert all(p.method == "GET" for p in cap.pages), cap.name
        assert all(methods.get(op, "get") == "get" for op in cap.api), cap.name


def test_every_write_is_refused_to_the_auditor(auditor, small_book):
    posts = sorted(
        {
            p.name
            for cap in CAPABILITIES.values()
            for p in cap.pages
            if p.method == "POST" and not p.record and not p.kwargs
        }
    )
    assert posts  # key rotation, verification, samples…
    before = AuditEntry.objects.filter(outcome="ok").exclude(action__in=["login"]).count()
    for name in posts:
        assert auditor.post(reverse(name)).status_code in (403, 404, 405), name
    assert AuditEntry.objects.filter(outcome="ok").exclude(action__in=["login"]).count() == before
