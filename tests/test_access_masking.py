"""Masking of personal data (custos.domain.masking): examples from the design, then properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custos.domain import masking, refdata

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


def test_examples():
    assert masking.name("张三伟") == "张*伟"
    assert masking.name("张三") == "张*"
    assert masking.name("欧阳娜娜") == "欧**娜"
    assert masking.name("买买提·艾力") == "买*·*力"
    assert masking.name("John Smith") == "J*** S****"
    assert masking.id_no("440106199001011234") == "4401**********1234"
    assert masking.mobile("13812345678") == "138****5678"
    assert masking.mobile("+86 138-1234-5678") == "138****5678"
    assert masking.phone("020-12345678") == "020-****5678"
    assert masking.phone("07551234567") == "0755-****567"  # a 7-digit local number shows 3
    assert masking.address("广东省广州市天河区体育西路1号") == "广东省广州市天河区****"
    assert masking.address("北京市海淀区中关村大街1号") == "北京市海淀区****"
    assert masking.address("江苏省苏州市昆山市玉山镇") == "江苏省苏州市昆山市****"
    assert masking.address("四川省甘孜藏族自治州康定市炉城镇") == "四川省甘孜藏族自治州康定市****"
    assert masking.email("alice@example.com") == "a***@example.com"
    assert masking.birth_date("1990-01-02") == "1990-**-**"


def test_empty_values_stay_empty():
    for fn in masking.FIELD_MASKS.values():
        assert fn("") == ""
        assert fn(None) == ""


def test_mask_field_leaves_other_fields():
    assert masking.mask_field("policy_no", "P0001") == "P0001"
    assert masking.mask_field("mobile", "13812345678") == "138****5678"


@given(st.text(HAN, min_size=3, max_size=6))
def test_chinese_name_keeps_first_and_last(n):
    out = masking.name(n)
    assert len(out) == len(n)
    assert out[0] == n[0] and out[-1] == n[-1]
    assert set(out[1:-1]) == {"*"}


@given(st.text(HAN, min_size=2, max_size=2))
def test_two_character_name(n):
    assert masking.name(n) == n[0] + "*"


@given(st.from_regex(r"\A[1-9][0-9]{16}[0-9X]\Z"))
def test_id_keeps_first_four_and_last_four(v):
    out = masking.id_no(v)
    assert out == v[:4] + "*" * 10 + v[-4:]


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_mobile_keeps_prefix_and_last_four(v):
    assert masking.mobile(v) == v[:3] + "****" + v[-4:]


@given(
    st.sampled_from(sorted(c for c in refdata.area_codes() if len(c) == 2)),
    st.from_regex(r"\A[2-9][0-9]{7}\Z"),
)
def test_fixed_line_keeps_area_code_and_last_four(area, local):
    assert masking.phone(f"0{area}-{local}") == f"0{area}-****{local[-4:]}"


@given(st.from_regex(r"\A[a-z][a-z0-9.]{0,20}@[a-z]{1,10}\.(com|cn)\Z"))
def test_email_keeps_first_letter_and_domain(v):
    local, domain = v.split("@")
    first = local[0] if sum(c.isalnum() for c in local) >= 2 else ""  # a one-letter local part: nothing
    assert masking.email(v) == first + "***@" + domain


@given(st.text(max_size=60))
def test_never_raises_and_never_returns_a_long_value_whole(v):
    for fn in masking.FIELD_MASKS.values():
        out = fn(v)
        assert isinstance(out, str)
        stripped = v.strip()
        if len(stripped) >= 8 and fn is not masking.birth_date:
            assert out != stripped


@given(st.text(HAN, min_size=4, max_size=20))
def test_address_detail_never_shown(detail):
    public = "广东省广州市天河区"
    out = masking.address(public + detail)
    # Only the public place names, then the mask. (A search for the detail
    # in the output would fail by chance on a detail such as 广州市天.)
    assert out == public + "****"


# --- findings show every personal field masked (issue 16, item 11) ---------------------------------

EXPIRY, POSTCODE, PERMIT = "2019-06-30", "510620", "M11216075"


@pytest.fixture
def findings(tmp_path, monkeypatch, django_user_model):
    from custos.checks.services import run_check
    from tests import test_findings_support as support

    checks = support.CHECKS + [
        support.FakeCheck("ID12", "false", "medium", fields=("id_valid_until",)),
        support.FakeCheck("AD06", "suspicious", "low", fields=("postcode",)),
    ]
    monkeypatch.setattr(support, "CHECKS", checks)
    load = support.make_load(tmp_path)
    support.make_book(load)
    rows = [
        ("ID12", "P1", "applicant", 1, "id_valid_until", EXPIRY),
        ("AD06", "P1", "applicant", 1, "postcode", POSTCODE),
        ("ID03", "P1", "insured", 1, "id_no", PERMIT),
    ]
    support.install_fakes(monkeypatch, [support.findings_table(rows)])
    run_check()
    return {
        "compliance": support.make_user(django_user_model, "comp", "compliance"),
        "root": django_user_model.objects.create_superuser("root", "root@example.com", None),
    }


@pytest.mark.django_db
def test_findings_show_document_expiry_postcode_and_short_ids_masked(client, findings):
    from custos.checks.models import Finding
    from tests.test_findings_support import token_for

    resp = client.get("/api/v1/findings", HTTP_AUTHORIZATION=f"Bearer {token_for(findings['compliance'])}")
    by_check = {i["check"]: i["value"] for i in resp.json()["items"]}
    assert by_check == {"ID12": "2019-**-**", "AD06": "51****", "ID03": "M*****075"}
    client.force_login(findings["compliance"])
    pages = [client.get("/findings/list/").content.decode()]
    pages += [client.get(f"/findings/{f.pk}/").content.decode() for f in Finding.objects.all()]
    client.force_login(findings["root"])
    pages.append(client.get("/admin/checks/finding/").content.decode())
    for html in pages:
        assert EXPIRY not in html and POSTCODE not in html and PERMIT not in html
    assert "2019-**-**" in pages[0] and "51****" in pages[0] and "M*****075" in pages[0]
