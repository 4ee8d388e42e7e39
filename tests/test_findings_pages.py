"""Findings pages render (Django test client) with the right numbers, in scope, masked and logged."""

import re

import pytest

from custos.audit.models import AuditEntry
from custos.checks.models import Finding
from custos.checks.services import run_check
from tests.test_findings_support import (
    FINDINGS,
    findings_table,
    install_fakes,
    make_book,
    make_load,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tmp_path, monkeypatch, django_user_model):
    load = make_load(tmp_path)
    make_book(load)
    install_fakes(monkeypatch, [findings_table(FINDINGS), findings_table(FINDINGS[1:])])
    run_check()
    run_check()  # closes ID03 on P1; open: PH02 P1 (false), ID01 P2 (missing), PH06 P3 (susp.), SC04 P4 (missing)
    return {
        "compliance": make_user(django_user_model, "comp", "compliance"),
        "agent": make_user(django_user_model, "a1", "agent", staff_no="A1"),
    }


def text(resp) -> str:
    return re.sub(r"\s+", " ", resp.content.decode())


def row_cells(html: str, key: str) -> list[str]:
    m = re.search(rf'<tr data-key="{key}">(.*?)</tr>', html)
    assert m, key
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))]


def test_pages_need_a_login(client, setup):
    for url in ("/findings/", "/findings/list/", "/findings/1/"):
        assert client.get(url).status_code == 302


def test_dashboard_rates_by_channel_and_branch_counts_by_check_and_trend(client, setup):
    client.force_login(setup["compliance"])
    resp = client.get("/findings/")
    assert resp.status_code == 200
    html = text(resp)
    # 4 policies; untrue = P1 (false), P2 (missing), P4 (missing) = 3; missing 2; false 1
    assert 'id="kpi-policies">4<' in html and 'id="kpi-untrue">75.00%<' in html
    assert 'id="kpi-missing">50.00%<' in html and 'id="kpi-false">25.00%<' in html
    # bancassurance: P1 false, P2 missing -> 2/2; agency: P3 suspicious only, P4 missing -> 1/2
    assert row_cells(html, "bancassurance")[1:] == ["2", "2", "100.00%", "1", "50.00%", "1", "50.00%"]
    assert row_cells(html, "agency")[1:] == ["2", "1", "50.00%", "1", "50.00%", "0", "0.00%"]
    # branches under head office: GD (P1, P2, P3) and BJ (P4)
    assert row_cells(html, "GD")[1:] == ["3", "2", "66.67%", "1", "33.33%", "1", "33.33%"]
    assert row_cells(html, "BJ")[1:] == ["1", "1", "100.00%", "1", "100.00%", "0", "0.00%"]
    assert re.search(r'<tr data-check="PH06">.*?<td class="num">1</td>', html)
    assert "手机号无效" in html  # explanation of PH02
    assert "custos/vendor/echarts-5.6.0.min.js" in html and "checks/dashboard.js" in html
    assert 'id="findings-chart-data"' in html
    # trend: run 1 had ID03 on P1 open too -> same untrue count (3 of 4); both runs listed
    assert html.count("75.00%") >= 3


def test_dashboard_drills_into_a_branch(client, setup):
    client.force_login(setup["compliance"])
    html = text(client.get("/findings/?branch=GD"))
    assert row_cells(html, "GZ")[1:4] == ["2", "1", "50.00%"]  # P1 untrue, P3 suspicious only
    assert row_cells(html, "SZ")[1:4] == ["1", "1", "100.00%"]


