"""The regulator's work summary (custos/report) on a small book whose every figure is known: what
counts as of a date, the tables, the XLSX, the PDF read back, the command, the page by role."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from custos.access import capabilities as caps
from custos.access.models import Role
from custos.report.services import sections
from custos.report.services import summary as summary_service
from custos.report.services.summary import period_ends
from tests.conftest import make_user, require

pytestmark = pytest.mark.django_db

HOLDERS = {Role.COMPLIANCE, Role.EXECUTIVE, Role.AUDITOR}
CHANNEL_NAMES = ("银保", "个险", "团险", "网销", "电销", "中介")


def at(day: str, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour)))


@pytest.fixture
def book(db):
    """Ten policies, five findings in scope, two tasks, three approved commission entries.

    In scope (in force, term 0 or > 1 year, issued by the date): B1 B2 B3 B4 (银保), K1 K4 (个险), G1 (团险).
    B1 missing (open) · B2 false (closed 03-20) · B3 missing (closed 03-20) + false (open) · K1 suspicious.
    Out of scope: K2 (1-year term), K3 (lapsed), T1 (issued 2026-06-01), N1 (term unknown)."""
    from custos.book.models import BookLoad, Branch, Policy
    from custos.checks.models import CheckRun, Finding

    load = BookLoad.objects.create(source_name="report", sha256="5" * 64, status="done")
    BookLoad.objects.filter(pk=load.pk).update(created_at=at("2026-03-01"), finished_at=at("2026-03-01", 11))
    row = {"first_load": load, "last_load": load}
    for code, name, parent, path in [
        ("HO", "总公司", "", "/HO/"),
        ("GD", "广东分公司", "HO", "/HO/GD/"),
        ("GZ", "广州中心支公司", "GD", "/HO/GD/GZ/"),
        ("BJ", "北京分公司", "HO", "/HO/BJ/"),
    ]:
        Branch.objects.create(branch_code=code, name=name, parent_code=parent, level="x", path=path, **row)
    for no, channel, branch, status, term, issued in [
        ("B1", "bancassurance", "GZ", "in_force", 10, "2025-01-01"),
        ("B2", "bancassurance", "GZ", "in_force", 0, "2025-01-01"),
        ("B3", "bancassurance", "BJ", "in_force", 5, "2025-01-01"),
        ("B4", "bancassurance", "BJ", "in_force", 5, "2025-01-01"),
        ("K1", "agency", "GZ", "in_force", 20, "2025-01-01"),
        ("K2", "agency", "GZ", "in_force", 1, "2025-01-01"),
        ("K3", "agency", "GZ", "lapsed", 20, "2025-01-01"),
        ("K4", "agency", "BJ", "in_force", 20, "2025-01-01"),
        ("G1", "group", "GZ", "in_force", 3, "2025-01-01"),
        ("T1", "telesales", "GZ", "in_force", 10, "2026-06-01"),
        ("N1", "agency", "GZ", "in_force", None, "2025-01-01"),
    ]:
        Policy.objects.create(
            policy_no=no,
            channel=channel,
            branch_code=branch,
            status=status,
            term_years=term,
            issued_on=dt.date.fromisoformat(issued),
            **row,
        )
    run = CheckRun.objects.create(load=load, status="done")
    CheckRun.objects.filter(pk=run.pk).update(finished_at=at("2026-03-02"))
    closed_at = at("2026-03-20")
    for check, policy, category, closed in [
        ("ID01", "B1", "missing", None),
        ("PH07", "B2", "false", closed_at),
        ("AD01", "B3", "missing", closed_at),
        ("PH05", "B3", "false", None),
        ("PH06", "K1", "suspicious", None),
        ("ID01", "K2", "missing", None),
        ("ID01", "K3", "missing", None),
    ]:
        Finding.objects.create(
            check_code=check,
            policy_no=policy,
            role="applicant",
            seq=1,
            field="x",
            category=category,
            severity="high",
            status="closed" if closed else "open",
            opened_run=run,
            last_seen_run=run,
            opened_at=at("2026-03-02"),
            closed_at=closed,
            channel=Policy.objects.get(policy_no=policy).channel,
        )
    _tasks(run)
    _commission(load)
    return {"load": load, "run": run}


def _tasks(run):
    from custos.remediation.models import Task

    for policy, status, due, closed in [
        ("B1", "open", "2026-03-25", None),
        ("B2", "closed", "2026-03-25", at("2026-03-20")),
    ]:
        Task.objects.create(
            policy_no=policy,
            role="applicant",
            seq=1,
            status=status,
            due_on=dt.date.fromisoformat(due),
            opened_run=run,
            created_at=at("2026-03-02"),
            closed_at=closed,
        )


def _commission(load):
    from custos.commission.models import Entry, SettlementRun, Statement

    def settle(month, approved_at, status, entries):
        run = SettlementRun.objects.create(
            month=month,
            load=load,
            prepared_by_name="test",
            prepared_at=approved_at,
            status=status,
            approved_at=approved_at if status == "approved" else None,
        )
        for kind, payee_kind, payee, policy, fen in entries:
            st, _ = Statement.objects.get_or_create(run=run, payee_kind=payee_kind, payee=payee)
            debit, credit = {"hold": ("payable", "held"), "release": ("held", "payable"),
                             "deduct": ("payable", "held")}[kind]  # fmt: skip
            Entry.objects.create(
                run=run, statement=st, kind=kind, policy_no=policy, debit=debit, credit=credit, amount=fen
            )

    settle("2026-02", at("2026-03-15"), "approved", [
        ("hold", "partner", "BK1", "B1", 10000),
        ("release", "partner", "BK1", "B2", 3333),
        ("deduct", "agent", "A9", "B3", 2550),
    ])  # fmt: skip
    settle("2026-03", at("2026-05-01"), "approved", [("hold", "partner", "BK1", "B1", 99999)])
    settle("2026-04", at("2026-03-16"), "prepared", [("hold", "partner", "BK2", "B1", 77777)])


def build(*args, **kwargs):
    """The summary with Chinese labels, whatever language an earlier test left active."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return summary_service.build(*args, **kwargs)


