"""Searching the audit log (the audit search page): by user, staff number, action, outcome, time range,
record id. Record ids are stored as canonical JSON ("[1,2,3]"), matched by their delimiters."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from custos.audit.models import AuditEntry


def _us(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def record_q(record_id: str) -> Q:
    r = str(record_id)
    return (
        Q(record_ids=f"[{r}]")
        | Q(record_ids__startswith=f"[{r},")
        | Q(record_ids__endswith=f",{r}]")
        | Q(record_ids__contains=f",{r},")
    )


def search(criteria: dict) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.order_by("-seq")
    if criteria.get("username"):
        qs = qs.filter(username=criteria["username"])
    if criteria.get("staff_no"):
        qs = qs.filter(staff_no=criteria["staff_no"])
    if criteria.get("action"):
        qs = qs.filter(action=criteria["action"])
    if criteria.get("outcome"):
        qs = qs.filter(outcome=criteria["outcome"])
    if criteria.get("model"):
        qs = qs.filter(model=criteria["model"])
    if criteria.get("since"):
        qs = qs.filter(at_us__gte=_us(criteria["since"]))
    if criteria.get("until"):
        qs = qs.filter(at_us__lt=_us(criteria["until"]))
    if criteria.get("record"):
        qs = qs.filter(record_q(criteria["record"]))
    return qs


def describe(criteria: dict) -> str:
    """The criteria as one line, for the audit entry of the search itself."""
    parts = []
    for key in sorted(criteria):
        value = criteria[key]
        if isinstance(value, dt.datetime):
            value = value.isoformat(timespec="minutes")
        parts.append(f"{key}={value}")
    return "search " + " ".join(parts)
