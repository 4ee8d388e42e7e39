"""In Chromium (tests/test_browser.py's fixtures): the lookup's list and search, unmasking and back to
the same search, a mistyped TOTP code corrected at once, the auditor's audit pages (issue 18)."""

import os
import re

import pytest

from custos.access.models import Role
from tests.conftest import make_user
from tests.test_browser import shot

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}


def sign_in(page, live_server, username, then="/"):
    page.goto(f"{live_server.url}/login/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit].primary")
    page.wait_for_load_state("domcontentloaded")


def policies(page) -> list[str]:
    return [
        i.removeprefix("policy-")
        for i in page.locator("tbody.policy").evaluate_all("els => els.map(e => e.id)")
    ]


def test_search_unmask_and_come_back_to_the_same_search(page, live_server, small_book):
    make_user("kefu", Role.CUSTOMER_SERVICE, staff_no="S0001", branch_code="GD")
    sign_in(page, live_server, "kefu", "/parties/")
    page.wait_for_selector("tbody.policy")
    assert policies(page) == ["P1", "P2", "P4"]  # the list of every policy in scope, no search needed
    page.fill("#id_mobile", "138 1234 5678")
    page.click("#person-search button[type=submit]")
    page.wait_for_selector("#lookup-summary:has-text('138****5678')")
    assert page.input_value("#id_mobile") == ""  # the searched value is not shown back
    assert "13812345678" not in page.content()
    shot(page, "h2-01-search-mobile")
    page.locator("tbody#policy-P2 a.unmask-link").first.click()
    page.wait_for_selector("#unmask-party")
    who = page.inner_text("#unmask-party")
    assert "张*伟" in who and "投保人" in who and "P2" in who
    shot(page, "h2-02-unmask-which-customer")
    page.select_option("#id_purpose", "revisit")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#unmask-value")
    page.click("#unmask-back")
    page.wait_for_selector("#lookup-summary")
    assert re.search(r"/parties/\?s=[\w-]+&page=1$", page.url), page.url
    assert "138****5678" in page.inner_text("#lookup-summary") and policies(page) == ["P1", "P2", "P4"]
    shot(page, "h2-03-back-to-search")


def test_partner_staff_see_their_own_policies(page, live_server, small_book):
    make_user("wangdian", Role.PARTNER_STAFF, partner_code="BK1")
    sign_in(page, live_server, "wangdian", "/parties/")
    page.wait_for_selector("tbody.policy")
    assert policies(page) == ["P2", "P4"]
    assert "某银行天河支行" in page.inner_text("tbody#policy-P2 tr.policy-row")
    assert page.locator("a.unmask-link").count() == 0
    page.fill("#id_policy_no", "p4")
    page.click("#policy-search button[type=submit]")
    page.wait_for_selector("#lookup-summary:has-text('p4')")
    assert policies(page) == ["P4"]
    shot(page, "h2-04-partner-list")


@pytest.mark.otp
def test_totp_setup_survives_one_mistyped_code(page, live_server):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.test_security_signin import code_for

    make_user("kefu2", Role.CUSTOMER_SERVICE)
    sign_in(page, live_server, "kefu2")
    page.wait_for_selector("#otp-secret")
    device = TOTPDevice.objects.get(user__username="kefu2")
    wrong = "000000" if code_for(device) != "000000" else "111111"
    page.fill("#id_token", wrong)
    page.click("button[type=submit].primary")
    page.wait_for_selector(".alert.error:has-text('验证码不正确')")
    page.fill("#id_token", code_for(device))  # at once
    page.click("button[type=submit].primary")
    page.wait_for_selector("h1:has-text('数据册加载记录')")
    assert "过多" not in page.content()


def test_auditor_reads_the_audit_log_and_proofs(page, live_server):
    from custos.audit import service

    for i in range(3):
        service.append(username=f"u{i}", action="lookup")
    service.checkpoint()
    make_user("shenji", Role.AUDITOR)
    sign_in(page, live_server, "shenji", "/audit/?action=lookup")
    page.wait_for_selector("h1:has-text('审计日志查询')")
    assert "u1" in page.content()
    page.click("#to-verification")
    page.wait_for_selector("#checkpoints")
    page.fill("#id_seq", "1")
    page.click("#inclusion-form button")
    page.wait_for_selector("#proof-result:has-text('证明有效')")
    assert page.locator("main form[method=post], .content form[method=post]").count() == 0
    shot(page, "h2-05-auditor-proof")