def rows_by_name(table) -> dict:
    return {r[0]: r for r in table.rows}


# --- what counts ---------------------------------------------------------------------------------------


def test_the_figures_as_of_a_date(book):
    s = build(dt.date(2026, 4, 1))
    f = s.figures
    assert (f["in_scope"], f["checked"]) == (7, 7)
    assert (f["untrue"], f["missing"], f["false"]) == (3, 2, 2)
    assert (f["corrected"], f["outstanding"]) == (1, 2)  # B2 corrected; B3 still has an open false
    assert f["untrue_rate"] == pytest.approx(3 / 7) and f["missing_rate"] == pytest.approx(2 / 7)

    before = build(dt.date(2026, 3, 10)).figures  # the closures of 03-20 have not happened yet
    assert (before["untrue"], before["corrected"], before["outstanding"]) == (3, 0, 3)
    nothing = build(dt.date(2026, 3, 1)).figures  # loaded, not checked yet
    assert (nothing["in_scope"], nothing["checked"], nothing["untrue"]) == (7, 0, 0)
    assert build(dt.date(2026, 2, 1)).figures["in_scope"] == 0  # no book yet
    assert build(dt.date(2026, 7, 1)).figures["in_scope"] == 8  # T1 issued by then


def test_the_channel_table_has_the_2014_shape(book):
    t = build(dt.date(2026, 4, 1)).table("channel")
    assert [r[0] for r in t.rows] == list(CHANNEL_NAMES)
    assert [c.label for c in t.columns][3:9] == [
        "不真实保单",
        "不真实率",
        "信息缺失",
        "缺失率",
        "信息虚假",
        "虚假率",
    ]
    b = rows_by_name(t)["银保"]
    assert b[1:4] == [4, 4, 3] and b[4] == pytest.approx(0.75)
    assert (b[5], b[6], b[7], b[8], b[9], b[10]) == (2, 0.5, 2, 0.5, 1, 2)
    k = rows_by_name(t)["个险"]
    assert k[1:4] == [2, 2, 0] and k[4] == 0.0  # K1's suspicious finding is not untrue
    assert rows_by_name(t)["网销"][4] is None  # no policy: no rate
    assert t.total[:4] == ["合计", 7, 7, 3]


