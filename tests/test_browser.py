"""In real Chromium (Debian's /usr/bin/chromium via Playwright) against a live server and a real Huey
consumer: log in, upload a small valid book and see its counts; upload a broken one and see its errors
with file, row and column; look a policy up and see it masked under the watermark."""

import os
import re

import pytest

from custos.access.models import Role
from tests.conftest import loader_available, make_user, require
from tests.test_web_jobs import break_policies, zipped_book

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
]
SHOTS = os.environ.get("CUSTOS_SCREENSHOTS")  # a folder: keep screenshots for a human to look at


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-42")
    shot(page, "01-login")
    page.click("button[type=submit].primary")
    page.wait_for_selector("h1:has-text('数据册加载记录')")


def test_upload_books_and_see_counts_and_errors(page, live_server, tmp_path, custos_home, huey_consumer):
    require(loader_available(), "the loader (custos.book.services) or custos.synth is not there yet")
    make_user("hegui", Role.COMPLIANCE, staff_no="C0001")
    good = tmp_path / "good-book.zip"
    good.write_bytes(zipped_book(tmp_path, policies=50, seed=11))
    broken = tmp_path / "broken-book.zip"
    broken.write_bytes(zipped_book(tmp_path, policies=50, seed=12, breaker=break_policies))

    log_in(page, live_server, "hegui")
    shot(page, "02-home-empty")

    page.click("text=上传数据册")
    page.set_input_files("#id_file", str(good))
    shot(page, "03-upload")
    page.click("button:has-text('上传并加载')")
    page.wait_for_url(re.compile(r"/loads/\d+/$"))
    page.wait_for_selector("#load-status[data-status=done]", timeout=60_000)
    policies_row = page.locator("tr[data-table=policies]")
    assert policies_row.locator("td").nth(1).inner_text() == "50"
    shot(page, "04-load-done")

    page.goto(f"{live_server.url}/loads/new/")
    page.set_input_files("#id_file", str(broken))
    page.click("button:has-text('上传并加载')")
    page.wait_for_selector("#load-status[data-status=failed]", timeout=60_000)
    first = page.locator("table.errors tbody tr").first
    cells = [c.inner_text() for c in first.locator("td").all()]
    assert cells[0].startswith("policies") and cells[1].isdigit() and cells[2] in ("channel", "branch_code")
    shot(page, "05-load-failed")

    page.click("text=返回列表")
    assert page.locator("table.grid tbody tr").count() == 2
    shot(page, "06-home")

    # A policy of the loaded book, looked up: masked, under the viewer's watermark.
    from custos.book.models import Party

    policy_no = Party.objects.filter(role="applicant").values_list("policy_no", flat=True).first()
    page.goto(f"{live_server.url}/parties/?policy_no={policy_no}")
    page.wait_for_selector("table.parties")
    assert page.locator(".watermark span").first.inner_text().startswith("C0001 · hegui")
    assert (
        "*" in page.locator("table.parties tbody tr:not(.policy-row)").first.locator("td").nth(8).inner_text()
    )
    shot(page, "07-lookup")

    page.click(".langswitch button[value=en]")
    page.wait_for_selector("h1:has-text('Customer lookup')")
    shot(page, "08-lookup-en")
