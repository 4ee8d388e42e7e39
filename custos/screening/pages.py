"""What the compliance pages show: screenings of a day in the viewer's scope, rates by channel,
partner and agent, the agents referred most, one screening's findings (values masked)."""

from __future__ import annotations

import datetime as dt
import json

from django.db.models import Count, Q, QuerySet

from custos.access.capabilities import can
from custos.access.service import AccessContext
from custos.book.models import branch_subtree
from custos.domain import masking
from custos.screening.models import Screening


def may_view(ctx: AccessContext) -> bool:
    return can(ctx, "screening.view")


def scoped(ctx: AccessContext) -> QuerySet[Screening]:
    """Screenings of applications in the viewer's scope: the same dimensions as the access service
    (branch subtree, channel, partner, agent) applied to the application's own fields."""
    p = ctx.profile
    if p is None or not can(ctx, "screening.view"):
        return Screening.objects.none()
    qs = Screening.objects.all()
    if p.channel:
        qs = qs.filter(channel=p.channel)
    if p.partner_code:
        qs = qs.filter(partner_code=p.partner_code)
    if p.branch_code:
        qs = qs.filter(branch_code__in=branch_subtree(p.branch_code))
    return qs


def _rates(rows) -> list[dict]:
    out = []
    for r in rows:
        n = r["n"] or 0
        out.append(
            {
                **r,
                "refer_rate": round(100 * r["refer"] / n, 1) if n else None,
                "reject_rate": round(100 * r["reject"] / n, 1) if n else None,
            }
        )
    return out


def summary(qs: QuerySet[Screening]) -> dict:
    counts = Count("id")
    agg = {
        "n": counts,
        "refer": Count("id", filter=Q(verdict="refer")),
        "reject": Count("id", filter=Q(verdict="reject")),
        "passed": Count("id", filter=Q(verdict="pass")),
    }
    total = _rates([qs.aggregate(**agg)])[0]
    by = {}
    for dim in ("channel", "partner_code", "agent_no"):
        rows = qs.values(dim).annotate(**agg).order_by("-n", dim)[:50]
        by[dim] = _rates([{**r, "key": r[dim]} for r in rows])
    most = (
        qs.exclude(agent_no="")
        .values("agent_no")
        .annotate(**agg, flagged=Count("id", filter=~Q(verdict="pass")))
        .filter(flagged__gt=0)
        .order_by("-flagged", "agent_no")[:10]
    )
    return {"total": total, "by": by, "most_referred": _rates([{**r, "key": r["agent_no"]} for r in most])}


def day_range(day: dt.date):
    from django.utils import timezone

    start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return start, start + dt.timedelta(days=1)


def findings_of(s: Screening) -> list[dict]:
    """The screening's findings with the value masked (as every page shows personal data)."""
    from custos.checks.catalogue import BY_CODE
    from custos.screening.gates import GATES

    out = []
    for f in json.loads(s.findings or "[]"):
        c = BY_CODE.get(f["check"]) or GATES.get(f["check"])
        fld = f["field"]
        masked = fld in masking.FIELD_MASKS
        out.append(
            {
                **f,
                "value": masking.mask_field(fld, f.get("value")) if masked else f.get("value"),
                "proposed": masking.mask_field(fld, f.get("proposed")) if masked else f.get("proposed"),
                "message_zh": c.message_zh if c else "",
                "message_en": c.message_en if c else "",
                "severity": c.severity if c else "",
            }
        )
    return out