def test_branches_roll_up_to_the_provinces(book):
    t = build(dt.date(2026, 4, 1)).table("branch")
    rows = rows_by_name(t)
    assert set(rows) == {"广东分公司（GD）", "北京分公司（BJ）"}
    assert rows["广东分公司（GD）"][1:4] == [4, 4, 2]
    assert rows["北京分公司（BJ）"][1:4] == [3, 3, 1]


def test_by_check_counts_findings_in_scope_open_and_closed(book):
    t = build(dt.date(2026, 4, 1)).table("check")
    rows = {r[0]: r for r in t.rows}
    assert set(rows) == {"AD01", "ID01", "PH05", "PH06", "PH07"}  # K2, K3 are out of scope
    assert rows["ID01"][3:] == [1, 1, 0, 1]
    assert rows["PH07"][3:] == [1, 1, 1, 0]
    assert rows["PH06"][1] == "疑似不实"
    assert t.total[3] == 5


def test_remediation_and_commission_as_of_the_date(book):
    s = build(dt.date(2026, 4, 1))
    rem = dict((r[0], r[1]) for r in s.table("remediation").rows)
    assert (rem["整改任务"], rem["其中：已关闭"], rem["其中：已逾期未关闭"]) == (2, 1, 1)
    c = s.table("commission")
    by = rows_by_name(c)
    # the run approved on 05-01 and the prepared run do not count; money exact to the fen
    assert by["合作机构"][1:] == [Decimal("100.00"), Decimal("33.33"), Decimal("0.00"), Decimal("66.67"), 1]
    assert by["业务员"][1:] == [Decimal("0.00"), Decimal("0.00"), Decimal("25.50"), Decimal("25.50"), 1]
    assert c.total[1:] == [Decimal("100.00"), Decimal("33.33"), Decimal("25.50"), Decimal("92.17"), 2]
    later = build(dt.date(2026, 5, 2)).table("commission").total
    assert later[1] == Decimal("1099.99")


def test_progress_by_week(book):
    t = build(dt.date(2026, 4, 1), period="week").table("progress")
    rows = {r[0]: r for r in t.rows}
    assert rows["2026-03-08"][1:4] == [3, 0, 3]
    assert rows["2026-03-22"][1:4] == [3, 1, 2]
    assert t.rows[-1][0] == "2026-04-01"
    assert "<svg" in t.chart and "<polyline" in t.chart


def test_period_ends():
    assert period_ends(dt.date(2026, 1, 15), dt.date(2026, 4, 2), "month") == [
        dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 2)
    ]  # fmt: skip
    weeks = period_ends(dt.date(2026, 3, 2), dt.date(2026, 3, 20), "week")
    assert weeks == [dt.date(2026, 3, 8), dt.date(2026, 3, 15), dt.date(2026, 3, 20)]
    assert len(period_ends(dt.date(2000, 1, 1), dt.date(2026, 1, 1), "week")) == 60


# --- pluggable sections ---------------------------------------------------------------------------------


def fake_violations(as_of, policies):
    return {
        "columns": [("违规类型", "text"), ("案件数", "int"), ("罚款（元）", "money")],
        "rows": [["销售误导", 2, Decimal("300.00")]],
        "total": ["合计", 2, Decimal("300.00")],
    }


def test_a_section_of_an_app_not_installed_is_empty_with_a_note(book, monkeypatch):
    monkeypatch.setattr(sections.apps, "is_installed", lambda app: False)
    t = build(dt.date(2026, 4, 1)).table("violations")
    assert t.rows == [] and "custos.discipline" in t.note


def test_a_provider_fills_its_section(book, monkeypatch, settings):
    monkeypatch.setattr(sections.apps, "is_installed", lambda app: True)
    settings.CUSTOS_REPORT_SECTIONS = {"violations": "tests.test_report:fake_violations"}
    t = build(dt.date(2026, 4, 1)).table("violations")
    assert t.rows == [["销售误导", 2, Decimal("300.00")]] and t.columns[2].kind == "money"
    settings.CUSTOS_REPORT_SECTIONS = {"partners": "tests.test_report:no_such_function"}
    assert "no_such_function" in build(dt.date(2026, 4, 1)).table("partners").note