def test_dashboard_drill_down_scopes_tiles_channels_branches_checks_and_trend(client, setup):
    """?branch=GD (广东): GZ and SZ only — not BJ, not every branch of the country — and the tiles, the
    channel table, the counts by check and the trend count GD's subtree alone (P1, P2, P3)."""
    client.force_login(setup["compliance"])
    html = text(client.get("/findings/?branch=GD"))
    assert re.findall(r'<tr data-key="(\w+)">', html.split("分机构")[1].split("</table>")[0]) == ["GZ", "SZ"]
    assert 'data-key="BJ"' not in html
    # P1 false, P2 missing (P3 suspicious only): untrue 2 of 3, missing 1, false 1
    assert 'id="kpi-policies">3<' in html and 'id="kpi-untrue">66.67%<' in html
    assert 'id="kpi-missing">33.33%<' in html and 'id="kpi-false">33.33%<' in html
    assert row_cells(html, "bancassurance")[1:4] == ["2", "2", "100.00%"]
    assert row_cells(html, "agency")[1:4] == ["1", "0", "0.00%"]  # P3 only; P4 (BJ) is out
    assert 'data-check="SC04"' not in html and 'data-check="PH02"' in html  # SC04 is P4's
    assert '<strong id="branch-root" data-code="GD">GD</strong>' in html and 'href="?branch=HO"' in html
    html = text(client.get("/findings/?branch=BJ"))
    assert 'id="kpi-policies">1<' in html and 'data-key="GD"' not in html
    assert row_cells(html, "agency")[1:4] == ["1", "1", "100.00%"]


def test_dashboard_drill_down_stays_within_the_viewers_scope(client, setup):
    client.force_login(setup["agent"])  # A1: P1 (GZ) and P3 (GZ)
    html = text(client.get("/findings/?branch=GD"))
    assert 'id="kpi-policies">2<' in html and 'data-key="SZ"' not in html
    html = text(client.get("/findings/?branch=BJ"))
    assert 'id="kpi-policies">0<' in html and 'data-check="PH02"' not in html


def test_dashboard_in_an_agents_scope(client, setup):
    client.force_login(setup["agent"])  # P1 and P3
    html = text(client.get("/findings/"))
    assert 'id="kpi-policies">2<' in html and 'id="kpi-untrue">50.00%<' in html
    assert 'data-check="SC04"' not in html and 'data-check="PH02"' in html


def test_list_is_scoped_masked_filtered_paginated_and_logged(client, setup):
    client.force_login(setup["agent"])
    resp = client.get("/findings/list/")
    html = text(resp)
    assert resp.status_code == 200
    assert re.findall(r'<tr data-id="(\d+)">', html) == [
        str(pk)
        for pk in Finding.objects.filter(status="open", agent_no="A1")
        .order_by("-id")
        .values_list("pk", flat=True)
    ]
    assert "138****5678" in html and "13812345678" not in html
    # P4 is out of the agent's scope; as a whole word, so a random CSRF token containing "P4" does not count
    assert re.search(r"(?<![A-Za-z0-9])P4(?![A-Za-z0-9])", html) is None
    log = AuditEntry.objects.filter(username="a1", model="finding", action="list").latest("seq")
    assert len(log.record_id_list) == 2
    html = text(client.get("/findings/list/?status=all&check=ID03"))
    assert len(re.findall(r'<tr data-id="', html)) == 1 and "4401**********1235" in html
    assert 'id="count">1<' in html


def test_list_pages(client, setup, monkeypatch):
    from custos.checks import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(setup["compliance"])
    html = text(client.get("/findings/list/?status=all"))
    assert len(re.findall(r'<tr data-id="', html)) == 2 and "page=2" in html
    html = text(client.get("/findings/list/?status=all&page=3"))
    assert len(re.findall(r'<tr data-id="', html)) == 1


def test_finding_page_shows_masked_value_explanation_and_the_partys_other_findings(client, setup):
    client.force_login(setup["agent"])
    f = Finding.objects.get(check_code="PH02")
    resp = client.get(f"/findings/{f.pk}/")
    html = text(resp)
    assert resp.status_code == 200
    assert 'id="value">138****5678<' in html
    assert "手机号无效" in html and "Invalid mobile" not in html  # one language
    assert "保监发〔2013〕82号" in html  # the basis by name
    other = Finding.objects.get(check_code="ID03")  # same party, closed
    assert f'<tr data-id="{other.pk}">' in html and "4401**********1235" in html
    assert AuditEntry.objects.filter(username="a1", action="detail", record_ids=f"[{f.pk}]").exists()


