"""The discipline pages: compliance's register and case page (evidence, notice, decision), the staff
member's own cases and appeal (with a file), the fines list and its download for payroll, blacklist
nominations — each allowed to its roles and refused (403, or 404 for a case) to everyone else."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from custos.access.models import Role
from custos.discipline import services
from custos.discipline.models import Nomination, Violation
from tests.conftest import make_user
from tests.test_discipline import PDF, _decided, _extraction, _trace, world  # noqa: F401 (fixture)
from tests.test_findings_support import open_finding

pytestmark = pytest.mark.django_db


# the association's member insurers (custos.blacklist) may use the look-up and nothing else
ROLES = [r for r in Role.values if r != "member"]


@pytest.fixture
def people(world):  # noqa: F811
    users = {role: make_user(f"u-{role}", role, staff_no=f"S-{role}") for role in ROLES}
    return {**world, "roles": users}


def _case(world) -> Violation:  # noqa: F811
    open_finding(world["run"], "P4", code="PH05", field="mobile")
    services.propose_from_facts()
    return Violation.objects.get(staff_no="A1")


PAGES = {
    "discipline-register": {Role.COMPLIANCE},
    "discipline-new": {Role.COMPLIANCE, Role.CUSTOMER_SERVICE, Role.CHANNEL_MANAGER},
    "discipline-fines": {Role.COMPLIANCE, Role.FINANCE},
    "discipline-nominations": {Role.COMPLIANCE},
}


def test_pages_open_for_their_roles_and_are_403_for_the_others(client, people):
    v = _case(people)
    for role, user in people["roles"].items():
        client.force_login(user)
        for name, roles in PAGES.items():
            status = client.get(reverse(name)).status_code
            assert status == (200 if role in roles else 403), (role, name, status)
        export = client.get(reverse("discipline-fines-export", args=["2026-01", "csv"])).status_code
        assert export == (200 if role in PAGES["discipline-fines"] else 403), role
        case = client.get(reverse("discipline-case", args=[v.pk])).status_code
        assert case == (200 if role == Role.COMPLIANCE else 404), (role, case)
        assert client.get(reverse("discipline-mine")).status_code == 200
        for name in ("discipline-propose-facts", "discipline-fines-paid"):
            status = client.post(reverse(name), {"month": "2026-01"}).status_code
            allowed = role in (
                PAGES["discipline-register"] if name.endswith("facts") else PAGES["discipline-fines"]
            )
            assert status == (302 if allowed else 403), (role, name, status)
    client.force_login(people["a1"])  # the staff member: their own case, not another's
    assert client.get(reverse("discipline-case", args=[v.pk])).status_code == 200
    client.force_login(people["a2"])
    assert client.get(reverse("discipline-case", args=[v.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("discipline-register")).status_code == 302


def test_compliance_proposes_notifies_the_agent_appeals_with_a_file_compliance_decides(client, people):
    co, a1 = people["co"], people["a1"]
    client.force_login(co)
    open_finding(people["run"], "P4", code="PH05", field="mobile")
    resp = client.post(reverse("discipline-propose-facts"), follow=True)
    assert "已根据现有事实提出 1 项违规处理建议" in resp.content.decode()
    v = Violation.objects.get()
    page = client.get(reverse("discipline-case", args=[v.pk])).content.decode()
    assert 'id="notify-form"' in page and "PH05" in page and 'id="appeal-form"' not in page
    client.post(reverse("discipline-case", args=[v.pk]), {"action": "notify", "notify-note": "已电话告知"})
    v.refresh_from_db()
    assert v.status == "notified"
    # the agent sees it among their own cases and appeals; a file too large is refused with the reason
    client.force_login(a1)
    assert f"#{v.pk}" in client.get(reverse("discipline-mine")).content.decode()
    page = client.get(reverse("discipline-case", args=[v.pk])).content.decode()
    assert 'id="appeal-form"' in page and 'id="decide-form"' not in page
    assert client.post(reverse("discipline-case", args=[v.pk]), {"action": "decide", "decide-outcome": "not_upheld", "decide-reason": "x"}).status_code == 403  # fmt: skip
    resp = client.post(
        reverse("discipline-case", args=[v.pk]),
        {
            "action": "appeal",
            "appeal-note": "那天我在休假",
            "appeal-file": SimpleUploadedFile("x.txt", b"plain text"),
        },
        follow=True,
    )
    assert "申诉材料只接受 PDF、JPEG、PNG" in resp.content.decode()
    v.refresh_from_db()
    assert v.status == "notified" and v.appeal_file is None
    resp = client.post(reverse("discipline-case", args=[v.pk]), {"action": "appeal", "appeal-note": ""})
    assert resp.status_code == 200 and 'id="error-appeal-note"' in resp.content.decode()  # beside its field
    client.post(
        reverse("discipline-case", args=[v.pk]),
        {
            "action": "appeal",
            "appeal-note": "那天我在休假",
            "appeal-file": SimpleUploadedFile("leave.pdf", PDF),
        },
    )
    v.refresh_from_db()
    assert v.status == "appealed"
    got = client.get(reverse("discipline-appeal-file", args=[v.pk]))
    assert b"".join(got.streaming_content) == PDF
    # compliance reads the appeal and decides; the decision names who and why
    client.force_login(co)
    page = client.get(reverse("discipline-case", args=[v.pk])).content.decode()
    assert "那天我在休假" in page and "leave.pdf" in page
    resp = client.post(reverse("discipline-case", args=[v.pk]), {"action": "decide", "decide-outcome": "upheld", "decide-reason": ""})  # fmt: skip
    assert 'id="error-decide-reason"' in resp.content.decode()
    client.post(reverse("discipline-case", args=[v.pk]), {"action": "decide", "decide-outcome": "upheld", "decide-reason": "休假记录不符"})  # fmt: skip
    v.refresh_from_db()
    assert (v.status, v.outcome, v.decided_by, v.offender_fine, v.supervisor_fine) == (
        "decided", "upheld", co, Decimal("200.00"), Decimal("100.00"),
    )  # fmt: skip
    page = client.get(reverse("discipline-case", args=[v.pk])).content.decode()
    assert 'id="offender-fine">200.00' in page and "休假记录不符" in page and "co" in page


def test_the_fines_page_and_its_download_for_payroll(client, people):
    from openpyxl import load_workbook

    v = _decided(people, "A1", today=dt.date(2026, 3, 15))
    client.force_login(people["fin"])
    page = client.get(reverse("discipline-fines"), {"month": "2026-03"}).content.decode()
    assert f"#{v.pk}" in page and 'id="fines-total">300.00' in page and 'id="paid-form"' in page
    bad = client.get(reverse("discipline-fines"), {"month": "2026-3"}).content.decode()
    assert "月份须为 YYYY-MM" in bad
    resp = client.get(reverse("discipline-fines-export", args=["2026-03", "xlsx"]))
    ws = load_workbook(BytesIO(b"".join(resp.streaming_content)))["fines"]
    assert [ws.cell(row=r, column=5).value for r in (2, 3)] == ["offender", "supervisor"]
    assert [ws.cell(row=r, column=9).value for r in (2, 3)] == [200, 100]
    assert client.get(reverse("discipline-fines-export", args=["2026-03", "pdf"])).status_code == 404
    client.post(reverse("discipline-fines-paid"), {"month": "2026-03"})
    v.refresh_from_db()
    assert v.status == "paid"


def test_dismissal_from_the_page_and_the_nomination_approved(client, people):
    a2 = people["a2"]
    _trace(_extraction(people["co"], "downloaded", recipient=a2), ["id_no"])
    services.propose_from_facts()
    v = Violation.objects.get(staff_no="A2")
    services.notify(v, people["co"])
    staff = client.__class__()
    staff.force_login(a2)
    assert staff.get(reverse("discipline-mine")).status_code == 200
    client.force_login(people["co"])
    assert 'name="decide-dismiss"' in client.get(reverse("discipline-case", args=[v.pk])).content.decode()
    resp = client.post(
        reverse("discipline-case", args=[v.pk]),
        {
            "action": "decide",
            "decide-outcome": "upheld",
            "decide-reason": "泄露客户信息",
            "decide-dismiss": "on",
        },
        follow=True,
    )
    assert 'id="dismissed"' in resp.content.decode()
    assert staff.get(reverse("discipline-mine")).status_code == 302  # signed out the same moment
    n = Nomination.objects.get()
    assert n.dismissed_on == timezone.localdate()
    assert "批准报送" in client.get(reverse("discipline-nominations")).content.decode()
    client.force_login(people["fin"])
    assert client.post(reverse("discipline-nomination-approve", args=[n.pk])).status_code == 403
    client.force_login(people["co"])
    client.post(reverse("discipline-nomination-approve", args=[n.pk]))
    assert list(services.approved_nominations()) == [n]


def test_a_manual_proposal_and_its_errors_beside_the_fields(client, people):
    beijing = make_user("cm-bj", Role.CHANNEL_MANAGER, branch_code="BJ")
    client.force_login(beijing)  # A1 works in Guangzhou: outside a Beijing manager's scope
    resp = client.post(
        reverse("discipline-new"), {"staff_no": "A1", "kind": "sales", "summary": "代客户签名"}
    )
    assert "不在您的管理范围内" in resp.content.decode() and not Violation.objects.exists()
    client.force_login(people["roles"][Role.CHANNEL_MANAGER])
    resp = client.post(
        reverse("discipline-new"), {"staff_no": "NOBODY", "kind": "sales", "summary": "代客户签名"}
    )
    assert 'id="error-staff_no"' in resp.content.decode() and not Violation.objects.exists()
    resp = client.post(
        reverse("discipline-new"), {"staff_no": "A1", "kind": "sales", "summary": "代客户签名"}
    )
    assert resp.status_code == 302
    v = Violation.objects.get()
    assert (v.staff_no, v.source, v.summary, v.proposed_by) == (
        "A1",
        "manual",
        "代客户签名",
        people["roles"][Role.CHANNEL_MANAGER],
    )


def test_the_pages_in_english(client, people, settings):
    v = _case(people)
    client.force_login(people["co"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("discipline-case", args=[v.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Violation case" in page and "Sales misconduct" in page and "销售违规" not in page
    page = client.get(reverse("discipline-register"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Propose from the facts" in page