def test_violations_and_fines_as_of_the_date(book):
    from custos.discipline.models import Violation

    def case(kind, staff, decided=None, outcome="", fine=None, joint=None, dismissed=False, paid=None):
        Violation.objects.create(
            kind=kind, staff_no=staff, source="manual", proposed_at=at("2026-03-03"), proposed_by_name="t",
            status="paid" if paid else ("decided" if decided else "proposed"), outcome=outcome,
            decided_at=at(decided) if decided else None, offender_fine=fine, supervisor_fine=joint,
            dismissed=dismissed, closed_at=at(paid) if paid else None,
        )  # fmt: skip

    case("sales", "S1", "2026-03-10", "upheld", Decimal("200.00"), Decimal("100.00"), paid="2026-03-12")
    case("sales", "S2", "2026-04-10", "upheld", Decimal("200.00"), Decimal("100.00"))  # decided later
    case("operations", "S3", "2026-03-20", "not_upheld")
    case("resale", "S4", "2026-03-15", "upheld", Decimal("150.50"), None, dismissed=True)
    t = build(dt.date(2026, 4, 1)).table("violations")
    rows = rows_by_name(t)
    assert rows["销售违规"][1:] == [2, 1, 0, 1, 0, Decimal("300.00"), Decimal("100.00"), Decimal("300.00")]
    assert rows["运营违规"][1:5] == [1, 0, 1, 0]
    assert rows["泄露或倒卖客户信息"][1:7] == [1, 1, 0, 0, 1, Decimal("150.50")]
    assert t.total[1:] == [4, 2, 1, 1, 1, Decimal("450.50"), Decimal("100.00"), Decimal("300.00")]
    assert build(dt.date(2026, 4, 11)).table("violations").total[6] == Decimal("750.50")


def test_partners_recommended_for_termination(book):
    from custos.partnership.models import Campaign, Recommendation

    campaign = Campaign.objects.create(
        name="2026", started_on=dt.date(2026, 1, 1), deadline=dt.date(2026, 3, 1), created_by_name="t",
        created_at=at("2026-01-01"),
    )  # fmt: skip
    for partner, decided in (("BK1", at("2026-03-25")), ("BK2", None)):
        Recommendation.objects.create(
            campaign=campaign, partner_code=partner, deadline=dt.date(2026, 3, 1), policies=3, open_findings=4,
            held_fen=12345, deducted_fen=500, created_at=at("2026-03-05"), created_by_name="t",
            status="decided" if decided else "open", decision="terminate" if decided else "", decided_at=decided,
        )  # fmt: skip
    t = build(dt.date(2026, 4, 1)).table("partners")
    assert [r[7] for r in t.rows] == ["终止合作", "待决定"]
    assert t.rows[0][3:7] == [3, 4, Decimal("123.45"), Decimal("5.00")]
    assert t.total[5] == Decimal("246.90") and "1" in t.total[7]
    assert [r[7] for r in build(dt.date(2026, 3, 20)).table("partners").rows] == ["待决定", "待决定"]


# --- XLSX, PDF, command ---------------------------------------------------------------------------------


