"""The leak-case pages (upload, result, PDF, who may use them) and a canary naming the recipient of
an extraction outright."""

import csv
import io
import subprocess

import pytest

from custos.access.models import Role
from custos.audit.models import ChangeEvent
from custos.extraction import services as svc
from custos.watch.tracing.models import LeakCase
from custos.watch.tracing.service import trace_file
from tests.conftest import build_small_book, make_user
from tests.test_extraction import WHY, add_policies, fast_passwords, keys  # noqa: F401
from tests.test_watch_trace import build_world, masked_rows, person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_otp(settings):
    settings.CUSTOS_OTP_REQUIRED = False


@pytest.fixture
def world(db, custos_home):
    return build_world(custos_home)


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def leak_bytes(ids, encoding="utf-8") -> bytes:
    rows = [["客户姓名", "联系电话", "身份证号码"], *masked_rows(ids)]
    return "\n".join(",".join(r) for r in rows).encode(encoding)


def test_upload_result_pdf_and_violation_link(client, world):
    client.force_login(make_user("it", Role.IT_SECURITY))
    assert client.get("/security/watch/trace/").status_code == 200
    r = client.post(
        "/security/watch/trace/",
        {"file": upload("名单.csv", leak_bytes(range(1, 16), "gb18030")), "note": "网上发现"},
    )
    assert r.status_code == 302
    case = LeakCase.objects.get()
    assert r["Location"] == f"/security/watch/trace/{case.pk}/" and case.source_name == "名单.csv"
    html = client.get(r["Location"]).content.decode()
    assert 'data-id="A1"' in html and "员工A1" not in html  # named by position, masked name and number
    assert "A1" in html and "/security/watch/staff/" not in html
    for i in range(1, 16):  # matched records masked, never in clear
        p = person(i)
        assert p["id_no"] not in html and p["mobile"] not in html and p["name"] not in html
    assert "open-violation" not in html  # IT security does not propose violations
    assert ChangeEvent.objects.filter(action="watch.traced", object_id=str(case.pk)).count() == 1
    assert not list(
        (world and __import__("custos.paths", fromlist=["home"]).home() / "watch" / "trace-uploads").glob("*")
    )
    pdf = client.get(f"/security/watch/trace/{case.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    data = b"".join(pdf.streaming_content)
    assert data.startswith(b"%PDF")
    try:
        text = subprocess.run(
            ["pdftotext", "-", "-"], input=data, capture_output=True, check=True
        ).stdout.decode()
    except FileNotFoundError:
        text = ""
    if text:
        assert "泄露案件溯源报告" in text and "A1" in text and person(1)["id_no"] not in text
    client.force_login(make_user("co", Role.COMPLIANCE))
    html = client.get(f"/security/watch/trace/{case.pk}/").content.decode()
    assert f"staff_no=A1&amp;source=trace%3A{case.pk}" in html
    # the button opens discipline's form pre-filled from the case: the top suspect, kind resale
    form = client.get(f"/discipline/new/?staff_no=A1&source=trace:{case.pk}")
    page = form.content.decode()
    assert form.status_code == 200 and f"泄露案件 #{case.pk}" in page
    assert 'value="A1"' in page and 'value="resale" selected' in page
    assert person(1)["id_no"] not in page and person(1)["name"] not in page
    assert client.get("/discipline/new/?source=trace:987654").status_code == 404
    # customer service may propose violations but not trace leaks: the case is not theirs to cite
    client.force_login(make_user("cs", Role.CUSTOMER_SERVICE, branch_code="GZ"))
    assert client.get(f"/discipline/new/?source=trace:{case.pk}").status_code == 404


def test_bad_upload_names_the_file_and_keeps_nothing(client, world):
    client.force_login(make_user("co", Role.COMPLIANCE))
    r = client.post(
        "/security/watch/trace/", {"file": upload("x.csv", "地址,备注\n广州市天河区体育西路1号,x\n".encode())}
    )
    assert r.status_code == 400 and "x.csv" in r.content.decode() and "第 1 行" in r.content.decode()
    r = client.post("/security/watch/trace/", {"file": upload("x.pdf", b"%PDF")})
    assert r.status_code == 400 and LeakCase.objects.count() == 0


def test_only_compliance_and_it_security(client, world, tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(leak_bytes(range(1, 5)))
    case = trace_file(path)
    for role in (Role.AGENT, Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.EXECUTIVE):
        client.force_login(make_user(f"u-{role}", role, staff_no="A1"))
        assert client.get("/security/watch/trace/").status_code == 403
        assert (
            client.post(
                "/security/watch/trace/", {"file": upload("l.csv", leak_bytes(range(1, 3)))}
            ).status_code
            == 403
        )
        assert client.get(f"/security/watch/trace/{case.pk}/").status_code == 403
        assert client.get(f"/security/watch/trace/{case.pk}/pdf/").status_code == 403
    assert LeakCase.objects.count() == 1
    client.force_login(make_user("it", Role.IT_SECURITY))
    assert client.get("/security/watch/trace/999999/").status_code == 404


def test_english(client, world, tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(leak_bytes(range(1, 5)))
    case = trace_file(path)
    client.force_login(make_user("it", Role.IT_SECURITY))
    client.cookies["django_language"] = "en"
    html = client.get(f"/security/watch/trace/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Possible sources of the leak" in html


def test_a_canary_names_the_recipient_of_the_extraction(db, custos_home, tmp_path):
    build_small_book()
    add_policies(40)
    cs = make_user("cs", "customer_service", staff_no="S100")
    cs2 = make_user("cs2", "customer_service", staff_no="S101")
    boss = make_user("boss", "executive", staff_no="E1")
    ext = svc.request_extraction(
        cs, purpose="经营分析", scope={}, fields=["name", "id_no", "mobile"], justification=WHY,
        recipient_user=cs2, file_format="csv",
    )  # fmt: skip
    svc.approve(ext, boss, enqueue=False)
    svc.generate(ext.pk)
    _name, data = svc.download(ext, cs2)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    path = tmp_path / "leak.csv"
    with open(path, "w", encoding="gb18030", newline="") as f:
        w = csv.writer(f)
        w.writerow(header[3:])  # names, IDs, mobiles; no policy numbers
        for r in body:  # every row (the canaries among them)
            w.writerow(r[3:])
    case = trace_file(path)
    top = case.result["suspects"][0]
    assert top["kind"] == "extraction" and top["id"] == str(ext.pk) and top["score"] == 1.0
    assert top["evidence"]["canaries"] and top["evidence"]["recipient_staff_no"] == "S101"
