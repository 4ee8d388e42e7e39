"""Unmasking: permission per role (a settings table), a purpose from the list (free text for 其他), the
value shown for a limited time behind a token that expires server-side, every unmasking audited, and a
per-user hourly limit that blocks and raises an alert for IT security."""

import datetime as dt

import pytest
from django.utils import timezone

from custos.access import unmask
from custos.access.models import Role, UnmaskGrant
from custos.audit.models import AuditEntry
from custos.book.models import Party
from custos.watch.models import SecurityAlert
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


def applicant(policy_no="P1") -> Party:
    return Party.objects.get(policy_no=policy_no, role="applicant")


def url(party, field="mobile") -> str:
    return f"/parties/{party.pk}/unmask/{field}/"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.COMPLIANCE, True),
        (Role.CUSTOMER_SERVICE, True),
        (Role.OPERATIONS, True),
        (Role.AUDITOR, False),
        (Role.AGENT, False),
        (Role.PARTNER_STAFF, False),
        (Role.IT_SECURITY, False),
        (Role.EXECUTIVE, False),
    ],
)
def test_unmask_permission_is_a_settings_table(role, allowed):
    assert unmask.can_unmask(role) is allowed


def test_settings_table_can_grant_a_role(settings):
    settings.CUSTOS_UNMASK_ROLES = {**settings.CUSTOS_UNMASK_ROLES, "auditor": True}
    assert unmask.can_unmask(Role.AUDITOR)


def test_unmask_shows_the_value_for_a_limited_time_and_is_audited(login, small_book, settings):
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ", staff_no="S7")
    party = applicant()
    lookup = client.get("/parties/", {"policy_no": "P1"}).content.decode()
    assert url(party) in lookup  # the lookup offers the unmask link; the value itself stays masked
    assert "13812345678" not in lookup

    form = client.get(url(party)).content.decode()
    assert "回访核实" in form and "其他" in form and "13812345678" not in form

    response = client.post(url(party), {"purpose": "revisit", "purpose_text": "回访 2026-01"})
    html = response.content.decode()
    assert response.status_code == 200 and "13812345678" in html
    assert f'data-seconds="{settings.CUSTOS_UNMASK_SECONDS}"' in html and "unmask.js" in html
    assert "no-store" in response["Cache-Control"]

    entry = AuditEntry.objects.get(action="unmask")
    assert (entry.username, entry.staff_no, entry.model, entry.outcome) == ("cs", "S7", "party", "ok")
    assert entry.record_id_list == [party.pk] and entry.fields == '["mobile"]'
    assert entry.purpose == "revisit: 回访 2026-01" and entry.client == "127.0.0.1"

    grant = UnmaskGrant.objects.get()
    assert grant.audit_seq == entry.seq
    assert client.get(f"/unmask/{grant.token}/").content.decode() == "13812345678"
    # The token expires server-side: afterwards the value is gone (410), whatever the page does.
    UnmaskGrant.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    gone = client.get(f"/unmask/{grant.token}/")
    assert gone.status_code == 410 and "1381" not in gone.content.decode()


def test_token_is_personal(login, client, small_book):
    c = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ")
    c.post(url(applicant()), {"purpose": "complaint"})
    token = UnmaskGrant.objects.get().token
    c.logout()
    login("cs2", Role.CUSTOMER_SERVICE, branch_code="GZ")
    assert client.get(f"/unmask/{token}/").status_code == 410


def test_purpose_is_required_and_other_needs_text(login, small_book):
    client = login("cs", Role.COMPLIANCE)
    party = applicant()
    assert client.post(url(party), {"purpose": ""}).status_code == 400
    response = client.post(url(party), {"purpose": "other", "purpose_text": ""})
    assert response.status_code == 400 and "13812345678" not in response.content.decode()
    assert not AuditEntry.objects.filter(action="unmask").exists()
    assert client.post(url(party), {"purpose": "other", "purpose_text": "法院协查"}).status_code == 200
    assert AuditEntry.objects.get(action="unmask").purpose == "other: 法院协查"


def test_role_without_permission_gets_403_and_nothing(login, small_book):
    client = login("aud", Role.AUDITOR)
    lookup = client.get("/parties/", {"policy_no": "P1"}).content.decode()
    assert "/unmask/" not in lookup
    response = client.post(url(applicant()), {"purpose": "regulator"})
    assert response.status_code == 403 and "1381" not in response.content.decode()
    assert not UnmaskGrant.objects.exists()