def test_xlsx_one_sheet_per_table_numbers_as_numbers(book, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "summary.xlsx"
    call_command("report", "summary", str(out), "--as-of", "2026-04-01", stdout=io.StringIO())
    wb = load_workbook(out)
    s = build(dt.date(2026, 4, 1))
    assert wb.sheetnames == [t.title for t in s.tables]
    ws = wb["分渠道"]
    header = [c.value for c in ws[4]]
    assert header[:5] == ["渠道", "范围内保单", "已检查", "不真实保单", "不真实率"]
    banc = next(r for r in ws.iter_rows(min_row=5) if r[0].value == "银保")
    assert banc[1].value == 4 and isinstance(banc[1].value, int)
    assert banc[4].value == pytest.approx(0.75) and banc[4].number_format == "0.00%"
    money = wb["佣金暂扣与扣回"]
    total = next(r for r in money.iter_rows(min_row=5) if r[0].value == "合计")
    assert [Decimal(str(c.value)) for c in total[1:5]] == [
        Decimal("100.00"), Decimal("33.33"), Decimal("25.50"), Decimal("92.17")
    ]  # fmt: skip
    assert total[4].number_format == "#,##0.00"
    assert wb["违规处理与罚款"]["A1"].value.endswith("违规处理与罚款")


def test_pdf_is_chinese_with_embedded_fonts_and_reads_back(book, tmp_path):
    for tool in ("pdftoppm", "pdftotext", "pdffonts"):
        require(shutil.which(tool) is not None, f"{tool} (poppler-utils) is not installed")
    out = tmp_path / "summary.pdf"
    stdout = io.StringIO()
    call_command("report", "summary", str(out), "--as-of", "2026-04-01", stdout=stdout)
    assert "3 untrue" in stdout.getvalue()
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pages)
    from PIL import Image

    first = Image.open(pages[0]).convert("L")
    assert first.getextrema()[0] < 100  # something is drawn on the page (text, the chart)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "客户信息真实性清查工作总结" in text
    for name in CHANNEL_NAMES:
        assert name in text, name
    assert "75.00%" in text and "42.86%" in text  # 银保's untrue rate, the book's
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and any("CJK" in r[0] for r in rows)
    assert all(r[-5] == "yes" for r in rows), fonts  # emb column: every font embedded


def test_command_refuses_bad_input_with_one_line(book, tmp_path):
    with pytest.raises(CommandError, match="must end in .xlsx or .pdf"):
        call_command("report", "summary", str(tmp_path / "x.csv"), stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "report", "summary", str(tmp_path / "x.pdf"), "--as-of", "2026-13-01", stdout=io.StringIO()
        )
    assert not list(tmp_path.iterdir())


# --- the page -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role.values))
def test_the_page_by_role(client, book, role):
    client.force_login(make_user(f"r-{role}", role))
    urls = [
        reverse("report-summary") + "?as_of=2026-04-01",
        reverse("report-download", args=["xlsx"]) + "?as_of=2026-04-01",
        reverse("report-download", args=["pdf"]) + "?as_of=2026-04-01",
    ]
    if role not in HOLDERS:
        # a role outside the company (custos.blacklist's members) may be confined before the view
        refused = (403,) if role not in getattr(caps, "OUTSIDE_ROLES", ()) else (403, 404)
        for url in urls:
            assert client.get(url).status_code in refused, url
        return
    page = client.get(urls[0])
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="table-channel"' in body and "<svg" in body and "42.86%" in body
    if role == Role.COMPLIANCE:  # the downloads (the rest as the page)
        xlsx = client.get(urls[1])
        assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
        pdf = client.get(urls[2])
        assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"


def test_the_page_in_english_scoped_and_a_bad_date(client, book, settings):
    client.force_login(make_user("r-bj", Role.COMPLIANCE, branch_code="BJ"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get(reverse("report-summary") + "?as_of=2026-04-01").content.decode()
    assert "Bancassurance" in body and "By channel" in body and "Work summary" in body
    assert 'id="kpi-in_scope"' in body and ">3<" in body  # Beijing's three policies only
    bad = client.get(reverse("report-summary") + "?as_of=2026-02-30")
    assert bad.status_code == 400 and 'id="error-as_of"' in bad.content.decode()
    assert client.get(reverse("report-download", args=["csv"])).status_code == 404


def test_demo_report_writes_both_files(book, tmp_path):
    from openpyxl import load_workbook

    from custos.report.demo import demo_report

    said: list[str] = []
    pdf, xlsx = demo_report(said.append, tmp_path / "out", as_of=dt.date(2026, 4, 1))
    assert pdf.read_bytes()[:5] == b"%PDF-" and load_workbook(xlsx).sheetnames[1] == "分渠道"
    assert len(said) == 1 and "3 untrue (42.86%)" in said[0] and str(pdf) in said[0]
