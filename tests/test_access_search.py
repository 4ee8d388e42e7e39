"""Every role's scoped list of policies and customers, and the search by policy number (any case), ID
number and mobile (blind indexes), name with birth date — masked, audited, never echoed in clear
(issue 18: partner staff had no list of their own policies)."""

import datetime as dt
import json
import re

import pytest

from custos.access import search
from custos.access.models import Role
from custos.access.service import AccessContext
from custos.api.models import ApiToken
from custos.audit.models import AuditEntry
from custos.book.models import Party
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-42"
SECRET_ID = "11010119900101123X"
SECRET_MOBILE = "13912340000"


@pytest.fixture
def book(small_book):
    p = Party.objects.get(policy_no="P2", role="insured")
    p.name, p.birth_date, p.id_no, p.mobile = "王小雨", dt.date(1990, 1, 1), SECRET_ID, SECRET_MOBILE
    p.save()
    return small_book


@pytest.fixture
def login(client):
    def _login(username, role, **scope):
        make_user(username, role, **scope)
        assert client.login(username=username, password=PASSWORD)
        return client

    return _login


def _policies(html: str) -> list[str]:
    return re.findall(r'<tbody class="policy" id="policy-([^"]+)"', html)


def test_partner_staff_list_their_own_policies_masked_and_audited(login, book):
    client = login("bank", Role.PARTNER_STAFF, partner_code="BK1")
    html = client.get("/parties/").content.decode()
    assert _policies(html) == ["P2", "P4"]
    assert "张*伟" in html and "王*雨" in html and "张三伟" not in html and SECRET_ID not in html
    assert "共 2 张保单" in html and "某银行天河支行" in html  # the outlet by name
    entry = AuditEntry.objects.get(model="party")
    assert (entry.action, entry.outcome, entry.purpose) == ("customer_list", "ok", "list; page 1")
    assert len(entry.record_id_list) == 4


def test_every_page_of_the_list_is_an_audit_entry(login, book, monkeypatch):
    monkeypatch.setattr(search, "PER_PAGE", 1)
    client = login("c", Role.COMPLIANCE)
    first = client.get("/parties/").content.decode()
    assert _policies(first) == ["P1"] and 'rel="next"' in first and "1 / 4" in first
    assert _policies(client.get("/parties/", {"page": 3}).content.decode()) == ["P3"]
    purposes = list(
        AuditEntry.objects.filter(model="party").order_by("seq").values_list("purpose", flat=True)
    )
    assert purposes == ["list; page 1", "list; page 3"]


def test_policy_number_search_ignores_case(login, book):
    client = login("bank", Role.PARTNER_STAFF, partner_code="BK1")
    assert _policies(client.get("/parties/", {"policy_no": "p4"}).content.decode()) == ["P4"]
    html = client.get("/parties/", {"policy_no": "p1"}).content.decode()  # not the outlet's
    assert _policies(html) == [] and "未找到符合条件的保单" in html
    assert AuditEntry.objects.filter(model="party", purpose="search by policy_no; page 1").count() == 2


@pytest.mark.parametrize(
    "query",
    [
        {"id_no": SECRET_ID.lower()},
        {"mobile": "+86 139-1234-0000"},
        {"name": "王小雨", "birth_date": "1990-01-01"},
    ],
)
def test_search_on_a_person_finds_through_the_blind_indexes_and_never_echoes(login, book, query):
    client = login("bank", Role.PARTNER_STAFF, partner_code="BK1")
    response = client.post("/parties/", query)
    html = response.content.decode()
    assert response.status_code == 200 and _policies(html) == ["P2"]
    assert html.count("王*雨") >= 1 and "张*伟" not in html  # the matching party only
    for clear in [SECRET_ID, SECRET_ID.lower(), SECRET_MOBILE, "139-1234-0000", "王小雨", "1990-01-01"]:
        assert clear not in html, clear
    kind = "name+birth_date" if "name" in query else next(iter(query))
    entry = AuditEntry.objects.get(model="party")
    assert (entry.action, entry.purpose) == ("lookup", f"search by {kind}; page 1")
    assert not any(
        v in json.dumps(list(AuditEntry.objects.values()), default=str) for v in (SECRET_ID, SECRET_MOBILE)
    )
    # the search is kept under a token: its pages and the way back from unmasking keep it
    token = re.search(r'name="s" value="([^"]+)"|\?s=([\w-]+)', html)
    assert token is None  # one page: no pager, and a partner cannot unmask (no links)
    session_blob = json.dumps(dict(client.session))
    assert SECRET_ID not in session_blob and "王小雨" not in session_blob  # sealed in the session


