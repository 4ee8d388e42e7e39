"""Identity pages: persons seen only through the parties in scope, masked, with their conflicts, the
evidence of their links and the review queue (tests/identity_world.py builds the persons)."""

from __future__ import annotations

import pytest

from custos.access.models import Role
from tests.conftest import build_small_book, make_user
from tests.identity_world import PROPOSED_EMAIL, build_persons

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(custos_home):
    build_small_book()
    w = build_persons()
    w["cs"] = make_user("cs", Role.CUSTOMER_SERVICE, branch_code="GZ")  # P1 and P4, not P2 (SZ) or P3 (BJ)
    w["finance"] = make_user("fi", Role.FINANCE)
    w["agent2"] = make_user("a2", Role.AGENT, staff_no="A2")  # P2 and P3
    return w


def test_person_page_shows_the_parties_in_scope_masked_with_conflicts_and_why(client, world):
    client.force_login(world["cs"])
    resp = client.get("/persons/P00000001/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "P1" in body and "P4" in body and ">P2<" not in body and "P2 ·" not in body  # SZ: out of scope
    assert "XC02" in body and PROPOSED_EMAIL not in body and "f***@example.org" in body
    assert "440106198005061234" not in body and "13812345678" not in body and "张*伟" in body
    assert 'id="why"' in body and "完全一致" in body  # the pair P1–P4 scored with the run's model
    assert "/parties/" in body and "/unmask/" in body  # clear values only through the unmask page
    why = resp.context["why"]["pairs"]
    assert [(p["l"][0], p["r"][0]) for p in why] == [("P1", "P4")]
    assert {c["name"]: c["level"] for c in why[0]["comparisons"]}["id_no"] == "exact"
    # the merge's evidence: only the pair whose both records are in scope (P4–P1, not P4–P3)
    assert [len(e["pairs"]) for e in resp.context["events"]] == [1]


def test_a_person_only_through_scope(client, world):
    client.force_login(world["cs"])
    assert client.get("/persons/P00000002/").status_code == 404  # P3 only: outside
    assert client.get("/persons/P99999999/").status_code == 404
    assert client.get("/persons/nonsense/").status_code == 404
    body = client.get("/persons/P00000003/").content.decode()  # P4's insured, also on P3
    assert "P4" in body and "P3" not in body
    listed = client.get("/persons/").content.decode()
    assert "P00000001" in listed and "P00000003" in listed and "P00000002" not in listed
    assert client.get("/persons/?q=P4").context["listing"].page.paginator.count == 2
    client.force_login(world["agent2"])
    assert client.get("/persons/P00000002/").status_code == 200
    body = client.get("/persons/P00000001/").content.decode()  # only P2's part
    assert "P2" in body and "P4" not in body and "XC02" not in body
    client.force_login(world["finance"])
    assert client.get("/persons/").status_code == 403
    assert client.get("/persons/P00000001/").status_code == 403


def test_review_queue_decides_a_pair_with_a_note_audited(client, world):
    from custos.audit.models import ChangeEvent
    from custos.identity.models import LinkDecision, ReviewPair

    client.force_login(world["cs"])
    resp = client.get("/persons/review/")
    assert resp.status_code == 200 and f"pair-{world['pair'].pk}" in resp.content.decode()
    assert "440106198005061234" not in resp.content.decode()
    assert client.post(f"/persons/review/{world['pair'].pk}/", {"decision": "maybe"}).status_code == 302
    assert ReviewPair.objects.get().status == "open"  # no decision: refused
    resp = client.post(f"/persons/review/{world['pair'].pk}/", {"decision": "distinct", "note": "不同人"})
    assert resp.status_code == 302
    assert ReviewPair.objects.get().status == "distinct"
    assert LinkDecision.objects.get().kind == "distinct"
    assert ChangeEvent.objects.filter(action="identity.pair_decided").count() == 1
    client.force_login(world["agent2"])  # may not review; and the pair is not in its scope
    assert client.get("/persons/review/").status_code == 403
    assert (
        client.post(f"/persons/review/{world['pair'].pk}/", {"decision": "same", "note": "x"}).status_code
        == 403
    )


def test_merged_person_id_leads_to_the_person(client, world):
    from custos.identity.models import Person

    Person.objects.filter(number=2).update(status="merged", merged_into=world[1])
    client.force_login(world["agent2"])
    resp = client.get("/persons/P00000002/")
    assert resp.status_code == 302 and resp["Location"].endswith("/persons/P00000001/")


def test_remediation_task_offers_the_xc02_fill_by_reference(client, world):
    """Item 3: the task page shows the proposed value masked, and 'use it' posts the finding's id,
    never the value; the server reads the value and proposes the correction."""
    from custos.checks.models import CheckRun
    from custos.remediation import services as rsvc
    from custos.remediation.models import Correction, Task

    rsvc.sync_tasks(CheckRun.objects.get())
    task = Task.objects.get(policy_no="P4", role="applicant")
    client.force_login(world["cs"])
    body = client.get(f"/remediation/tasks/{task.pk}/").content.decode()
    assert "f***@example.org" in body and PROPOSED_EMAIL not in body
    assert f'name="proposed_from" value="{world["finding"].pk}"' in body
    resp = client.post(
        f"/remediation/tasks/{task.pk}/corrections/",
        {"proposed_from": world["finding"].pk, "version": task.version, "request_no": "R-1"},
    )
    assert resp.status_code == 302
    c = Correction.objects.get()
    assert (c.field, c.new_value) == ("email", PROPOSED_EMAIL)