def test_finding_page_in_english(client, setup):
    client.force_login(setup["agent"])
    client.cookies["django_language"] = "en"  # the language switcher's choice
    f = Finding.objects.get(check_code="PH02")
    html = text(client.get(f"/findings/{f.pk}/"))
    assert "<strong>Invalid mobile</strong>" in html and "手机号无效" not in html


def test_out_of_scope_finding_is_404_and_logged_as_denied(client, setup):
    client.force_login(setup["agent"])
    f = Finding.objects.get(check_code="SC04")  # P4, agent A3
    assert client.get(f"/findings/{f.pk}/").status_code == 404
    assert AuditEntry.objects.filter(username="a1", outcome="denied", model="finding").exists()


def test_admin_shows_findings_masked_and_read_only(client, setup, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(admin)
    f = Finding.objects.get(check_code="PH02")
    html = text(client.get("/admin/checks/finding/"))
    assert "138****5678" in html and "13812345678" not in html
    html = text(client.get(f"/admin/checks/finding/{f.pk}/change/"))
    assert "138****5678" in html and "13812345678" not in html
    assert client.get("/admin/checks/checkrun/").status_code == 200


def test_dashboard_in_english(client, setup):
    client.force_login(setup["compliance"])
    client.cookies["django_language"] = "en"  # the language switcher's choice
    html = text(client.get("/findings/"))
    assert "Customer information findings" in html and "Untrue rate" in html and "By channel" in html


def test_branch_rows_link_to_their_subtree_but_not_to_the_level_shown(client, setup):
    client.force_login(setup["compliance"])
    html = text(client.get("/findings/"))
    assert 'href="?branch=GD"' in html and 'href="?branch=HO"' not in html


def test_list_and_finding_page_name_roles_fields_and_channels_in_the_clerks_language(client, setup):
    client.force_login(setup["agent"])
    html = text(client.get("/findings/list/"))
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html)]
    assert "P1 投保人 1" in cells and "手机号码" in cells and "银保 · GZ（GZ）A1" in cells
    shown = " ".join(cells)
    assert "applicant" not in shown and "mobile" not in shown and "bancassurance" not in shown
    f = Finding.objects.get(check_code="PH02")
    html = text(client.get(f"/findings/{f.pk}/"))
    assert "P1 / 投保人 / 1 · 手机号码</h1>" in html
    client.cookies["django_language"] = "en"
    html = text(client.get(f"/findings/{f.pk}/"))
    assert "P1 / applicant / 1 · mobile</h1>" not in html  # English labels, not codes
    assert "P1 / Applicant / 1 · Mobile" in html


def test_code_valued_findings_show_the_codes_label():
    from django.utils import translation

    from custos.book.labels import code_value

    with translation.override("zh-hans"):
        assert code_value("relation", "spouse") == "配偶"
        assert code_value("role", "insured") == "被保险人"
        assert code_value("relation", "no-such-code") == "no-such-code"
        assert code_value("mobile", "138****5678") == "138****5678"
    with translation.override("en"):
        assert code_value("relation", "spouse").lower() == "spouse"


