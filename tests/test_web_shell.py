"""The shell: the side menu by role, breadcrumbs, the shared form layout, date pickers, and the 404
and 500 pages in the app's style and the reader's language."""

import re

import pytest
from django import forms
from django.template import Context, Template
from django.test import override_settings
from django.utils import translation

from custos.access.capabilities import OUTSIDE_ROLES
from custos.access.models import Role
from custos.web import formkit
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

SCOPE = {
    Role.AGENT: {"staff_no": "A1"},
    Role.PARTNER_STAFF: {"partner_code": "BK1"},
    Role.CHANNEL_MANAGER: {"channel": "agency"},
}


def menu_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', html, re.S).group(1)
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize("role", [r for r in Role if r not in OUTSIDE_ROLES])
def test_side_menu_offers_only_pages_the_role_opens(client, small_book, role):
    client.force_login(make_user(f"u-{role}", role, **SCOPE.get(role, {})))
    links = menu_links(client.get("/").content.decode())
    assert "/" in links and "/me/access/" in links
    for link in links:
        status = client.get(link).status_code
        assert status not in (403, 404), (role, link, status)


@pytest.mark.parametrize("role", sorted(OUTSIDE_ROLES))
def test_outside_roles_have_no_menu_and_no_page(client, small_book, role):
    """A member insurer of the association's custos uses the look-up API and nothing else."""
    client.force_login(make_user(f"u-{role}", role))
    for path in ("/", "/me/access/", "/findings/", "/remediation/"):
        resp = client.get(path)
        assert resp.status_code == 403, (role, path, resp.status_code)
        assert menu_links(resp.content.decode()) == [], (role, path)


def test_side_menu_follows_the_capability_table(client, small_book):
    client.force_login(make_user("agent", Role.AGENT, staff_no="A1"))
    links = menu_links(client.get("/").content.decode())
    assert "/remediation/" in links
    for hidden in (
        "/remediation/assign/",
        "/remediation/team/",
        "/audit/",
        "/security/keys/",
        "/extractions/all/",
    ):
        assert hidden not in links
    client.force_login(make_user("it", Role.IT_SECURITY))
    links = menu_links(client.get("/").content.decode())
    assert {"/audit/", "/security/keys/", "/security/capabilities/", "/security/integrity/"} <= set(links)
    assert "/remediation/" not in links
    client.force_login(make_user("cs", Role.CUSTOMER_SERVICE))
    links = menu_links(client.get("/").content.decode())
    assert {"/remediation/", "/remediation/team/", "/remediation/assign/"} <= set(links)


