"""Persons that last: clusters with decisions, overlap mapping, merges and splits recorded and
reversed (the service and the next run keep to the reversal), the review queue."""

from __future__ import annotations

import pytest

from custos.identity.engine.model import Params
from custos.identity.models import LinkDecision, LinkEvent, LinkRun, Person, PersonRecord, ReviewPair
from custos.identity.services import clusters as cl

KEYS = {
    1: ("P1", "applicant", 1),
    2: ("P2", "applicant", 1),
    3: ("P3", "insured", 1),
    4: ("P4", "applicant", 1),
}


def test_cluster_keeps_decisions():
    edges = [(1, 2, 20.0), (2, 3, 15.0), (3, 4, 5.0)]
    assert set(cl.cluster(KEYS, edges).values()) == {1}
    # 1 and 4 are different people: the weakest link that would join them is refused
    got = cl.cluster(KEYS, edges, distinct=[([1], [4])])
    assert got[1] == got[2] == got[3] != got[4]
    # same: joined without any edge
    got = cl.cluster(KEYS, [], same=[([1], [4])])
    assert got[1] == got[4] != got[2]


def test_assign_by_overlap():
    clusters = {1: 1, 2: 1, 3: 3, 4: 3}
    current = {1: 7, 2: 7, 3: 7, 4: 9}
    # person 7 has 2 records in cluster 1 and 1 in cluster 3; person 9 has 1 in cluster 3
    assert cl.assign(clusters, current) == {1: 7, 3: 9}
    assert cl.assign({1: 1, 2: 1}, {}) == {1: None}
    assert cl.moves({1: 7, 2: 7, 3: 9, 4: 9}, current) == {(7, 9): [3]}


def _run(load):
    return LinkRun.objects.create(load=load)


def _scored(edges, review=()):
    neighbours = {}
    for a, b, w in [*edges, *[(a, b, w) for a, b, w, _p, _l in review]]:
        neighbours.setdefault(a, []).append((b, w, 0.999))
        neighbours.setdefault(b, []).append((a, w, 0.999))
    return {"keys": KEYS, "edges": edges, "review": list(review), "neighbours": neighbours}


def _persons():
    return {
        tuple(k): p
        for *k, p in PersonRecord.objects.values_list("policy_no", "role", "seq", "person__number")
    }


@pytest.fixture
def load(db):
    from custos.book.models import BookLoad

    return BookLoad.objects.create(source_name="t", sha256="0" * 64, status="done")


@pytest.mark.django_db
def test_merge_recorded_and_reversed(load):
    from custos.identity.services.link import persist
    from custos.identity.services.review import ReviewError, reverse_event

    params = Params()
    persist(_run(load), _scored([(1, 2, 20.0), (3, 4, 18.0)]), params)
    first = _persons()
    assert len(set(first.values())) == 2 and first[KEYS[1]] == first[KEYS[2]] != first[KEYS[3]]

    # new evidence joins the two persons: a merge, with its evidence; the older person's id stays
    run2 = _run(load)
    counts = persist(run2, _scored([(1, 2, 20.0), (3, 4, 18.0), (2, 3, 12.5)]), params)
    assert counts["merges"] == 1 and counts["persons_created"] == 0
    merged = _persons()
    assert len(set(merged.values())) == 1 and merged[KEYS[1]] == first[KEYS[1]]
    event = LinkEvent.objects.get(run=run2)
    assert event.kind == "merge" and sorted(map(tuple, event.records)) == sorted([KEYS[3], KEYS[4]])
    assert event.evidence["max_weight"] == 12.5
    assert event.evidence["pairs"][0]["l"] == list(KEYS[3]) and event.evidence["pairs"][0]["r"] == list(
        KEYS[2]
    )
    gone = Person.objects.get(number=first[KEYS[3]])
    assert gone.status == "merged" and gone.merged_into.number == first[KEYS[1]]

    # a person reverses it: the records go back to their person, and the next run keeps them apart
    decision = reverse_event(event, note="两位不同客户")
    assert decision.kind == LinkDecision.Kind.DISTINCT
    assert _persons() == first
    assert Person.objects.get(number=first[KEYS[3]]).status == "active"
    with pytest.raises(ReviewError):
        reverse_event(event)
    counts = persist(_run(load), _scored([(1, 2, 20.0), (3, 4, 18.0), (2, 3, 12.5)]), params)
    assert counts["merges"] == 0 and _persons() == first

    from custos.audit.models import ChangeEvent

    assert ChangeEvent.objects.filter(action="identity.event_reversed").count() == 1


