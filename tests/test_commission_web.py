"""The commission pages: finance settles and approves (four eyes), agents and outlets read their own
statements and what is held, nobody else's."""

import pytest
from django.urls import reverse

from custos.commission.models import SettlementRun
from tests.conftest import make_user
from tests.test_commission_ledger import book  # noqa: F401 - the fixture
from tests.test_findings_support import open_finding

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(settings):
    settings.CUSTOS_OTP_REQUIRED = False
    return {
        "fin1": make_user("fin1", "finance"),
        "fin2": make_user("fin2", "finance"),
        "a1": make_user("a1", "agent", staff_no="A1"),
        "a2": make_user("a2", "agent", staff_no="A2"),
        "bk1": make_user("bk1", "partner_staff", partner_code="BK1"),
        "cs": make_user("cs", "customer_service"),
        "audit": make_user("audit", "auditor"),
    }


def test_finance_settles_a_second_finance_user_approves_and_exports(client, book, people):  # noqa: F811
    open_finding(book, "P1", code="ID03", field="id_no")
    client.force_login(people["fin1"])
    resp = client.post(reverse("commission-settle"), {"month": "2026-01"}, follow=True)
    run = SettlementRun.objects.get()
    assert resp.status_code == 200 and "approve-form" not in resp.content.decode()  # not the preparer
    assert "100.10" in resp.content.decode()
    client.force_login(people["fin2"])
    page = client.get(reverse("commission-run", args=[run.pk])).content.decode()
    assert 'id="approve-form"' in page
    client.post(reverse("commission-approve", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "approved" and run.approved_by == people["fin2"]
    csv_resp = client.get(reverse("commission-export", args=["2026-01", "csv"]))
    body = b"".join(csv_resp.streaming_content).decode()
    assert "agent,A1,2026-01,100.10,100.10,0.00,0.00,0.00,0.00,0.00" in body
    client.force_login(people["audit"])
    assert client.get(reverse("commission-run", args=[run.pk])).status_code == 200
    assert client.post(reverse("commission-approve", args=[run.pk])).status_code == 403


def test_a_bad_month_is_refused_with_its_reason(client, book, people):  # noqa: F811
    client.force_login(people["fin1"])
    resp = client.post(reverse("commission-settle"), {"month": "2026-1"}, follow=True)
    assert "YYYY-MM" in resp.content.decode() and not SettlementRun.objects.exists()


def test_agents_and_outlets_see_their_own_statements_only(client, book, people):  # noqa: F811
    from custos.commission import services

    f = open_finding(book, "P1", code="ID03", field="id_no")
    run = services.settle("2026-01", by="test")
    client.force_login(people["a1"])
    page = client.get(reverse("commission-mine")).content.decode()
    assert "100.10" in page and f"#{f.pk}" in page  # held, and the finding that releases it
    own = run.statements.get(payee="A1")
    other = run.statements.get(payee="A2")
    assert client.get(reverse("commission-statement", args=[own.pk])).status_code == 200
    assert client.get(reverse("commission-statement", args=[other.pk])).status_code == 403
    assert client.get(reverse("commission-runs")).status_code == 403
    client.force_login(people["bk1"])
    page = client.get(reverse("commission-mine")).content.decode()
    assert "70.05" in page and "100.10" not in page
    client.force_login(people["cs"])
    assert client.get(reverse("commission-mine")).status_code == 403
