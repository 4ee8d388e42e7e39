"""A person's word on the links: reversing a merge or split, deciding a pair of the review queue.

Both record a ``LinkDecision`` that every later run keeps to (``clusters.cluster``), and go through
``custos.audit.record.record`` inside the transaction that makes the change.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from custos.audit.record import record
from custos.identity.models import LinkDecision, LinkEvent, Person, PersonRecord, ReviewPair


class ReviewError(Exception):
    """The decision cannot be made; str() is a one-line reason."""


def _records_of(person: Person) -> list[list]:
    return [
        list(k) for k in PersonRecord.objects.filter(person=person).values_list("policy_no", "role", "seq")
    ]


def reverse_event(event: LinkEvent, user=None, note: str = "") -> LinkDecision:
    """Move the event's records back to the person they came from and keep them apart (a reversed
    merge) or together (a reversed split) in every later run."""
    with transaction.atomic():
        event = LinkEvent.objects.select_for_update().get(pk=event.pk)
        if event.reversed_at is not None:
            raise ReviewError(f"link event #{event.pk} was already reversed")
        keys = [tuple(k) for k in event.records]
        source, target = event.from_person, event.to_person
        moved = 0
        for p, r, s in keys:
            moved += PersonRecord.objects.filter(policy_no=p, role=r, seq=s, person=target).update(
                person=source
            )
        if moved == 0:
            raise ReviewError(
                f"the records of link event #{event.pk} have moved on since; nothing to reverse"
            )
        if source.status != Person.Status.ACTIVE:
            Person.objects.filter(pk=source.pk).update(status=Person.Status.ACTIVE, merged_into=None)
        if not PersonRecord.objects.filter(person=target).exists():
            Person.objects.filter(pk=target.pk).update(status=Person.Status.MERGED, merged_into=source)
        if event.kind == LinkEvent.Kind.MERGE:
            kind, other = LinkDecision.Kind.DISTINCT, _records_of(target)
        else:
            kind, other = (
                LinkDecision.Kind.SAME,
                [k for k in _records_of(source) if tuple(k) not in set(keys)],
            )
        decision = LinkDecision.objects.create(
            kind=kind,
            left=[list(k) for k in keys],
            right=other,
            event=event,
            note=note[:500],
            decided_by=user if getattr(user, "pk", None) else None,
        )
        event.reversed_by = user if getattr(user, "pk", None) else None
        event.reversed_at = timezone.now()
        event.reversal_note = note[:500]
        event.save(update_fields=["reversed_by", "reversed_at", "reversal_note"])
        record(
            user if getattr(user, "pk", None) else None,
            "identity.event_reversed",
            event,
            {"kind": event.kind, "records": len(keys)},
            {"from_person": source.pid, "to_person": target.pid, "decision": decision.kind},
            note,
        )
    return decision


def decide_pair(pair: ReviewPair, same: bool, user=None, note: str = "") -> LinkDecision:
    """A clerical decision on a pair of the review queue; the next run applies it."""
    with transaction.atomic():
        pair = ReviewPair.objects.select_for_update().get(pk=pair.pk)
        if pair.status != ReviewPair.Status.OPEN:
            raise ReviewError(f"review pair #{pair.pk} is {pair.status}, not open")
        kind = LinkDecision.Kind.SAME if same else LinkDecision.Kind.DISTINCT
        decision = LinkDecision.objects.create(
            kind=kind,
            left=[list(pair.left)],
            right=[list(pair.right)],
            note=note[:500],
            decided_by=user if getattr(user, "pk", None) else None,
        )
        pair.status = ReviewPair.Status.SAME if same else ReviewPair.Status.DISTINCT
        pair.decision = decision
        pair.save(update_fields=["status", "decision"])
        record(
            user if getattr(user, "pk", None) else None,
            "identity.pair_decided",
            pair,
            {"status": "open"},
            {"status": pair.status},
            note,
        )
    return decision
