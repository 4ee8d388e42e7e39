"""Reading for pages and the API: scoped, masked, logged."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone

from custos.domain import masking
from custos.remediation.models import (
    Task,
)
from custos.remediation.services.states import (
    S,
    scoped_tasks,
)

# --- reading (pages, API): scoped, masked, logged -------------------------------------------------


def progress(ctx, *, days: int = 30, today: dt.date | None = None) -> dict:
    """Open / closed / overdue tasks by channel and by branch, and a burn-down of open tasks per day."""
    today = today or timezone.localdate()
    qs = scoped_tasks(ctx)
    counts = {
        "open": Count("id", filter=~Q(status=S.CLOSED)),
        "closed": Count("id", filter=Q(status=S.CLOSED)),
        "overdue": Count("id", filter=~Q(status=S.CLOSED) & Q(due_on__lt=today)),
    }
    by_channel = list(qs.values("channel").annotate(**counts).order_by("channel"))
    by_branch = list(qs.values("branch_code").annotate(**counts).order_by("branch_code"))
    total = qs.aggregate(**counts)
    burn = []
    tz = timezone.get_current_timezone()
    for i in range(days, -1, -1):
        day = today - dt.timedelta(days=i)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        n = qs.filter(created_at__lt=end).filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end)).count()
        burn.append({"day": day.isoformat(), "open": n})
    return {"total": total, "by_channel": by_channel, "by_branch": by_branch, "burndown": burn}


def read_corrections(ctx, task: Task) -> list[dict]:
    """The task's corrections with old and new values masked; the read is logged first."""
    from custos.access import readlog

    rows = list(task.corrections.select_related("proposed_by", "reviewed_by", "verified_by").order_by("id"))
    readlog.append(user=ctx.user, staff_no=ctx.staff_no, action="task_view", model="correction",
                   record_ids=[c.pk for c in rows], fields=["old_value", "new_value"], client=ctx.client,
                   outcome="ok" if rows else "empty")  # fmt: skip
    out = []
    for c in rows:
        out.append({
            "id": c.pk, "field": c.field, "status": c.status, "status_label": c.get_status_display(),
            "old_value": _mask(c.field, c.old_value), "new_value": _mask(c.field, c.new_value),
            "request_no": c.request_no, "forced": c.forced, "evidence_id": c.evidence_id,
            "proposed_by": c.proposed_by.username, "proposed_at": c.proposed_at,
            "reviewed_by": c.reviewed_by.username if c.reviewed_by else "", "review_note": c.review_note,
            "verified_by": c.verified_by.username if c.verified_by else "", "exported_at": c.exported_at,
            "ack_status": c.ack_status,
        })  # fmt: skip
    return out


def _mask(field_name: str, value: str) -> str:
    if not value:
        return ""
    if field_name in masking.FIELD_MASKS:
        return str(masking.mask_field(field_name, value))
    return value
