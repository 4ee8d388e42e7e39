"""In Chromium: the side menu, breadcrumbs, the shared form layout and the 404 page as users meet
them (the fixtures of tests/test_browser.py)."""

import os

import pytest
from django.test import override_settings

from custos.access.models import Role
from tests.conftest import build_small_book, make_user
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


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit].primary")
    page.wait_for_selector("aside.sider")


def test_side_menu_breadcrumbs_and_form_errors(page, live_server, custos_home):
    build_small_book()
    make_user("kefu", Role.CUSTOMER_SERVICE, staff_no="C0002")
    make_user("yewu", Role.AGENT, staff_no="A1")
    make_user("hegui", Role.COMPLIANCE, staff_no="C0001")

    sign_in(page, live_server, "kefu")
    menu = page.locator("aside.sider nav.mainnav")
    assert menu.is_visible()
    assert menu.locator("a", has_text="批量指派").count() == 1
    shot(page, "shell-01-menu-cs")
    menu.locator("a", has_text="整改进度").click()
    page.wait_for_url("**/remediation/progress/")
    assert page.locator("aside.sider a.active").inner_text().strip() == "整改进度"
    crumbs = [t.strip() for t in page.locator("nav.breadcrumbs > a").all_inner_texts()]
    assert crumbs == ["首页", "整改任务", "整改进度"]
    # the side menu stays beside the page: the content starts to its right
    sider = page.locator("aside.sider").bounding_box()
    main = page.locator("main.page").bounding_box()
    assert main["x"] >= sider["x"] + sider["width"] - 1
    shot(page, "shell-02-progress-cs")

    page.click(".langswitch button[value=en]")
    page.wait_for_selector("nav.breadcrumbs >> text=Home")
    assert "批量指派" not in page.locator("aside.sider").inner_text()
    shot(page, "shell-03-progress-en")
    page.click(".langswitch button[value=zh-hans]")
    page.wait_for_selector("nav.breadcrumbs >> text=首页")
    page.click("text=退出")

    sign_in(page, live_server, "yewu")
    texts = page.locator("aside.sider nav.mainnav").inner_text()
    assert "我的任务" in texts and "批量指派" not in texts and "团队任务" not in texts
    shot(page, "shell-04-menu-agent")
    page.click("text=退出")

    sign_in(page, live_server, "hegui")
    page.goto(f"{live_server.url}/loads/new/")
    page.locator("main form").evaluate("f => f.noValidate = true")
    page.click("button:has-text('上传并加载')")
    error = page.locator("#row-file .field-error")
    assert error.count() == 1 and error.is_visible()
    # beside its field: inside the field's row, under the file input
    field = page.locator("#id_file").bounding_box()
    assert error.bounding_box()["y"] >= field["y"] + field["height"] - 1
    assert page.locator(".alert.error").count() == 0  # no second, unplaced copy
    shot(page, "shell-05-upload-error")


@override_settings(DEBUG=False)
def test_404_page_in_the_browser(page, live_server, custos_home):
    make_user("hegui", Role.COMPLIANCE, staff_no="C0001")
    sign_in(page, live_server, "hegui")
    resp = page.goto(f"{live_server.url}/no/such/page/")
    assert resp.status == 404
    assert page.locator("h1").inner_text() == "页面不存在"
    assert page.locator("aside.sider").is_visible()
    shot(page, "shell-06-404")
    page.click(".langswitch button[value=en]")
    page.wait_for_selector("h1:has-text('Page not found')")
    shot(page, "shell-07-404-en")