def test_search_out_of_scope_finds_nothing(login, book):
    client = login("a1", Role.AGENT, staff_no="A1")  # P1 and P4, not P2
    html = client.post("/parties/", {"id_no": SECRET_ID}).content.decode()
    assert _policies(html) == [] and "未找到符合条件的保单" in html
    assert AuditEntry.objects.get(model="party").outcome == "empty"


def test_name_needs_a_birth_date(login, book):
    client = login("bank", Role.PARTNER_STAFF, partner_code="BK1")
    response = client.post("/parties/", {"name": "王小雨"})
    html = response.content.decode()
    assert response.status_code == 400 and "按姓名查询须同时填写姓名和出生日期。" in html
    assert "王小雨" not in html and not AuditEntry.objects.filter(model="party").exists()
    assert client.post("/parties/", {}).status_code == 400


def test_kept_search_pages_and_returns_from_unmasking(login, book, monkeypatch):
    monkeypatch.setattr(search, "PER_PAGE", 1)
    client = login("cs", Role.CUSTOMER_SERVICE, branch_code="GD")  # P1, P2, P4
    html = client.post("/parties/", {"mobile": "13812345678"}).content.decode()
    assert _policies(html) == ["P1"] and "1 / 3" in html
    token = re.search(r'href="\?s=([\w-]+)&amp;page=2"', html).group(1)
    page2 = client.get("/parties/", {"s": token, "page": 2}).content.decode()
    assert _policies(page2) == ["P2"] and "138****5678" in page2 and "13812345678" not in page2
    # the unmask links carry the way back to this page of this search
    link = re.search(r'href="(/parties/\d+/unmask/name/\?next=[^"]+)"', page2).group(1)
    assert f"s%3D{token}%26page%3D2" in link
    assert _policies(client.get("/parties/", {"s": "unknown"}).content.decode()) == [
        "P1"
    ]  # expired: the list


def test_search_service_scopes_like_the_access_service(book):
    user = make_user("bank", Role.PARTNER_STAFF, partner_code="BK1")
    ctx = AccessContext.for_user(user)
    found = search.page(ctx, search.Criteria(mobile="13812345678"))
    assert [p["policy_no"] for p in found.policies] == ["P2", "P4"]
    assert {r["mobile"] for r in found.rows} == {"138****5678"}


# --- the API --------------------------------------------------------------------------------------


def _api(user):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user, 't')[1]}")


def _lookup(api, body):
    return api.post("/api/v1/customers/lookup", json.dumps(body), content_type="application/json")


def test_api_search_by_mobile_name_and_policy_any_case(book):
    api = _api(make_user("bank", Role.PARTNER_STAFF, partner_code="BK1"))
    r = _lookup(api, {"mobile": "139 1234 0000"})
    assert r.status_code == 200 and [p["policy_no"] for p in r.json()["parties"]] == ["P2"]
    assert SECRET_MOBILE not in r.content.decode() and SECRET_ID not in r.content.decode()
    r = _lookup(api, {"name": "王小雨", "birth_date": "1990-01-01"})
    assert r.status_code == 200 and r.json()["parties"][0]["name"] == "王*雨"
    r = _lookup(api, {"policy_no": "p4"})
    assert r.status_code == 200 and {p["policy_no"] for p in r.json()["parties"]} == {"P4"}
    assert _lookup(api, {"policy_no": "p1"}).status_code == 404  # not the outlet's
    assert _lookup(api, {"name": "王小雨"}).status_code == 422  # a name needs its birth date
    purposes = set(AuditEntry.objects.filter(action="api").values_list("purpose", flat=True))
    assert {
        "search by mobile; page 1",
        "search by name+birth_date; page 1",
        "search by policy_no; page 1",
    } <= purposes


def test_api_customer_list_is_scoped_paged_and_audited(book):
    api = _api(make_user("bank", Role.PARTNER_STAFF, partner_code="BK1"))
    r = api.get("/api/v1/customers", {"page": 1, "per_page": 1})
    body = r.json()
    assert r.status_code == 200 and body["count"] == 2 and body["pages"] == 2
    assert [p["policy_no"] for p in body["policies"]] == ["P2"]
    assert {x["name"] for x in body["policies"][0]["parties"]} == {"张*伟", "王*雨"}
    assert AuditEntry.objects.filter(action="api", purpose="list; page 1").exists()
