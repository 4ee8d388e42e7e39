"""The commission API: statements and items for finance, compliance and audit; an agent's or a
partner outlet's own statements and holds; decimal strings in yuan, never floats."""

import json

import pytest

from custos.api.models import ApiToken
from custos.commission import services
from tests.test_commission_ledger import book  # noqa: F401 - the fixture
from tests.test_commission_web import people  # noqa: F401 - the fixture
from tests.test_findings_support import open_finding

pytestmark = pytest.mark.django_db


def call(client, user, path):
    _, token = ApiToken.issue(user, "test")
    resp = client.get(f"/api/v1/commission{path}", HTTP_AUTHORIZATION=f"Bearer {token}")
    return resp.status_code, json.loads(resp.content)


def test_finance_lists_statements_and_reads_one_with_its_holds(client, book, people):  # noqa: F811
    f = open_finding(book, "P1", code="ID03", field="id_no", category="false")
    run = services.settle("2026-01", by="test")
    status, page = call(client, people["fin1"], "/statements?month=2026-01")
    assert status == 200 and page["count"] == 3
    a1 = next(s for s in page["items"] if s["payee"] == "A1")
    assert (a1["due"], a1["held"], a1["net"], a1["run_status"]) == ("100.10", "100.10", "0.00", "prepared")
    status, one = call(client, people["audit"], f"/statements/{a1['id']}")
    assert status == 200
    hold = next(e for e in one["entries"] if e["kind"] == "hold")
    assert (hold["item_no"], hold["amount"], hold["findings"]) == ("I1", "100.10", [f.pk])
    assert (hold["debit"], hold["credit"]) == ("payable", "held")
    status, items = call(client, people["fin1"], "/items?state=held")
    assert status == 200 and [i["item_no"] for i in items["items"]] == ["I1"]
    assert items["items"][0]["run_month"] == "2026-01" and items["items"][0]["run_seq"] == run.seq
    assert call(client, people["fin1"], "/statements?payee=BK1")[1]["items"][0]["net"] == "70.05"


def test_bad_filters_are_refused_with_the_field_named(client, book, people):  # noqa: F811
    for query, field in (("/statements?month=2026-13", "month"), ("/statements?status=paid", "status"),
                         ("/items?state=gone", "state"), ("/items?payee=%00", "payee")):  # fmt: skip
        status, body = call(client, people["fin1"], query)
        assert status == 400 and field in body["detail"], (query, body)
    assert call(client, people["fin1"], "/statements/99999999")[0] == 404
    assert call(client, people["fin1"], "/statements/0")[0] == 404


def test_payees_read_their_own_and_nothing_else(client, book, people):  # noqa: F811
    f = open_finding(book, "P1", code="ID03", field="id_no", category="false")
    services.settle("2026-01", by="test")
    status, mine = call(client, people["a1"], "/mine")
    assert status == 200 and (mine["payee_kind"], mine["payee"]) == ("agent", "A1")
    assert mine["held_total"] == "100.10" and mine["held"][0]["findings"] == [f.pk]
    assert [s["payee"] for s in mine["statements"]] == ["A1"]
    status, outlet = call(client, people["bk1"], "/mine")
    assert status == 200 and outlet["payee"] == "BK1" and outlet["held_total"] == "0.00"
    assert outlet["statements"][0]["net"] == "70.05"
    for path in ("/statements", "/items"):
        assert call(client, people["a1"], path)[0] == 403
    assert call(client, people["cs"], "/mine")[0] == 403
    assert call(client, people["cs"], "/statements")[0] == 403