def test_dashboard_tables_export_as_xlsx_with_aggregates_only(client, setup):
    import io

    import openpyxl

    client.force_login(setup["compliance"])
    html = text(client.get("/findings/?branch=GD"))
    assert 'href="/findings/export.xlsx?branch=GD"' in html
    resp = client.get("/findings/export.xlsx?branch=GD")
    assert resp.status_code == 200 and resp["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="findings-dashboard-GD-' in resp["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames == ["总体", "分渠道", "分机构", "各检查项", "历次检查趋势"]
    rows = lambda name: [list(r) for r in wb[name].iter_rows(values_only=True)]  # noqa: E731
    assert rows("总体")[1][:4] == ["GD GD", 3, 2, 66.67]
    assert [r[0] for r in rows("分机构")[1:]] == ["GZ", "SZ"]
    assert rows("分渠道")[2][0] == "银保" and rows("分渠道")[2][1:3] == [2, 2]
    assert "SC04" not in [r[0] for r in rows("各检查项")]
    cells = {str(c) for name in wb.sheetnames for r in rows(name) for c in r}
    assert not {"P1", "P2", "P3", "13812345678", "138****5678"} & cells  # no customer, no policy
    # an agent's export counts their own scope only
    client.force_login(setup["agent"])
    wb = openpyxl.load_workbook(io.BytesIO(client.get("/findings/export.xlsx").content))
    assert list(wb["总体"].iter_rows(values_only=True))[1][1] == 2


def test_dashboard_export_in_english(client, setup):
    import io

    import openpyxl

    client.force_login(setup["compliance"])
    client.cookies["django_language"] = "en"
    wb = openpyxl.load_workbook(io.BytesIO(client.get("/findings/export.xlsx").content))
    assert wb.sheetnames[:3] == ["Overall", "By channel", "By branch"]
    assert list(wb["By channel"].iter_rows(values_only=True))[0][:2] == ("Channel", "Policies")


def test_finding_page_links_the_customer_the_task_and_unmasking(client, setup, django_user_model):
    """Not a dead end: the customer (lookup by policy, through the access service), the remediation task
    holding the finding, and unmasking its field — each only where the viewer may follow it."""
    from custos.book.models import Branch, Party, Staff
    from custos.remediation.models import TaskFinding
    from custos.remediation.services import sync_tasks

    Branch.objects.filter(branch_code="GZ").update(name="广州中心支公司")
    Staff.objects.create(
        staff_no="A1",
        name="王小明",
        branch_code="GZ",
        position="agent",
        first_load_id=Party.objects.values_list("first_load_id", flat=True).first(),
        last_load_id=Party.objects.values_list("last_load_id", flat=True).first(),
    )
    sync_tasks()
    f = Finding.objects.get(check_code="PH02")
    task_id = TaskFinding.objects.get(finding_id=f.pk).task_id
    party = Party.objects.get(policy_no="P1", role="applicant", seq=1)
    cs = make_user(django_user_model, "cs1", "customer_service")
    client.force_login(cs)
    html = text(client.get(f"/findings/{f.pk}/"))
    assert 'id="link-customer" href="/parties/?policy_no=P1"' in html
    assert f'id="link-task" href="/remediation/tasks/{task_id}/"' in html
    assert f'id="link-unmask" href="/parties/{party.pk}/unmask/mobile/"' in html
    assert client.get(f"/remediation/tasks/{task_id}/").status_code == 200  # the links lead somewhere
    assert client.get(f"/parties/{party.pk}/unmask/mobile/").status_code == 200
    lookup = text(client.get("/parties/?policy_no=P1"))
    assert "138****5678" in lookup
    # names, not bare codes: the branch in its hierarchy, the agent by position and masked name
    assert 'id="branch">HO / GD / 广州中心支公司（GZ）<' in html
    assert 'id="agent">业务员 王*明（A1）<' in html
    # an agent works tasks but may not unmask
    client.force_login(setup["agent"])
    html = text(client.get(f"/findings/{f.pk}/"))
    assert 'id="link-task"' in html and 'id="link-unmask"' not in html and 'id="link-customer"' in html
    # an auditor neither works tasks nor unmasks
    client.force_login(make_user(django_user_model, "aud", "auditor"))
    html = text(client.get(f"/findings/{f.pk}/"))
    assert 'id="link-task"' not in html and 'id="link-unmask"' not in html
