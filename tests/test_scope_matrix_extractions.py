"""The scope matrix for extractions: every extraction page and API operation × every role × a real
extraction in the caller's scope and a real one outside it (the matrix of tests/test_access_matrix.py
leaves the extraction routes to this file).

An extraction is in a user's scope when custos.extraction.services.visible_to lets them see it: their
own request (or one they receive), any request waiting for a decision for the executive role, every
extraction for compliance and auditors. Outside it is a 404 — the same as an id that does not exist —
with nothing of the record in the answer. Creating an extraction is scoped by its rows: a request over
branch BJ (outside every role's scope here) is refused, a request over the caller's own scope is taken.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from custos.access.models import Role
from custos.extraction import services as svc
from custos.extraction.models import Extraction
from tests import test_access_matrix as matrix
from tests.conftest import make_user
from tests.test_access_matrix import COMPANY_ROLES, ROLES, api_operations, assert_no_details, url_patterns

pytestmark = pytest.mark.django_db
world = matrix.world  # the small book, a user and an API token per role

OTHER_PURPOSE = "ZZ-OTHER-PURPOSE"  # the out-of-scope extraction's purpose: must never show
NOWHERE = 987654

# page route → (method, expected in-scope answers); record routes take the extraction id
PAGES = {
    "extractions/": ("GET", None),
    "extractions/new/": ("GET", None),
    "extractions/approvals/": ("GET", None),
    "extractions/all/": ("GET", None),
    "extractions/trace/": ("GET", None),
    "extractions/<int:pk>/": ("GET", (200,)),
    "extractions/<int:pk>/download/": ("POST", (302,)),  # not generated: refused with a message
    "extractions/<int:pk>/<str:action>/": ("POST", (302,)),  # approve own: refused with a message
}
# a leak trace's pages: the tracing roles see every trace (the id of one that does not exist is a 404),
# every other role gets 403 whatever the id
TRACE_PAGES = {"extractions/trace/<int:pk>/", "extractions/trace/<int:pk>/status/"}
ROLE_PAGES = {  # who may open the list pages at all
    "extractions/": set(ROLES),
    "extractions/new/": set(svc.REQUEST_ROLES),
    "extractions/approvals/": set(svc.APPROVER_ROLES),
    "extractions/all/": set(svc.OVERSIGHT_ROLES),
    "extractions/trace/": set(svc.TRACE_ROLES),
}
API = {
    ("get", "/api/v1/extractions"),
    ("post", "/api/v1/extractions"),
    ("get", "/api/v1/extractions/{extraction_id}"),
    ("post", "/api/v1/extractions/{extraction_id}/approve"),
    ("post", "/api/v1/extractions/{extraction_id}/reject"),
    ("post", "/api/v1/extractions/{extraction_id}/cancel"),
}


def test_every_extraction_route_is_in_this_matrix():
    pages = {r for r in url_patterns() if r.startswith("extractions/")}
    assert pages == set(PAGES) | TRACE_PAGES, f"classify in {__file__}: {pages ^ (set(PAGES) | TRACE_PAGES)}"
    ops = {op for op in api_operations() if op[1].startswith("/api/v1/extractions")}
    assert ops == API, f"classify in {__file__}: {ops ^ API}"


def _extraction(requester, **kw) -> Extraction:
    return Extraction.objects.create(
        requester=requester,
        purpose=kw.pop("purpose", "matrix check"),
        scope={"branch": "GZ"},
        fields=["name", "gender"],
        recipient_name="x",
        recipient_org="y",
        nonce="0" * 32,
        **kw,
    )


@pytest.fixture
def extractions(world):
    from custos.book.models import Partner

    # the bank outlet has a valid agreement, so that partner staff may request
    Partner.objects.filter(partner_code="BK1").update(contract_until=dt.date.today() + dt.timedelta(days=365))
    outsider = make_user("x-requester", Role.CUSTOMER_SERVICE, branch_code="BJ")
    approver = make_user("x-exec", Role.EXECUTIVE)
    other = _extraction(
        outsider,
        purpose=OTHER_PURPOSE,
        state=Extraction.State.APPROVED,
        approver=approver,
        recipient_user=outsider,
    )
    own = {r: _extraction(world["users"][r]) for r in ROLES if r in svc.REQUEST_ROLES}
    return {"other": other, "own": own}


def in_and_out(world, extractions, role) -> tuple[int, int]:
    """(an extraction in the role's scope, one outside it). Oversight roles see every extraction:
    outside their scope is only an id that does not exist."""
    inside = extractions["own"].get(role) or extractions["other"]
    outside = NOWHERE if role in svc.OVERSIGHT_ROLES else extractions["other"].pk
    return inside.pk, outside


def page_path(route: str, pk) -> str:
    return "/" + route.replace("<int:pk>", str(pk)).replace("<str:action>", "approve")


# a member of the association reaches no extraction route: tests/test_access_matrix.py checks that
@pytest.mark.parametrize("role", COMPANY_ROLES)
def test_extraction_pages(client, world, extractions, role):
    client.force_login(world["users"][role])
    inside, outside = in_and_out(world, extractions, role)
    for route, (method, ok) in PAGES.items():
        ctx = f"{role} {method} {route}"
        call = client.post if method == "POST" else client.get
        if ok is None:  # a list or form page: allowed or 403, never the other's record
            resp = call(page_path(route, 0))
            expected = (200,) if role in ROLE_PAGES[route] else (403,)
            assert resp.status_code in expected, f"{ctx}: {resp.status_code}"
            if role not in svc.OVERSIGHT_ROLES:
                assert OTHER_PURPOSE not in resp.content.decode(), f"{ctx} lists an extraction out of scope"
            continue
        resp_in = call(page_path(route, inside))
        assert resp_in.status_code in ok, f"{ctx} in scope: {resp_in.status_code}"
        resp_out = call(page_path(route, outside))
        assert resp_out.status_code == 404, f"{ctx} out of scope: {resp_out.status_code}"
        assert OTHER_PURPOSE not in resp_out.content.decode()
        assert_no_details(resp_out, ctx)
    assert Extraction.objects.get(pk=extractions["other"].pk).state == Extraction.State.APPROVED


@pytest.mark.parametrize("role", COMPANY_ROLES)
def test_extraction_api(client, world, extractions, role):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world['tokens'][role]}"}
    inside, outside = in_and_out(world, extractions, role)

    def post(path, body):
        return client.post(path, json.dumps(body), content_type="application/json", **auth)

    listed = {e["id"] for e in client.get("/api/v1/extractions", **auth).json()}
    assert inside in listed
    if role not in svc.OVERSIGHT_ROLES:
        assert extractions["other"].pk not in listed, f"{role} lists an extraction out of scope"

    request = {
        "purpose": "matrix request",
        "fields": ["name", "gender"],
        "recipient_name": "r",
        "recipient_org": "o",
        "file_format": "csv",
    }
    resp = post("/api/v1/extractions", {**request, "scope": {"branch": "BJ"}})  # rows outside the scope
    if role in svc.REQUEST_ROLES:
        assert resp.status_code == 400 and "没有符合条件" in resp.json()["detail"], f"{role}: {resp.content}"
    else:
        assert resp.status_code == 403, f"{role}: {resp.status_code}"
    assert_no_details(resp, f"{role} POST extraction over BJ")
    resp = post("/api/v1/extractions", request)  # the caller's own scope
    assert resp.status_code == (201 if role in svc.REQUEST_ROLES else 403), f"{role}: {resp.content}"

    resp = client.get(f"/api/v1/extractions/{inside}", **auth)
    assert resp.status_code == 200 and resp.json()["id"] == inside
    resp = client.get(f"/api/v1/extractions/{outside}", **auth)
    assert resp.status_code == 404 and OTHER_PURPOSE not in resp.content.decode()
    for action in ("approve", "reject", "cancel"):
        resp = post(f"/api/v1/extractions/{inside}/{action}", {"note": "matrix"})
        assert resp.status_code in (200, 403, 409), f"{role} {action} in scope: {resp.status_code}"
        resp = post(f"/api/v1/extractions/{outside}/{action}", {"note": "matrix"})
        assert resp.status_code == 404, f"{role} {action} out of scope: {resp.status_code}"
        assert_no_details(resp, f"{role} {action} out of scope")
    assert Extraction.objects.get(pk=extractions["other"].pk).state == Extraction.State.APPROVED


@pytest.mark.parametrize("role", ROLES)
def test_leak_trace_pages(client, world, role):
    from custos.extraction.models import LeakTrace

    trace = LeakTrace.objects.create(source_name="ZZ-LEAK.csv", sha256="0" * 64, status="done")
    client.force_login(world["users"][role])
    for route in TRACE_PAGES:
        inside, outside = page_path(route, trace.pk), page_path(route, NOWHERE)
        if role in svc.TRACE_ROLES:
            assert client.get(inside).status_code == 200, f"{role} {route}"
            assert client.get(outside).status_code == 404, f"{role} {route}"
        else:
            for path in (inside, outside):
                resp = client.get(path)
                assert resp.status_code == 403, f"{role} {path}: {resp.status_code}"
                assert "ZZ-LEAK" not in resp.content.decode()
