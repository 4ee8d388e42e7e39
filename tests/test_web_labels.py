"""Shared labels: organisation names with codes, the branch path, code values and statuses in both
languages (custos/book/labels.py, custos/web/templatetags/custos_tags.py)."""

import pytest
from django.template import Context, Template
from django.utils import translation

from custos.book import labels
from custos.book.models import Branch

pytestmark = pytest.mark.django_db


def render(text: str, **ctx) -> str:
    return Template("{% load custos_tags %}" + text).render(Context(ctx))


def test_org_label_names_with_codes_in_both_languages(small_book):
    with translation.override("zh-hans"):
        assert labels.org_label("branch", "GZ") == "广州中心支公司（GZ）"
        assert labels.org_label("partner", "BK1") == "某银行天河支行（BK1）"
        assert labels.org_label("staff", "A1") == "业务员 业***1（A1）"
        assert labels.org_label("branch", "XX") == "XX"
        assert labels.org_label("branch", "") == ""
        assert labels.org_label("staff", None) == ""
    with translation.override("en"):
        assert labels.org_label("branch", "GZ") == "广州中心支公司 (GZ)"
        assert labels.org_label("staff", "A1") == "Agent 业***1 (A1)"


def test_staff_names_are_masked(small_book):
    with translation.override("zh-hans"):
        shown = labels.org_label("staff", "A2")
    assert "业务员A2" not in shown and "A2" in shown


def test_branch_path_root_first(small_book):
    assert labels.branch_path("GZ") == [("HO", "总公司"), ("GD", "广东分公司"), ("GZ", "广州中心支公司")]
    assert labels.branch_path("HO") == [("HO", "总公司")]
    assert labels.branch_path("nope") == []
    assert labels.branch_path("") == []


def test_branch_path_survives_a_cycle(small_book):
    Branch.objects.filter(branch_code="HO").update(parent_code="GZ")
    assert [c for c, _n in labels.branch_path("GZ")] == ["HO", "GD", "GZ"]


