"""In Chromium against a live server: compliance proposes from the facts and notifies, the agent finds
the case under 我的违规处理 and appeals with a PDF, compliance reads the appeal and decides; the fine
and the supervisor's joint fine show on the case and in the month's fines list."""

import os

import pytest
from django.utils import timezone

from custos.access.models import Role
from custos.book.models import Staff
from custos.checks.models import CheckRun
from tests.conftest import build_small_book, make_user
from tests.test_discipline import PDF
from tests.test_findings_support import open_finding

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}


def log_in(page, live_server, username):
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()
    assert "/login/" not in page.url


def test_propose_notify_appeal_decide_in_the_browser(page, live_server, custos_home, tmp_path):
    from custos.crypto import keyring

    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
    load = build_small_book()
    Staff.objects.create(
        staff_no="M1",
        name="主管甲",
        branch_code="GZ",
        position="sales_manager",
        first_load=load,
        last_load=load,
    )
    Staff.objects.filter(staff_no="A1").update(supervisor_no="M1")
    open_finding(CheckRun.objects.create(load=load, status="done"), "P4", code="PH05", field="mobile")
    make_user("comp", Role.COMPLIANCE)
    make_user("agent1", Role.AGENT, staff_no="A1")
    pdf = tmp_path / "leave.pdf"
    pdf.write_bytes(PDF)

    log_in(page, live_server, "comp")
    page.click("nav.mainnav a:has-text('违规登记')")
    page.click("#propose-form button")
    page.wait_for_load_state()
    page.click("#cases a")
    page.wait_for_load_state()
    assert "PH05" in page.locator("#evidence").inner_text()
    page.click("#notify-form button")
    page.wait_for_load_state()
    assert page.locator("#case-status").inner_text() == "已告知"
    case_url = page.url

    log_in(page, live_server, "agent1")
    page.click("nav.mainnav a:has-text('我的违规处理')")
    page.click("#my-cases a")
    page.fill("#id_appeal-note", "那天我在休假")
    page.set_input_files("#id_appeal-file", str(pdf))
    page.click("#appeal-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#case-status").inner_text() == "申诉中"

    log_in(page, live_server, "comp")
    page.goto(case_url)
    assert "那天我在休假" in page.locator("#appeal").inner_text()
    page.select_option("#id_decide-outcome", "upheld")
    page.fill("#id_decide-reason", "休假记录不符")
    page.click("#decide-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#offender-fine").inner_text() == "200.00"
    assert page.locator("#supervisor-fine").inner_text().startswith("100.00")
    page.goto(f"{live_server.url}/discipline/fines/?month={timezone.localdate():%Y-%m}")
    assert page.locator("#fines-total").inner_text() == "300.00"
