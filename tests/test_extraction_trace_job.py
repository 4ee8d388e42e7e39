"""Leak tracing as a job (issue 16 item 9): the page stores the upload and enqueues run_trace; a real Huey
consumer reads and compares it while the trace's page follows the progress; the result stays with the
trace, the upload is deleted, the trace is audited. An upload over CUSTOS_LEAK_TRACE_MAX_BYTES is a 413
and nothing is stored."""

import csv
import io
import time

import pytest

from custos.audit.models import AuditEntry
from custos.extraction import leaks
from custos.extraction import services as svc
from custos.extraction.models import Extraction, LeakTrace
from tests.conftest import build_small_book, make_user
from tests.test_extraction import WHY, add_policies, fast_passwords, keys, write_csv  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_otp(settings):
    settings.CUSTOS_OTP_REQUIRED = False


@pytest.fixture
def leaked(db):
    """A generated, downloaded extraction of the small book plus 60 policies, and its file."""
    build_small_book()
    add_policies(60)
    people = {
        "cs": make_user("cs", "customer_service", staff_no="S100"),
        "cs2": make_user("cs2", "customer_service", staff_no="S101"),
        "exec": make_user("boss", "executive", staff_no="E1"),
        "comp": make_user("comp", "compliance", staff_no="C1"),
    }
    ext = svc.request_extraction(
        people["cs"],
        purpose="经营分析",
        scope={},
        fields=["name", "id_no", "mobile"],
        justification=WHY,
        recipient_user=people["cs2"],
        file_format="csv",
    )
    svc.approve(ext, people["exec"], enqueue=False)
    svc.generate(ext.pk)
    _name, data = svc.download(ext, people["cs2"])
    return ext, people, data


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def uploads_left() -> list:
    d = leaks._uploads_dir()
    return [p for p in d.rglob("*") if p.is_file()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_trace_runs_in_the_job_consumer_and_the_page_follows_it(client, leaked, huey_consumer):
    ext, people, data = leaked
    client.force_login(people["comp"])
    r = client.post("/extractions/trace/", {"file": upload("found.csv", data), "note": "案件 2026-17"})
    assert r.status_code == 302
    lt = LeakTrace.objects.get()
    assert lt.source_name == "found.csv" and lt.file_bytes == len(data) and lt.created_by == people["comp"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lt.refresh_from_db()
        if not lt.running:
            break
        page = client.get(f"/extractions/trace/{lt.pk}/status/").content.decode()
        running = 'data-status="queued"' in page or 'data-status="running"' in page
        assert running == ('hx-trigger="every 1s"' in page)  # the page polls while the job runs
        time.sleep(0.2)
    assert lt.status == LeakTrace.Status.DONE, lt.error
    assert lt.progress == 100 and lt.rows == ext.row_count + ext.canary_count + 1
    assert lt.result["candidates"][0]["extraction"] == ext.pk
    assert lt.file_path == "" and uploads_left() == []  # the leaked file is not kept
    page = client.get(f"/extractions/trace/{lt.pk}/").content.decode()
    assert f"#{ext.pk}" in page and "cs2" in page and "certain" in page and "案件 2026-17" in page
    assert "hx-trigger" not in page
    entry = AuditEntry.objects.get(action="extraction.trace")
    assert entry.username == "comp" and f"trace #{lt.pk} found.csv" in entry.purpose


def test_the_status_fragment_shows_the_progress_of_a_running_trace(client, leaked):
    _ext, people, _data = leaked
    lt = LeakTrace.objects.create(
        created_by=people["comp"],
        source_name="x.csv",
        sha256="0" * 64,
        status="running",
        progress=42,
        progress_note="比对已生成的提取",
    )
    client.force_login(people["comp"])
    page = client.get(f"/extractions/trace/{lt.pk}/status/").content.decode()
    assert 'aria-valuenow="42"' in page and "42% 比对已生成的提取" in page and "hx-trigger" in page
    client.force_login(people["cs"])  # not a tracing role
    assert client.get(f"/extractions/trace/{lt.pk}/").status_code == 403
    assert client.get(f"/extractions/trace/{lt.pk}/status/").status_code == 403


def test_trace_reports_progress_while_reading_and_comparing(leaked, tmp_path):
    ext, people, data = leaked
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    path = write_csv(tmp_path / "big.csv", rows * 120)  # about 18,000 rows
    seen: list[tuple[int, str]] = []
    result = leaks.trace(path, progress=lambda p, n: seen.append((p, n)))
    assert result.best.extraction.pk == ext.pk
    percents = [p for p, _n in seen]
    assert percents == sorted(percents) and 0 < percents[0] < 70 and percents[-1] >= 70
    assert {"读取文件", "比对已生成的提取"} <= {n for _p, n in seen}


def test_an_upload_over_the_limit_is_a_413_and_nothing_is_stored(client, leaked, settings):
    _ext, people, data = leaked
    settings.CUSTOS_LEAK_TRACE_MAX_BYTES = len(data) - 1
    client.force_login(people["comp"])
    r = client.post("/extractions/trace/", {"file": upload("found.csv", data)})
    assert r.status_code == 413 and "CUSTOS_LEAK_TRACE_MAX_BYTES" in r.content.decode()
    # a body far over the limit is refused from its Content-Length, before it is read
    r = client.post("/extractions/trace/", {"file": upload("found.csv", data * 60)})
    assert r.status_code == 413 and "CUSTOS_LEAK_TRACE_MAX_BYTES" in r.content.decode()
    assert not LeakTrace.objects.exists() and uploads_left() == []
    assert not AuditEntry.objects.filter(action="extraction.trace").exists()
    settings.CUSTOS_LEAK_TRACE_MAX_BYTES = len(data)
    r = client.post("/extractions/trace/", {"file": upload("found.csv", data)})
    assert r.status_code == 302


@pytest.mark.parametrize(
    "name,content,status,message",
    [("found.pdf", b"x", 400, "只能比对"), ("found.csv", b"", 400, "")],
    ids=["type", "empty"],
)
def test_bad_uploads_are_a_400_and_nothing_is_stored(client, leaked, name, content, status, message):
    _ext, people, _data = leaked
    client.force_login(people["comp"])
    r = client.post("/extractions/trace/", {"file": upload(name, content)})
    assert r.status_code == status and message in r.content.decode()
    assert not LeakTrace.objects.exists() and uploads_left() == []


def test_an_unreadable_file_fails_the_trace_with_a_message_and_is_deleted(leaked):
    _ext, people, _data = leaked
    lt = leaks.accept_upload(upload("found.xlsx", b"not a zip file at all"), people["comp"], "10.0.0.1")
    assert uploads_left()
    assert leaks.run(lt.pk) == LeakTrace.Status.FAILED
    lt.refresh_from_db()
    assert "无法读取文件" in lt.error and lt.result == {} and lt.file_path == "" and uploads_left() == []
    assert not AuditEntry.objects.filter(action="extraction.trace").exists()


def test_only_the_tracing_roles_may_start_a_trace(leaked):
    _ext, people, data = leaked
    with pytest.raises(svc.NotAllowed):
        svc.start_trace(upload("found.csv", data), people["cs"])
    assert not LeakTrace.objects.exists()
    assert Extraction.objects.count() == 1
