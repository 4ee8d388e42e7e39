"""Audit pages and jobs: my access history, audit search (itself audited), key status with background
verification, the periodic checkpoint, and `custos security check`."""

import os
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custos.access.models import Role
from custos.audit import service
from custos.audit.models import AuditEntry, Checkpoint, VerifyRun
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"


@pytest.fixture
def login(client):
    def _login(username, role=None, **scope):
        make_user(username, role, **scope)
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


def test_my_access_shows_only_my_entries(login, small_book):
    service.append(username="someone-else", action="lookup", model="party", record_ids=[99])
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ")
    client.get("/parties/", {"policy_no": "P1"})
    html = client.get("/me/access/").content.decode()
    assert "客户查询" in html and "登录" in html and "someone-else" not in html  # actions by label


def test_audit_search_filters_and_is_itself_audited(login, small_book):
    service.append(username="a1", staff_no="A1", action="lookup", model="party", record_ids=[7, 17, 70])
    service.append(username="a2", staff_no="A2", action="unmask", model="party", record_ids=[17])
    service.append(username="a2", staff_no="A2", action="lookup", model="party", record_ids=[170])
    client = login("comp", Role.COMPLIANCE, staff_no="C1")
    html = client.get("/audit/").content.decode()
    assert "请至少填写一个条件" in html

    def seqs(**params):
        html = client.get("/audit/", params).content.decode()
        import re

        return sorted(int(s) for s in re.findall(r'<td class="num">(\d+)</td><td class="nowrap">', html))

    assert seqs(record="17") == [0, 1]  # 17 is in [7,17,70] and [17], not in [170]
    assert seqs(staff_no="A2") == [1, 2]
    assert seqs(username="a2", action="lookup") == [2]
    search = AuditEntry.objects.filter(action="audit_search").order_by("seq")
    assert search.count() == 3
    assert search.last().purpose == "search action=lookup username=a2" and search.last().staff_no == "C1"
    html = client.get("/audit/", {"username": "a1"}).content.decode()
    assert '<td class="mono ids">7, 17, 70</td>' in html  # the ids as a list a reader reads, not JSON


def test_audit_search_time_range(login, small_book):
    service.append(username="a1", action="lookup")
    client = login("sec", Role.IT_SECURITY)
    assert "a1" in client.get("/audit/", {"since": "2000-01-01 00:00"}).content.decode()
    html = client.get("/audit/", {"until": "2000-01-01 00:00"}).content.decode()
    assert "没有符合条件的记录" in html, re.sub(r"\s+", " ", html)[-3000:]


@pytest.mark.parametrize("role", [Role.AGENT, Role.CUSTOMER_SERVICE, Role.EXECUTIVE])
def test_audit_search_is_for_compliance_it_security_and_auditors_only(login, role):
    client = login("x", role)
    response = client.get("/audit/", {"username": "a1"})
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="audit_search").exists()


def test_key_status_and_background_verify(login, monkeypatch):
    from huey.contrib.djhuey import HUEY

    service.append(username="a1", action="lookup")
    client = login("sec", Role.IT_SECURITY)
    html = client.get("/security/keys/").content.decode()
    assert "密钥环" in html and "尚未校验" in html
    monkeypatch.setattr(HUEY, "immediate", True)
    assert client.post("/security/keys/verify/").status_code == 302
    run = VerifyRun.objects.get()
    assert run.status == "passed" and run.entries >= 2 and run.requested_by == "sec"
    html = client.get("/security/keys/").content.decode()
    assert "status-passed" in html and "审计签名密钥" in html
    assert Checkpoint.objects.exists()


def test_key_status_shows_state_not_server_paths_or_commands(login):
    from custos import paths

    html = login("sec", Role.IT_SECURITY).get("/security/keys/").content.decode()
    assert 'id="keyring-state"' in html and "密钥环存在，文件权限正确。" in html
    assert str(paths.keyring_path()) not in html and str(paths.home()) not in html
    assert "custos keys" not in html and "replace-index-key" not in html and "--yes" not in html


def test_key_status_is_for_it_security_only(login):
    assert login("c", Role.COMPLIANCE).get("/security/keys/").status_code == 403


def test_verify_run_fails_and_alerts_when_an_entry_was_altered():
    from custos.audit.tasks import run_verify
    from custos.watch.models import SecurityAlert

    for i in range(3):
        service.append(username=f"u{i}", action="lookup")
    service.checkpoint()
    AuditEntry.objects.filter(seq=1).update(purpose="rewritten")
    run = run_verify(VerifyRun.objects.create().pk)
    assert run.status == "failed" and "entry 1 was altered" in run.problems[0]
    assert SecurityAlert.objects.filter(kind="audit_verify").exists()


def test_periodic_checkpoint_task():
    from custos.audit.tasks import periodic_checkpoint

    assert periodic_checkpoint.call_local() == 0  # empty log: nothing to sign
    service.append(username="u", action="lookup")
    assert periodic_checkpoint.call_local() == 1
    assert Checkpoint.objects.get().tree_size == 1
    assert periodic_checkpoint.call_local() == 1  # nothing new: no second checkpoint
    assert Checkpoint.objects.count() == 1


@pytest.mark.otp
def test_security_check_reports_problems_one_line_each(settings, tmp_path, monkeypatch, capsys):
    from custos.access.management.commands.init import prepare_keyring
    from custos.crypto import keyring

    path = tmp_path / "keyring.json"
    monkeypatch.setenv("CUSTOS_HOME", str(tmp_path))  # pytest's tmp_path is 700, as custos init leaves it
    monkeypatch.setenv("CUSTOS_KEYRING", str(path))
    prepare_keyring(path)
    settings.SECRET_KEY = keyring.read(path)["django_secret_key"]
    monkeypatch.delenv("CUSTOS_SECRET_KEY", raising=False)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.DEBUG = False
    call_command("security", "check")
    assert "all good" in capsys.readouterr().out

    service.append(username="u", action="lookup")
    service.checkpoint()  # creates the audit signing key in the keyring
    settings.DEBUG = True
    with keyring.editing(path) as data:
        data["data_keys"] = [{"id": "old1", "key": "AAAA", "created_at": "2020-01-01T00:00:00+00:00"}]
    os.chmod(path, 0o644)
    AuditEntry.objects.update(username="tampered")
    with pytest.raises(CommandError, match="finding"):
        call_command("security", "check")
    out = capsys.readouterr().out.splitlines()
    assert any("DEBUG is on" in line for line in out)
    assert any("mode 644" in line for line in out)
    assert any("data key old1" in line and "days old" in line for line in out)
    assert any("audit log: entry 0 was altered" in line for line in out)
    assert all(line.startswith("FAIL ") for line in out)
