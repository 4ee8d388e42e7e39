"""The Django admin in custos' style and the reader's language: no stock English model names
("Branchs"), Chinese names and headings in Chinese, English ones in English."""

import re

import pytest
from django.contrib import admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model, small_book):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-42")
    client.force_login(user)
    return client


def get(client, path, lang):
    client.cookies["django_language"] = lang
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.content.decode()


def admin_pages():
    pages = ["/admin/"]
    for model in admin.site._registry:
        meta = model._meta
        pages.append(f"/admin/{meta.app_label}/{meta.model_name}/")
    return pages


def test_no_stock_english_model_names(superuser_client):
    for path in admin_pages():
        html = get(superuser_client, path, "zh-hans")
        for stock in ("Branchs", "Staffs", "Django administration", "Django site admin"):
            assert stock not in html, (path, stock)


def test_index_in_chinese(superuser_client):
    html = get(superuser_client, "/admin/", "zh-hans")
    for name in (
        "custos 系统管理",
        "机构",
        "员工",
        "合作机构",
        "数据册加载",
        "问题",
        "校验运行",
        "数据提取",
        "登录尝试",
    ):
        assert f">{name}<" in html or name in html, name
    assert not re.search(r">\s*(Branches|Partners|Book loads|Findings|Access attempts)\s*<", html)


def test_index_in_english(superuser_client):
    html = get(superuser_client, "/admin/", "en")
    for name in ("custos administration", "Branches", "Staff", "Partners", "Book loads", "Findings"):
        assert name in html, name
    assert "机构" not in html and "数据册加载" not in html


def test_list_headings_and_values_in_chinese(superuser_client):
    html = get(superuser_client, "/admin/book/branch/", "zh-hans")
    heads = re.findall(r'<th scope="col"[^>]*>.*?<(?:a|span)[^>]*>([^<]+)</', html, re.S)
    assert {"机构代码", "名称", "级别", "上级机构"} <= {h.strip() for h in heads}, heads
    assert "广东分公司（GD）" in html  # the parent by name with its code
    assert ">分公司<" in html  # the level's label, not "province"
    staff = get(superuser_client, "/admin/book/staff/", "zh-hans")
    assert ">个险<" in staff and ">业务员<" in staff and ">agency<" not in staff


def test_list_headings_in_english(superuser_client):
    html = get(superuser_client, "/admin/book/partner/", "en")
    assert "Partner code" in html and ">Bank<" in html and ">Active<" in html


def test_admin_uses_custos_colours(superuser_client):
    html = get(superuser_client, "/admin/", "zh-hans")
    assert "--header-bg: #13233b" in html and 'class="brand-mark"' in html


def test_change_and_view_pages_label_fields_in_the_readers_language(superuser_client):
    from custos.access.models import Profile
    from custos.book.models import Branch
    from tests.conftest import make_user

    profile = Profile.objects.get(user=make_user("clerk", "customer_service", branch_code="GZ"))
    branch = Branch.objects.get(branch_code="GZ")
    from django.utils import translation

    for path, zh, stock in [
        (f"/admin/access/profile/{profile.pk}/change/", "员工工号", "Staff no:"),  # an editable form
        (f"/admin/book/branch/{branch.pk}/change/", "上级机构", "Parent code"),  # a read-only view
    ]:
        html = get(superuser_client, path, "zh-hans")
        assert f"{zh}:" in html or f"{zh}：" in html or f">{zh}<" in html, path
        assert stock not in html, path
        with translation.override("en"):
            en = translation.gettext(zh)
        assert en != zh and en in get(superuser_client, path, "en"), path
    # every field of every custos model shown on a change page has a label from the table
    from custos.web.adminkit import _CUSTOS_APPS, FORM_LABELS

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in _CUSTOS_APPS:
            continue
        fields = model_admin.fields or [
            f.name for f in model._meta.get_fields() if getattr(f, "concrete", False) and not f.auto_created
        ]
        headed = {getattr(c, "field_name", "") for c in model_admin.list_display if callable(c)}
        assert [f for f in fields if f not in FORM_LABELS and f not in headed] == [], model