@pytest.mark.django_db
def test_split_recorded_and_reversed(load):
    from custos.identity.services.link import persist
    from custos.identity.services.review import reverse_event

    params = Params()
    persist(_run(load), _scored([(1, 2, 20.0), (2, 3, 14.0)]), params)
    first = _persons()
    run2 = _run(load)
    counts = persist(run2, _scored([(1, 2, 20.0)]), params)  # 3 no longer links
    assert counts["splits"] == 1 and counts["persons_created"] == 1
    after = _persons()
    assert after[KEYS[1]] == first[KEYS[1]] and after[KEYS[3]] != first[KEYS[3]]
    event = LinkEvent.objects.get(run=run2, kind="split")
    assert [tuple(k) for k in event.records] == [KEYS[3]]
    reverse_event(event)
    assert _persons()[KEYS[3]] == first[KEYS[3]]
    persist(_run(load), _scored([(1, 2, 20.0)]), params)  # the next run keeps them together
    assert _persons()[KEYS[3]] == first[KEYS[3]]


@pytest.mark.django_db
def test_review_queue_and_decision(load):
    from custos.identity.services.link import persist
    from custos.identity.services.review import decide_pair

    params = Params()
    persist(_run(load), _scored([(1, 2, 20.0)], review=[(2, 3, 4.0, 0.9, {"name": "same pinyin"})]), params)
    pair = ReviewPair.objects.get(status="open")
    assert (pair.left, pair.right) == (KEYS[2], KEYS[3]) and pair.levels == {"name": "same pinyin"}
    decide_pair(pair, same=True, note="同音字")
    persist(_run(load), _scored([(1, 2, 20.0)], review=[(2, 3, 4.0, 0.9, {})]), params)
    p = _persons()
    assert p[KEYS[3]] == p[KEYS[2]]
    assert not ReviewPair.objects.filter(status="open").exists()  # they are one person now


@pytest.mark.django_db
def test_commands_fail_with_a_reason(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no book has been loaded"):
        call_command("link", "--no-check")
    with pytest.raises(CommandError, match="cannot write"):
        call_command("persons", "export", str(tmp_path / "missing" / "out.csv"))
    call_command("persons", "export", str(tmp_path / "empty.csv"))
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8").splitlines() == [
        "policy_no,role,seq,person_id"
    ]


@pytest.mark.django_db
def test_the_reverse_command_undoes_a_merge_as_a_reviewer(load):
    from django.core.management import CommandError, call_command

    from custos.access.models import Role
    from custos.audit.models import ChangeEvent
    from custos.identity.services.link import persist
    from tests.conftest import make_user

    params = Params()
    persist(_run(load), _scored([(1, 2, 20.0), (3, 4, 18.0)]), params)
    first = _persons()
    persist(run2 := _run(load), _scored([(1, 2, 20.0), (3, 4, 18.0), (2, 3, 12.5)]), params)
    event = LinkEvent.objects.get(run=run2)
    make_user("agent1", Role.AGENT, staff_no="A1")
    make_user("cs1", Role.CUSTOMER_SERVICE)
    with pytest.raises(CommandError, match="identity.review"):  # an agent may not
        call_command("persons", "reverse", str(event.pk), "--user", "agent1", "--note", "x")
    with pytest.raises(CommandError, match="no merge or split #987654"):
        call_command("persons", "reverse", "987654", "--user", "cs1", "--note", "x")
    with pytest.raises(CommandError, match="--note"):
        call_command("persons", "reverse", str(event.pk), "--user", "cs1", "--note", "  ")
    assert _persons() != first  # nothing changed by the refusals
    call_command("persons", "reverse", str(event.pk), "--user", "cs1", "--note", "两位不同客户")
    assert _persons() == first
    entry = ChangeEvent.objects.get(action="identity.event_reversed")
    assert entry.actor.username == "cs1"
    with pytest.raises(CommandError, match="already reversed"):
        call_command("persons", "reverse", str(event.pk), "--user", "cs1", "--note", "again")
