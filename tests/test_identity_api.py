"""/api/v1/persons: the same scope and masking as the pages (tests/identity_world.py)."""

from __future__ import annotations

import pytest

from custos.access.models import Role
from custos.api.models import ApiToken
from tests.conftest import build_small_book, make_user
from tests.identity_world import PROPOSED_EMAIL, build_persons

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, custos_home):
    build_small_book()
    build_persons()
    tokens = {
        name: ApiToken.issue(make_user(name, role, **scope), "t")[1]
        for name, role, scope in [
            ("cs", Role.CUSTOMER_SERVICE, {"branch_code": "GZ"}),  # P1, P4
            ("a2", Role.AGENT, {"staff_no": "A2"}),  # P2, P3
            ("fi", Role.FINANCE, {}),
        ]
    }

    def get(who, path):
        return client.get("/api/v1/persons" + path, HTTP_AUTHORIZATION=f"Bearer {tokens[who]}")

    return get


def test_persons_and_their_parties_in_scope_masked(api):
    resp = api("cs", "")
    assert resp.status_code == 200
    ids = [p["person_id"] for p in resp.json()["persons"]]
    assert ids == ["P00000001", "P00000003", "P00000004"]
    assert resp.json()["persons"][0]["name"] == "张*伟" and resp.json()["persons"][0]["conflicts"] == 1
    assert api("cs", "?q=P00000003").json()["count"] == 1
    one = api("cs", "/P00000001").json()
    assert one == {
        "person_id": "P00000001",
        "channels": ["agency", "bancassurance"],
        "parties": 2,
        "conflicts": 1,
    }
    parties = api("cs", "/P00000001/parties").json()
    assert [(p["policy_no"], p["channel"]) for p in parties] == [("P1", "agency"), ("P4", "bancassurance")]
    assert {p["id_no"] for p in parties} == {"440106**********34"} or all("*" in p["id_no"] for p in parties)
    assert parties[1]["conflicts"] == {"email": ["XC02"]}
    conflicts = api("cs", "/P00000001/conflicts").json()
    assert [(c["check_code"], c["field"]) for c in conflicts] == [("XC02", "email")]
    assert conflicts[0]["proposed"] != PROPOSED_EMAIL and "*" in conflicts[0]["proposed"]
    body = api("cs", "/P00000001/parties").content.decode()
    assert "13812345678" not in body and "440106198005061234" not in body


def test_out_of_scope_is_404_and_other_roles_403(api):
    for path in ("/P00000002", "/P00000002/parties", "/P00000002/conflicts", "/P99999999", "/P4"):
        assert api("cs", path).status_code == 404, path
    assert [p["policy_no"] for p in api("a2", "/P00000001/parties").json()] == ["P2"]  # only its part
    assert api("a2", "/P00000001/conflicts").json() == []  # P4's XC02 is not in its scope
    assert "P3" not in api("cs", "/P00000003/parties").content.decode()
    for path in ("", "/P00000001", "/P00000001/parties", "/P00000001/conflicts"):
        assert api("fi", path).status_code == 403, path