def test_out_of_scope_is_404_and_logged_as_denied(login, small_book):
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="BJ")
    party = applicant("P1")
    assert client.get(url(party)).status_code == 404
    response = client.post(url(party), {"purpose": "revisit"})
    assert response.status_code == 404 and "1381" not in response.content.decode()
    assert AuditEntry.objects.get(action="unmask").outcome == "denied"
    assert client.get(url(party, "policy_no")).status_code == 404  # not a field that can be unmasked


def test_rate_limit_blocks_and_raises_one_alert(login, small_book, settings):
    settings.CUSTOS_UNMASK_PER_HOUR = 2
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ", staff_no="S7")
    party = applicant()
    for _ in range(2):
        assert client.post(url(party), {"purpose": "revisit"}).status_code == 200
    for _ in range(3):
        blocked = client.post(url(party), {"purpose": "revisit"})
        assert blocked.status_code == 429 and "13812345678" not in blocked.content.decode()
    assert UnmaskGrant.objects.count() == 2
    assert AuditEntry.objects.filter(action="unmask", outcome="blocked").count() == 3
    alert = SecurityAlert.objects.get()
    assert alert.kind == "unmask_rate" and alert.username == "cs" and "S7" in alert.detail
    # An hour later the user may unmask again.
    UnmaskGrant.objects.update(created_at=timezone.now() - dt.timedelta(hours=1, seconds=1))
    assert client.post(url(party), {"purpose": "revisit"}).status_code == 200


def test_alert_page_is_for_it_security_and_acknowledges(login, client, small_book):
    SecurityAlert.objects.create(kind="unmask_rate", username="cs", detail="cs reached 100 unmaskings")
    c = login("sec", Role.IT_SECURITY)
    html = c.get("/security/alerts/").content.decode()
    assert "cs reached 100 unmaskings" in html and "脱敏查看次数超限" in html
    alert = SecurityAlert.objects.get()
    assert c.post(f"/security/alerts/{alert.pk}/ack/").status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged and alert.acknowledged_by == "sec"
    assert AuditEntry.objects.filter(action="alert_ack", username="sec").exists()
    assert "cs reached" not in c.get("/security/alerts/").content.decode()
    c.logout()
    agent = login("a1", Role.AGENT, staff_no="A1")
    assert agent.get("/security/alerts/").status_code == 403


def test_unmask_fails_closed(login, small_book):
    from tests.test_access_service import _block_read_log_inserts

    client = login("cs", Role.COMPLIANCE)
    party = applicant()
    _block_read_log_inserts()
    response = client.post(url(party), {"purpose": "revisit"})
    assert response.status_code == 503 and "13812345678" not in response.content.decode()
    assert not UnmaskGrant.objects.exists()


def test_unmask_page_names_the_customer_and_returns_to_the_kept_search(login, small_book):
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ")
    back = "/parties/?s=abc123&page=2"
    html = client.get(url(applicant()), {"next": back}).content.decode()
    who = html[html.index('id="unmask-party"') :]
    assert "张*伟" in who and "投保人" in who and "P1" in who and "张三伟" not in html
    assert 'name="next" value="/parties/?s=abc123&amp;page=2"' in html
    assert 'id="unmask-back" href="/parties/?s=abc123&amp;page=2"' in html
    entry = AuditEntry.objects.filter(model="party", action="lookup").latest("seq")
    assert entry.purpose == "unmask page" and entry.record_id_list == [applicant().pk]
    shown = client.post(url(applicant()), {"purpose": "revisit", "next": back}).content.decode()
    assert "13812345678" in shown and 'id="unmask-back" href="/parties/?s=abc123&amp;page=2"' in shown


@pytest.mark.parametrize("evil", ["https://evil.example/x", "//evil.example/x", "javascript:alert(1)"])
def test_unmask_next_stays_on_this_site(login, small_book, evil):
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ")
    html = client.get(url(applicant()), {"next": evil}).content.decode()
    card = html[html.index('<section class="card narrow">') :]  # (the language switch keeps the URL)
    assert "evil.example" not in card and "javascript:" not in card
    assert 'name="next" value="/parties/"' in card and 'id="unmask-back" href="/parties/"' in card
