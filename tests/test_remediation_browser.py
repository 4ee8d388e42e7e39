"""In Chromium (tests/test_browser.py's fixtures) against a live server: what issue 18 saw in the
browser — the close button of a task that cannot be closed yet, 批量指派 offered to roles it refuses,
bare branch and outlet codes on the progress and letters pages."""

import os

import pytest

from custos.access.models import Role
from custos.remediation import services as svc
from custos.remediation.models import Task
from tests.conftest import build_small_book, make_user
from tests.test_remediation import finding, new_run

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


def test_remediation_pages_offer_what_works_and_show_names(page, live_server, custos_home):
    from custos.crypto import keyring

    with keyring.editing() as data:
        keyring.ensure_data_keys(data)
    load = build_small_book()
    make_user("agent1", Role.AGENT, staff_no="A1")
    make_user("cs1", Role.CUSTOMER_SERVICE)
    cs2 = make_user("cs2", Role.CUSTOMER_SERVICE)
    run = new_run(load)
    finding(run, "P1")
    finding(run, "P2")
    svc.sync_tasks(run)
    task = Task.objects.get(policy_no="P1")
    c = svc.propose_correction(task, cs2, "mobile", "13957208146")
    svc.review_correction(c, make_user("comp", Role.COMPLIANCE), approve=True)
    task.refresh_from_db()
    svc.verify_task(task, cs2, contact="13957208146", success=True)

    log_in(page, live_server, "agent1")
    page.goto(f"{live_server.url}/remediation/")
    subnav = page.locator("nav.subnav")
    assert subnav.locator("a", has_text="我的任务").count() == 1
    assert subnav.locator("a", has_text="批量指派").count() == 0

    log_in(page, live_server, "cs1")
    page.goto(f"{live_server.url}/remediation/tasks/{task.pk}/")
    closing = page.locator("#closing")
    assert closing.locator("button", has_text="关闭任务").count() == 0
    assert "现在还不能关闭" in closing.inner_text() and "已导出 0 / 1" in closing.inner_text()
    assert page.locator("nav.subnav a", has_text="批量指派").count() == 1

    page.goto(f"{live_server.url}/remediation/progress/")
    tree = page.locator("table.branch-tree")
    assert tree.locator("tr[data-branch=GD] td").first.inner_text().strip() == "广东分公司（GD）"
    assert tree.locator("tr[data-branch=SZ] td").first.inner_text().strip() == "深圳中心支公司（SZ）"

    page.goto(f"{live_server.url}/remediation/letters/")
    assert page.locator("select[name=partner] option").all_inner_texts() == ["某银行天河支行（BK1）"]
