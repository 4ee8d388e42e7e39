"""In real Chromium: the findings pages as a user meets them — the list's 说明 column inside its box at
a laptop's width, the dashboard's drill-down, the finding page's links; the extraction pages' counts."""

import os

import pytest

from custos.access.models import Role
from custos.checks.models import Finding
from tests.conftest import make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]

LONG_ZH = "证件号码校验位错误：按 GB 11643 计算的第18位与登记的不一致，可能是录入错误或虚构的号码，须回访核实"


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}


@pytest.fixture
def findings(tmp_path, monkeypatch):
    from custos.checks.services import run_check
    from tests import test_findings_support as sup

    checks = [
        sup.FakeCheck(c.code, c.category, c.severity, c.roles, c.fields, LONG_ZH, "A long explanation " * 6)
        for c in sup.CHECKS
    ]
    load = sup.make_load(tmp_path)
    sup.make_book(load)
    sup.install_fakes(monkeypatch, [sup.findings_table(sup.FINDINGS)])
    from custos.checks import services

    monkeypatch.setattr(services, "catalogue", lambda: list(checks))
    monkeypatch.setattr(services, "catalogue_by_code", lambda: {c.code: c for c in checks})
    run_check()
    return load


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-42")
    page.click("button[type=submit].primary")
    page.wait_for_url(lambda url: "/login/" not in url)


def test_findings_list_explanation_column_fits_its_box_at_1366(page, live_server, findings):
    make_user("hegui", Role.COMPLIANCE, staff_no="C0001")
    log_in(page, live_server, "hegui")
    page.goto(f"{live_server.url}/findings/list/?status=all")
    page.wait_for_selector("table.findings")
    assert page.locator("table.findings tbody tr").count() == Finding.objects.count()
    width = page.evaluate("document.documentElement.clientWidth")
    assert width <= 1366
    header = page.locator("table.findings thead th").last
    assert header.inner_text().strip() == "说明"
    box = page.locator("table.findings").locator("xpath=..").bounding_box()  # the table's own box
    limit = min(width, box["x"] + box["width"])
    cells = page.locator("table.findings tbody td:last-child")
    for i in range(cells.count()):
        b = cells.nth(i).bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= limit + 0.5, (i, b, limit)
        assert LONG_ZH in cells.nth(i).inner_text()
    # nothing of the page scrolls sideways: no hidden columns
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(
        "[...document.querySelectorAll('.scroll-x')].every(e => e.scrollWidth <= e.clientWidth)"
    )


def test_extraction_form_errors_beside_their_fields_and_the_approver_sees_the_count(page, live_server):
    from tests.conftest import build_small_book
    from tests.test_extraction import add_policies

    build_small_book()
    add_policies(10)
    make_user("kefu", Role.CUSTOMER_SERVICE, staff_no="S100")
    make_user("kefu2", Role.CUSTOMER_SERVICE, staff_no="S101")
    make_user("zongjingli", Role.EXECUTIVE, staff_no="E1")
    log_in(page, live_server, "kefu")
    page.goto(f"{live_server.url}/extractions/new/")
    assert page.locator("#id_date_from").get_attribute("type") == "date"
    assert page.locator("#id_date_to").get_attribute("type") == "date"
    page.fill("#id_purpose", "季度回访")
    page.fill("#id_branch", "GZ")
    page.check("input[name=fields][value=name]")
    page.fill("#id_date_from", "2024-05-01")
    page.fill("#id_date_to", "2024-04-01")
    page.fill("#id_recipient_username", "kefu2")
    page.click("button[type=submit].primary")
    page.wait_for_selector("#error-date_to")
    error = page.locator("#error-date_to")
    assert "早于起始日期" in error.inner_text()
    assert page.get_by_text("截止日期（2024-04-01）早于起始日期").count() == 1  # once
    assert error.evaluate("e => getComputedStyle(e).color") != page.locator("#id_purpose").evaluate(
        "e => getComputedStyle(e).color"
    )  # styled as an error, not body text
    field = page.locator("#id_date_to").bounding_box()
    box = error.bounding_box()
    assert abs(box["x"] - field["x"]) < 2 and 0 <= box["y"] - (field["y"] + field["height"]) < 20  # beside it

    page.fill("#id_date_from", "1900-01-01")
    page.fill("#id_date_to", "2099-12-31")
    page.click("button[type=submit].primary")
    page.wait_for_url(lambda url: "/extractions/new/" not in url)
    ext_url = page.url
    page.context.clear_cookies()
    log_in(page, live_server, "zongjingli")
    page.goto(ext_url)
    shown = int(page.locator("#pending-rows").inner_text())
    from custos.extraction.models import Extraction

    assert shown > 0 and shown == Extraction.objects.get().recipient_rows
    assert page.locator("#row-count").count() == 0 and "诱饵" not in page.content()
    page.click("#reject-form button[type=submit]")  # no reason: the browser refuses (required)
    assert Extraction.objects.get().state == "requested"