def test_side_menu_marks_where_you_are_and_breadcrumbs_follow(client, small_book):
    client.force_login(make_user("cs", Role.CUSTOMER_SERVICE))
    html = client.get("/remediation/progress/").content.decode()
    assert re.search(r'<a href="/remediation/progress/" class="active" aria-current="page">', html)
    crumbs = re.search(r'<nav class="breadcrumbs"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert re.findall(r">([^<>]+)</a>", crumbs) == ["首页", "整改任务", "整改进度"]


@pytest.mark.parametrize(
    "path, trail",
    [
        ("/", ["首页", "工作台", "数据册"]),
        ("/loads/new/", ["首页", "工作台", "数据册", "上传数据册"]),
        ("/security/alerts/", ["首页", "安全与审计", "安全告警"]),
    ],
)
def test_shared_pages_have_breadcrumbs(client, path, trail):
    client.force_login(make_user("co", Role.COMPLIANCE))
    html = client.get(path).content.decode()
    crumbs = re.search(r'<nav class="breadcrumbs"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert [t.strip() for t in re.findall(r">([^<>]+)<", crumbs) if t.strip()] == trail


def test_load_page_breadcrumb_names_the_load(client):
    from custos.book.models import BookLoad

    load = BookLoad.objects.create(source_name="b.zip", sha256="0" * 64, status="done")
    client.force_login(make_user("co", Role.COMPLIANCE))
    html = client.get(f"/loads/{load.pk}/").content.decode()
    crumbs = re.search(r'<nav class="breadcrumbs"[^>]*>(.*?)</nav>', html, re.S).group(1)
    assert f'<span class="crumb-here">#{load.pk}</span>' in crumbs


def test_403_page_has_the_menu_and_a_breadcrumb(client):
    client.force_login(make_user("ag", Role.AGENT))
    resp = client.get("/security/keys/")
    assert resp.status_code == 403
    html = resp.content.decode()
    assert '<nav class="mainnav"' in html and '<span class="crumb-here">无权访问</span>' in html


# --- the shared form layout ----------------------------------------------------------------------


class RangeForm(formkit.DatePickers, forms.Form):
    name = forms.CharField(label="名称", max_length=5)
    start = forms.DateField(label="开始日期")
    end = forms.DateField(label="结束日期")
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        data = super().clean()
        formkit.date_range(self, "start", "end")
        if data.get("name") == "x":
            raise forms.ValidationError("整体错误")
        return data


def render_form(form) -> str:
    return Template('{% include "web/_form.html" with form=form %}').render(Context({"form": form}))


def test_form_errors_sit_beside_their_fields_and_once():
    form = RangeForm({"name": "toolongname", "start": "2026-05-02", "end": "2026-05-01"})
    with translation.override("zh-hans"):
        assert not form.is_valid()
        html = render_form(form)
    rows = dict(re.findall(r'<div class="form-row[^"]*" id="row-(\w+)">(.*?)</div>\s*</div>', html, re.S))
    assert "结束日期不能早于开始日期。" in rows["end"] and "结束日期不能早于开始日期。" not in rows["start"]
    assert "field-error" in rows["name"] and "field-error" not in rows["start"]
    assert html.count("结束日期不能早于开始日期。") == 1
    assert 'class="form-row has-error required" id="row-end"' in html
    assert 'aria-invalid="true"' in rows["end"]


def test_non_field_errors_once_at_the_top():
    form = RangeForm({"name": "x", "start": "2026-05-01", "end": "2026-05-02"})
    assert not form.is_valid()
    html = render_form(form)
    assert html.count("整体错误") == 1
    assert html.index("整体错误") < html.index('class="form-row')


def test_date_fields_get_the_date_picker():
    form = RangeForm(initial={"start": __import__("datetime").date(2026, 5, 1)})
    html = render_form(form)
    assert re.search(r'<input type="date" name="start" value="2026-05-01"', html)
    assert re.search(r'<input type="date" name="end"', html)


def test_date_range_in_english():
    form = RangeForm({"name": "a", "start": "2026-05-02", "end": "2026-05-01"})
    with translation.override("en"):
        assert not form.is_valid()
        assert form.errors["end"] == ["The end date cannot be before the start date."]


def test_upload_form_shows_its_error_beside_the_field(client):
    client.force_login(make_user("co", Role.COMPLIANCE))
    html = client.post("/loads/new/", {"mode": "full"}).content.decode()
    row = re.search(r'id="row-file">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "field-error" in row


# --- 404 and 500 ---------------------------------------------------------------------------------


@override_settings(DEBUG=False)
@pytest.mark.parametrize(
    "lang, title, other",
    [("zh-hans", "页面不存在", "Page not found"), ("en", "Page not found", "页面不存在")],
)
def test_404_in_the_app_style_and_language(client, lang, title, other):
    client.cookies["django_language"] = lang
    resp = client.get("/no/such/page/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "custos.css" in html and f"<h1>{title}</h1>" in html and other not in html
    assert "The requested resource was not found" not in html


@override_settings(DEBUG=False)
def test_404_signed_in_has_the_menu(client):
    client.force_login(make_user("co", Role.COMPLIANCE))
    html = client.get("/no/such/page/").content.decode()
    assert '<nav class="mainnav"' in html and '<span class="crumb-here">页面不存在</span>' in html


@pytest.fixture
def failing_view(settings):
    """A URLconf with a view that raises, behind the project's handlers."""
    settings.ROOT_URLCONF = "tests.test_web_shell_urls"
    settings.DEBUG = False


@pytest.mark.parametrize("lang, title", [("zh-hans", "服务器内部错误"), ("en", "Server error")])
def test_500_in_the_app_style_and_language(failing_view, lang, title):
    from django.test import Client

    c = Client(raise_request_exception=False)
    c.cookies["django_language"] = lang
    resp = c.get("/boom/")
    assert resp.status_code == 500
    html = resp.content.decode()
    assert "custos.css" in html and f"<h1>{title}</h1>" in html
    assert "Server Error (500)" not in html


def test_500_renders_without_the_database(failing_view, monkeypatch):
    """The 500 page asks nothing of the database or the request's context processors."""
    from django.db import connection
    from django.test import Client

    def refuse(*args, **kwargs):
        raise RuntimeError("database down")

    c = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    c.force_login(make_user("co", Role.COMPLIANCE))  # a session the page must not read
    monkeypatch.setattr(connection, "cursor", refuse)
    resp = c.get("/boom/")
    assert resp.status_code == 500
    assert "<h1>Server error</h1>" in resp.content.decode()


def test_500_handler_with_a_bare_request():
    from django.test import RequestFactory

    from custos.web.errors import server_error

    resp = server_error(RequestFactory().get("/x/", HTTP_ACCEPT_LANGUAGE="en"))
    assert resp.status_code == 500 and "<h1>Server error</h1>" in resp.content.decode()
