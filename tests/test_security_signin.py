"""Sign-in hardening: login, failed login and logout in the audit log; lock-out after repeated failures
(django-axes) with an alert; TOTP required for roles that can unmask or extract; idle session timeout;
CSP and the usual security headers; departed staff deactivated after a load."""

import base64
import datetime as dt

import pytest
from django.conf import settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from custos.access.models import Role
from custos.audit.models import AuditEntry
from custos.watch.models import SecurityAlert
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"


def code_for(device: TOTPDevice, drift: int = 0) -> str:
    """The code an authenticator app shows now (django_otp.oath.totp)."""
    return str(totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)).zfill(
        device.digits
    )


def test_login_failed_login_and_logout_are_audited(client):
    make_user("li", Role.COMPLIANCE, staff_no="C01")
    client.post("/login/", {"username": "li", "password": "wrong-password-1"}, REMOTE_ADDR="10.0.0.9")
    client.post("/login/", {"username": "li", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9")
    client.post("/logout/", REMOTE_ADDR="10.0.0.9")
    entries = list(
        AuditEntry.objects.filter(action__in=["login", "logout"])
        .order_by("seq")
        .values_list("action", "username", "staff_no", "client", "outcome")
    )
    assert entries == [
        ("login", "li", "", "10.0.0.9", "failed"),
        ("login", "li", "C01", "10.0.0.9", "ok"),
        ("logout", "li", "C01", "10.0.0.9", "ok"),
    ]


def test_lockout_after_repeated_failures(client):
    make_user("li", Role.AGENT, staff_no="A1")
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5 and settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=30)
    for _ in range(limit - 1):
        assert client.post("/login/", {"username": "li", "password": "wrong-password-1"}).status_code == 200
    locked = client.post("/login/", {"username": "li", "password": "wrong-password-1"})
    assert locked.status_code == 429 and "账号已锁定" in locked.content.decode()
    # Even the right password is refused while locked.
    again = client.post("/login/", {"username": "li", "password": PASSWORD})
    assert again.status_code == 429 and "_auth_user_id" not in client.session
    assert SecurityAlert.objects.filter(kind="lockout").count() == 1
    assert AuditEntry.objects.filter(action="lockout", username="li", outcome="blocked").exists()
    # Another account is not affected.
    make_user("wang", Role.AGENT, staff_no="A2")
    assert client.post("/login/", {"username": "wang", "password": PASSWORD}).status_code == 302


@pytest.mark.otp
def test_totp_setup_then_verification_at_every_login(client):
    make_user("cs", Role.CUSTOMER_SERVICE)
    assert client.post("/login/", {"username": "cs", "password": PASSWORD}).status_code == 302
    response = client.get("/parties/")
    assert response.status_code == 302 and response["Location"].startswith("/otp/setup/")
    html = client.get("/otp/setup/").content.decode()
    device = TOTPDevice.objects.get(user__username="cs", confirmed=False)
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert secret in html and "otpauth://totp/" in html
    wrong = "000000" if code_for(device) != "000000" else "111111"
    assert client.post("/otp/setup/", {"token": wrong}).status_code == 200
    assert client.get("/parties/").status_code == 302  # a wrong code does not verify
    response = client.post("/otp/setup/", {"token": code_for(device), "next": "/parties/"})
    assert response.status_code == 302 and response["Location"] == "/parties/"
    assert client.get("/parties/").status_code == 200
    assert AuditEntry.objects.filter(action="otp_setup", outcome="ok").exists()

    client.post("/logout/")
    client.post("/login/", {"username": "cs", "password": PASSWORD})
    response = client.get("/")
    assert response["Location"].startswith("/otp/verify/")
    device.refresh_from_db()
    assert client.post("/otp/verify/", {"token": code_for(device, 1)}).status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEntry.objects.filter(action="otp_verify", outcome="ok").exists()


@pytest.mark.otp
def test_roles_that_cannot_unmask_or_extract_need_no_second_factor(client):
    make_user("a1", Role.AGENT, staff_no="A1")
    client.post("/login/", {"username": "a1", "password": PASSWORD})
    assert client.get("/").status_code == 200


@pytest.mark.otp
def test_api_tokens_are_not_sent_to_the_otp_page(client, small_book):
    from custos.api.models import ApiToken

    user = make_user("api", Role.COMPLIANCE)
    _token, raw = ApiToken.issue(user, "t")
    response = client.get("/api/v1/loads", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200


def test_idle_session_timeout_and_cookie_settings():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST and settings.SESSION_COOKIE_HTTPONLY


def test_security_headers_and_csp(client):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_page_templates_have_no_inline_script():
    """Pages of the shell (base.html and every template extending it) run under the CSP: no inline
    script, no inline event handler, no <style> element."""
    import re
    from pathlib import Path

    import custos

    root = Path(custos.__file__).parent
    pages = [
        t
        for t in root.rglob("templates/**/*.html")
        if t.name == "base.html" or "web/base.html" in t.read_text()
    ]
    assert len(pages) > 10
    for template in pages:
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"inline <script> in {template}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {template}"
        assert "<style" not in text, f"<style> element in {template}"


def test_csrf_is_enforced(small_book):
    from django.test import Client

    make_user("li", Role.COMPLIANCE)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "li", "password": PASSWORD}).status_code == 403


def test_departed_staff_are_deactivated(small_book):
    from django.contrib.auth import get_user_model

    from custos.access.services import deactivate_departed_staff

    gone = make_user("a3", Role.AGENT, staff_no="A3")  # A3 left on 2020-01-01 in the small book
    stays = make_user("a1", Role.AGENT, staff_no="A1")
    assert deactivate_departed_staff() == ["a3"]
    User = get_user_model()
    assert not User.objects.get(pk=gone.pk).is_active and User.objects.get(pk=stays.pk).is_active
    assert AuditEntry.objects.filter(action="user.deactivated", record_ids=f"[{gone.pk}]").exists()
    assert deactivate_departed_staff() == []  # idempotent


def test_run_load_deactivates_departed_staff_after_a_successful_load(small_book, monkeypatch):
    import custos.book.services
    from custos.book import tasks
    from custos.book.models import BookLoad

    load = BookLoad.objects.create(source_name="x", sha256="1" * 64, status="queued")
    make_user("a3", Role.AGENT, staff_no="A3")

    def fake_load_book(path, **kw):
        BookLoad.objects.filter(pk=load.pk).update(status="done")
        return BookLoad.objects.get(pk=load.pk)

    monkeypatch.setattr(custos.book.services, "load_book", fake_load_book)
    assert tasks.run_load.call_local(load.pk, "/nonexistent") == "done"
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.get(username="a3").is_active