def test_request_cache_sees_a_new_book_on_the_next_request(small_book):
    """Within a cache the first answer stands (one query per kind); a new cache asks again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    labels._open_cache()
    with CaptureQueriesContext(connection) as q:
        for code in ("GZ", "SZ", "GD", "HO", "GZ"):
            labels.org_label("branch", code)
        labels.branch_path("SZ")
    assert len(q.captured_queries) == 1
    Branch.objects.filter(branch_code="GZ").update(name="广州新名")
    assert labels.org_label("branch", "GZ").startswith("广州中心支公司")
    labels._drop_cache()
    labels._open_cache()
    assert labels.org_label("branch", "GZ").startswith("广州新名")
    labels._drop_cache()


def test_prefetch_labels_many_staff_in_one_query(small_book):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with labels.label_cache(), translation.override("zh-hans"):  # whatever an earlier test left active
        labels.prefetch("staff", ["A1", "A2", "A3", "ZZ"])
        with CaptureQueriesContext(connection) as q:
            shown = [labels.org_label("staff", c) for c in ("A1", "A2", "A3", "ZZ")]
        assert len(q.captured_queries) == 0
    assert shown[-1] == "ZZ" and all(s.endswith("）") for s in shown[:-1])


def test_code_values_translate_in_english():
    with translation.override("zh-hans"):
        assert labels.code_value("channel", "bancassurance") == "银保"
        assert labels.code_value("role", "insured") == "被保险人"
        assert labels.code_value("policy_status", "in_force") == "有效"
    with translation.override("en"):
        assert labels.code_value("channel", "bancassurance") == "Bancassurance"
        assert labels.code_value("relation", "spouse") == "Spouse"
        assert labels.code_value("policy_status", "in_force") == "In force"
        assert labels.code_value("partner_status", "active") == "Active"
        assert labels.code_value("channel", "unknown") == "unknown"
        assert labels.code_value("name", "bancassurance") == "bancassurance"


def test_every_code_value_has_an_english_label():
    with translation.override("en"):
        for kind, table in labels.CODE_LABELS.items():
            for code, text in table.items():
                shown = str(text)
                assert shown.isascii(), (kind, code, shown)


def test_filters(small_book):
    with translation.override("zh-hans"):
        out = render(
            "{{ 'GZ'|branch_label }}|{{ 'BK1'|partner_label }}|{{ 'bancassurance'|channel_label }}|"
            "{{ 'applicant'|role_label }}|{{ 'policy/0'|party_label }}|{{ 'insured/2'|party_label }}|"
            "{{ 'Passed'|status_label }}|{{ 'low'|status_label }}|{{ 'GZ'|branch_trail }}"
        )
        assert (
            out
            == "广州中心支公司（GZ）|某银行天河支行（BK1）|银保|投保人|保单|被保险人 2|通过|低|总公司 / 广东分公司 / 广州中心支公司（GZ）"
        )
    with translation.override("en"):
        out = render(
            "{{ 'bancassurance'|channel_label }}|{{ 'policy/0'|party_label }}|{{ 'queued'|status_label }}|{{ 'certain'|status_label }}"
        )
        assert out == "Bancassurance|Policy|Queued|Certain"


# --- loader messages on the load pages -------------------------------------------------------------


@pytest.mark.parametrize(
    "message, zh",
    [
        ("required column is missing", "缺少必填列"),
        ("'P9' is not a policy_no in policies", "'P9' 不是保单中的保单号"),
        ("'A77' is not a staff_no in staff (and 3 more rows)", "'A77' 不是员工中的员工工号（另有 3 行同样）"),
        ("'2020-13-01' is not a valid date", "'2020-13-01' 不是有效日期"),
        ("'xx' is not a channel code", "'xx' 不是有效的渠道代码"),
        ("value has 70 characters, more than the 64 allowed", "取值有 70 个字符，超过允许的 64 个"),
        ("required table policies is missing from the book", "数据册缺少必需的表：保单"),
        ("checked policies.csv: 1,234 rows", "已校验 policies.csv：1,234 行"),
        ("something new", "something new"),
    ],
)
def test_loader_messages_in_chinese(message, zh):
    from custos.book.load_messages import localize

    with translation.override("zh-hans"):
        assert localize(message) == zh


def test_loader_messages_in_english_read_as_the_loader_wrote_them():
    from custos.book.load_messages import localize

    with translation.override("en"):
        assert localize("required column is missing") == "required column is missing"
        assert localize("'x' is not a valid date") == "'x' is not a valid date"
        assert localize("row has 3 cells, the header 5") == "row has 3 cells, the header 5"


def test_load_page_shows_errors_in_chinese(client, custos_home):
    from custos.access.models import Role
    from custos.book.loader.errors import Issue
    from custos.book.models import BookLoad
    from tests.conftest import make_user

    errors = [
        Issue("policies.csv", 1, "channel", "required column is missing", "missing_column").as_dict(),
        Issue(
            "policies.csv", 5, "issued_on", "'2020-13-01' is not a valid date", "invalid_date",
            "{value!r} is not a valid date", "2020-13-01",
        ).as_dict(),
    ]  # fmt: skip
    load = BookLoad.objects.create(
        source_name="b.zip", sha256="0" * 64, status="failed", errors=errors, error_count=2
    )
    client.force_login(make_user("co", Role.COMPLIANCE))
    client.cookies["django_language"] = "zh-hans"
    html = client.get(f"/loads/{load.pk}/").content.decode()
    assert "缺少必填列" in html and "不是有效日期" in html
    assert "required column is missing" not in html and "is not a valid date" not in html
    assert 'title="渠道"' in html  # the column as the file names it, its label beside
    client.cookies["django_language"] = "en"
    html = client.get(f"/loads/{load.pk}/").content.decode()
    assert "required column is missing" in html and "缺少必填列" not in html
