"""Everyone sees their own work (issue 18): sellers get their customers' tasks and see what holds
their commission; the team list and the progress page count the same tasks; the sub-navigation
offers only what the role may open; the auditor reads progress; letters carry the customer's name
and the company's details; branches and outlets show with their names."""

import io
import re
import shutil
import subprocess

import pytest

from custos.audit.models import AuditEntry
from custos.remediation import services as svc
from custos.remediation.models import Task
from tests.conftest import make_user
from tests.test_remediation import finding, keys, new_run, people  # noqa: F401 (fixtures)
from tests.test_remediation_web import login, tasks  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_a_sellers_account_takes_over_its_customers_tasks(small_book):
    """The demo (and a company) creates agents' and outlets' accounts after the first check run: the
    tasks a channel manager got by the orphan rule go to the seller once the account exists."""
    mgr = make_user("mgr", "channel_manager", channel="agency")
    make_user("bmgr", "channel_manager", channel="bancassurance")
    run = new_run(small_book)
    for p in ("P1", "P2"):
        finding(run, p)
    svc.sync_tasks(run)
    assert set(Task.objects.values_list("assign_rule", flat=True)) == {"channel_manager"}
    agent = make_user("agent1", "agent", staff_no="A1")
    outlet = make_user("bank1", "partner_staff", partner_code="BK1")
    got = {t.policy_no: (t.assignee, t.assign_rule) for t in Task.objects.all()}
    assert got == {"P1": (agent, "agent"), "P2": (outlet, "partner")}
    html = login(agent).get("/remediation/").text
    assert re.search(r"我的任务 <small>1</small>", html)
    # a manual assignment stays where a manager put it
    Task.objects.filter(policy_no="P1").update(assign_rule="manual", assignee=mgr)
    make_user("agent1b", "agent", staff_no="A1")
    assert Task.objects.get(policy_no="P1").assignee == mgr


def test_sellers_see_what_holds_their_commission(tasks, people):  # noqa: F811
    run = new_run(tasks["P1"].opened_run.load)
    finding(run, "P3", code="ID02", field="id_no")  # A2's agency policy
    finding(run, "P4", code="EM01", field="email")  # A1's policy sold through BK1: the outlet's
    svc.sync_tasks(run)
    agent = login(people["agent"]).get("/remediation/").text
    section = re.search(r'<section class="card" id="commission-holds">.*?</section>', agent, re.S).group(0)
    assert "影响手续费的问题" in section and ">P1<" in section and ">P4<" not in section
    outlet = login(people["partner"]).get("/remediation/").text
    section = re.search(r'id="commission-holds">.*?</section>', outlet, re.S).group(0)
    assert ">P2<" in section and ">P4<" in section and "EM01" in section and ">P1<" not in section
    assert "commission-holds" not in login(people["cs"]).get("/remediation/").text  # sells nothing


def test_the_team_list_counts_what_the_progress_page_counts(tasks, people):  # noqa: F811
    executive = make_user("exec", "executive")
    for user in (executive, people["agent"], people["manager"], people["cs"]):
        c = login(user)
        team = int(re.search(r"团队任务 <small>(\d+)</small>", c.get("/remediation/team/").text).group(1))
        progress = int(re.search(r"<p>未关闭 (\d+) ·", c.get("/remediation/progress/").text).group(1))
        assert team == progress, user.username
    assert team == 2


def test_the_subnavigation_offers_only_what_the_role_may_open(tasks, people):  # noqa: F811
    auditor = make_user("aud", "auditor")
    executive = make_user("exec", "executive")
    for user, assign in ((people["agent"], False), (people["partner"], False), (executive, False),
                         (people["manager"], True), (people["cs"], True)):  # fmt: skip
        c = login(user)
        nav = re.search(r'<nav class="subnav">.*?</nav>', c.get("/remediation/progress/").text, re.S).group(0)
        assert ('href="/remediation/assign/"' in nav) == assign, user.username
        assert c.get("/remediation/assign/").status_code == (200 if assign else 403)
    c = login(auditor)  # read-only: progress, nothing else of remediation
    r = c.get("/remediation/progress/")
    nav = re.search(r'<nav class="subnav">.*?</nav>', r.text, re.S).group(0)
    assert r.status_code == 200 and re.findall(r'href="([^"]+)"', nav) == ["/remediation/progress/"]
    assert c.get("/remediation/").status_code == 403 and c.get("/remediation/team/").status_code == 403
    assert c.get("/remediation/progress.xlsx").status_code == 200


def test_progress_shows_branch_names_in_the_hierarchy_and_exports_xlsx(tasks, people):  # noqa: F811
    from openpyxl import load_workbook

    c = login(people["compliance"])
    html = c.get("/remediation/progress/").text
    rows = re.findall(r'<tr data-branch="(\w+)" data-depth="(\d)">', html)
    assert rows == [("HO", "0"), ("GD", "1"), ("GZ", "2"), ("SZ", "2")]  # the tree, in path order
    assert "广州中心支公司（GZ）" in html and "总公司（HO）" in html
    gd = re.search(r'data-branch="GD".*?</tr>', html, re.S).group(0)
    assert "<td>2</td>" in gd  # GZ's and SZ's tasks counted under 广东分公司
    r = c.get("/remediation/progress.xlsx")
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(r.content))["按机构"]
    values = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert values[0][:2] == ["机构代码", "机构名称"] and ["GZ", "广州中心支公司", "GD", 2, 1, 0, 0] in values
    assert not any("张" in str(v) for row in values for v in row)  # aggregates only


def test_letters_carry_the_name_and_the_company_and_the_outlets_show_by_name(
    tasks,  # noqa: F811
    people,  # noqa: F811
    tmp_path,
    settings,
):
    settings.CUSTOS_COMPANY = {"name": "测试人寿保险股份有限公司", "hotline": "400-123-4567",
                               "return_address": "上海市浦东新区测试路9号", "postcode": "200120"}  # fmt: skip
    cs = login(people["compliance"])
    page = cs.get("/remediation/letters/").text
    assert '<option value="BK1">某银行天河支行（BK1）</option>' in page
    before = AuditEntry.objects.count()
    r = cs.post("/remediation/letters/", {"kind": "customer", "tasks": str(tasks["P1"].pk)})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    reads = list(AuditEntry.objects.filter(action="letter").order_by("seq"))
    assert (
        any(e.field_list == ["name"] and "addressee" in e.purpose for e in reads) and reads[-1].seq > before
    )
    if shutil.which("pdftotext"):
        pdf = tmp_path / "l.pdf"
        pdf.write_bytes(r.content)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "尊敬的 张三伟" in text and "张*伟" not in text
        for part in ("测试人寿保险股份有限公司", "400-123-4567", "上海市浦东新区测试路9号", "200120"):
            assert part in text, part
        assert "13812345678" not in text  # the rest stays masked
