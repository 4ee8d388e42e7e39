"""Web pages: login/logout, language, home, upload permissions, load pages, the masked party lookup."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from custos.access.models import Role
from custos.audit.models import AuditEntry
from custos.book.models import BookLoad
from tests.conftest import make_user
from tests.test_access_service import _block_read_log_inserts

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"


@pytest.fixture
def login(client):
    def _login(username, role=None, **scope):
        make_user(username, role, **scope)
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


@pytest.fixture
def enqueued(monkeypatch):
    """Record run_load calls instead of queueing them."""
    calls = []

    import custos.book.tasks

    monkeypatch.setattr(custos.book.tasks, "run_load", lambda *a: calls.append(a))
    return calls


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_is_chinese_by_default(client):
    html = client.get("/login/").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "登录" in html and "用户名" in html


def test_login_and_logout(client):
    make_user("li", Role.COMPLIANCE)
    response = client.post("/login/", {"username": "li", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "数据册加载记录" in client.get("/").content.decode()
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client):
    make_user("li", Role.COMPLIANCE)
    response = client.post("/login/", {"username": "li", "password": "wrong-password-1"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_language_switch_to_english_and_back(login):
    client = login("li", Role.COMPLIANCE)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Book loads" in html and "Upload a book" in html
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "上传数据册" in client.get("/").content.decode()


def test_user_without_profile_is_told_so(login):
    html = login("nobody").get("/").content.decode()
    assert "尚未分配角色" in html


def test_home_lists_loads_with_counts_and_status(login):
    BookLoad.objects.create(
        source_name="book-2024.zip",
        sha256="a" * 64,
        status="done",
        row_counts={"policies": 1234, "parties": 4321},
    )
    html = login("li", Role.AUDITOR).get("/").content.decode()
    assert "book-2024.zip" in html and "1234" in html and "4321" in html and "已完成" in html
    assert reverse("upload") not in html  # auditors do not upload


@pytest.mark.parametrize("role", [Role.AGENT, Role.CUSTOMER_SERVICE, Role.AUDITOR, Role.EXECUTIVE, None])
def test_upload_forbidden_to_other_roles(login, role, enqueued):
    client = login("u", role, staff_no="A1")
    assert client.get("/loads/new/").status_code == 403
    response = client.post("/loads/new/", {"file": SimpleUploadedFile("b.csv", b"x"), "mode": "full"})
    assert response.status_code == 403
    assert not BookLoad.objects.exists() and not enqueued


@pytest.mark.parametrize("role", [Role.COMPLIANCE, Role.IT_SECURITY])
def test_upload_stores_file_creates_queued_load_and_enqueues(
    login, role, custos_home, enqueued, django_capture_on_commit_callbacks
):
    client = login("u", role)
    assert client.get("/loads/new/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/loads/new/",
            {"file": SimpleUploadedFile("../../年度 book?.zip", b"PK\x03\x04 data"), "mode": "full"},
        )
    load = BookLoad.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/loads/{load.pk}/"
    assert (
        load.status == "queued" and load.source_name == "年度_book_.zip" and load.created_by.username == "u"
    )
    (load_id, path, mode, mapping) = enqueued[0]
    assert load_id == load.pk and mode == "full" and mapping is None
    stored = custos_home / "uploads"
    assert path.startswith(str(stored)) and open(path, "rb").read() == b"PK\x03\x04 data"


def test_upload_rejects_other_file_types(login, custos_home, enqueued):
    client = login("u", Role.COMPLIANCE)
    response = client.post("/loads/new/", {"file": SimpleUploadedFile("evil.exe", b"MZ"), "mode": "full"})
    assert response.status_code == 400
    assert "不支持的文件类型" in response.content.decode()
    assert not BookLoad.objects.exists()


def test_upload_rejects_files_over_the_cap(login, custos_home, enqueued, settings):
    settings.CUSTOS_MAX_UPLOAD_BYTES = 10
    client = login("u", Role.COMPLIANCE)
    response = client.post("/loads/new/", {"file": SimpleUploadedFile("big.csv", b"x" * 11), "mode": "full"})
    assert response.status_code == 413
    assert not BookLoad.objects.exists() and not list(custos_home.glob("uploads/*/*"))


def _failed_load():
    return BookLoad.objects.create(
        source_name="broken.zip",
        sha256="b" * 64,
        status="failed",
        error_count=2,
        errors=[
            {"file": "parties.csv", "row": 7, "column": "id_no", "message": "证件号码校验位错误"},
            {"file": "policies.csv", "row": 3, "column": "channel", "message": "未知渠道代码 xx"},
        ],
    )


def test_failed_load_shows_errors_to_compliance(login):
    load = _failed_load()
    html = login("c", Role.COMPLIANCE).get(f"/loads/{load.pk}/").content.decode()
    assert "parties.csv" in html and ">7<" in html and "id_no" in html and "证件号码校验位错误" in html
    assert "hx-trigger" not in html  # finished: no more polling
    assert 'class="watermark"' in html  # messages may quote values of the book


def test_failed_load_hides_error_details_from_other_roles(login):
    load = _failed_load()
    html = login("a", Role.AGENT, staff_no="A1").get(f"/loads/{load.pk}/").content.decode()
    assert "加载失败" in html and "证件号码校验位错误" not in html


def test_running_load_polls_its_status(login):
    load = BookLoad.objects.create(source_name="b.zip", sha256="c" * 64, status="writing", progress=40)
    client = login("c", Role.COMPLIANCE)
    html = client.get(f"/loads/{load.pk}/").content.decode()
    assert f'hx-get="/loads/{load.pk}/status/"' in html and 'hx-trigger="every 1s"' in html and "40%" in html
    fragment = client.get(f"/loads/{load.pk}/status/").content.decode()
    assert fragment.lstrip().startswith("<section") and "<html" not in fragment


def test_done_load_shows_counts(login):
    load = BookLoad.objects.create(
        source_name="b.zip",
        sha256="d" * 64,
        status="done",
        row_counts={"parties": 20, "policies": 10, "branches": 3},
        change_counts={"policies": {"new": 10, "updated": 0, "gone": 0}},
    )
    html = login("c", Role.COMPLIANCE).get(f"/loads/{load.pk}/").content.decode()
    tables = re.findall(r'data-table="(\w+)"', html)
    assert tables == ["branches", "policies", "parties"]


def test_party_lookup_masks_logs_and_watermarks(login, small_book):
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GZ", staff_no="S007")
    html = client.get("/parties/", {"policy_no": "P1"}).content.decode()
    assert "张*伟" in html and "4401**********1234" in html and "138****5678" in html
    assert "张三伟" not in html and "440106198005061234" not in html and "13812345678" not in html
    assert 'class="watermark"' in html and "S007 · cs" in html
    assert 'class="policy-findings" href="/findings/list/?policy_no=P1&amp;status=all"' in html
    log = AuditEntry.objects.get(model="party")
    assert (log.username, log.action, log.outcome, len(log.record_id_list)) == ("cs", "lookup", "ok", 2)


def test_party_lookup_out_of_scope_shows_nothing(login, small_book):
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="BJ")
    html = client.get("/parties/", {"policy_no": "P1"}).content.decode()
    assert "未找到符合条件的保单" in html and "张*伟" not in html
    assert AuditEntry.objects.get(model="party").outcome == "empty"


def test_party_lookup_fails_closed(login, small_book):
    client = login("cs", Role.COMPLIANCE)
    _block_read_log_inserts()
    response = client.get("/parties/", {"policy_no": "P1"})
    assert response.status_code == 503
    html = response.content.decode()
    assert "审计日志不可用" in html and "张*伟" not in html and "4401" not in html


def test_static_assets_are_served_by_the_app(client):
    for path in ["/static/custos/custos.css", "/static/custos/vendor/htmx-2.0.11.min.js"]:
        response = client.get(path)
        assert response.status_code == 200, path


def test_admin_shows_users_profiles_and_reference_data(client, small_book):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", password="root-password-1")
    client.login(username="root", password="root-password-1")
    for url in [
        "/admin/",
        "/admin/auth/user/",
        "/admin/access/profile/",
        "/admin/book/staff/",
        "/admin/book/branch/",
    ]:
        assert client.get(url).status_code == 200, url
    html = client.get("/admin/book/staff/").content.decode()
    assert "A1" in html and "440106" not in html


@pytest.mark.django_db
def test_nul_in_a_query_string_is_a_clear_400_not_a_database_error(client):
    for url in ("/api/v1/remediation/samples?result=%00", "/findings/list/?check=a%00b", "/?x%00=1"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert b"NUL character" in response.content
    assert client.get("/api/v1/loads?x=%00").json()["detail"].startswith("NUL character")
    assert client.get("/login/?next=/").status_code == 200


def test_extractions_are_in_the_menu_with_the_approvers_queue(client, django_user_model):
    """Every role reaches extractions from the menu: the executive lands on the requests awaiting
    approval (with their count), compliance and auditors on every extraction, others on their own."""
    from custos.access.models import Role
    from custos.extraction.models import Extraction
    from tests.conftest import make_user

    requester = make_user("req", Role.CUSTOMER_SERVICE)
    Extraction.objects.create(requester=requester, purpose="p", justification="j" * 12, fields=["name"])
    expected = {
        Role.EXECUTIVE: ('href="/extractions/approvals/"', '<span class="badge">1</span>'),
        Role.COMPLIANCE: ('href="/extractions/all/"', None),
        Role.AUDITOR: ('href="/extractions/all/"', None),
        Role.AGENT: ('href="/extractions/"', None),
    }
    for role, (link, badge) in expected.items():
        client.force_login(make_user(f"u-{role}", role))
        html = client.get("/findings/").content.decode()
        nav = html[html.index('<nav class="mainnav">') : html.index("</nav>")]
        assert link in nav, role
        anchor = nav[nav.index(link) : nav.index("</a>", nav.index(link))]
        assert (badge in anchor) if badge else ('class="badge"' not in anchor), role


def test_load_page_names_tables_and_where_each_warning_is(client, django_user_model):
    from django.utils import translation

    from custos.access.models import Role
    from custos.book.models import BookLoad
    from custos.web.templatetags.custos_tags import table_label
    from tests.conftest import make_user

    load = BookLoad.objects.create(
        source_name="b.zip",
        sha256="0" * 64,
        status="done",
        row_counts={"policies": 3},
        change_counts={"policies": {"new": 3, "updated": 0, "gone": 0}},
        warnings=[
            {
                "file": "notes.csv",
                "row": None,
                "column": None,
                "message": "not a table of the book format: ignored",
            }
        ],
    )
    client.force_login(make_user("cmp", Role.COMPLIANCE))
    html = client.get(f"/loads/{load.pk}/").content.decode()
    assert '<span class="mono">notes.csv</span> 不是数据册格式中的表，已忽略' in html
    assert "保单 (policies)" in html
    with translation.override("en"):
        assert table_label("policies") == "Policies" and table_label("visits") == "Return visits (visits)"
