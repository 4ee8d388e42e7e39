"""Compliance pages: the day's screenings (rates by channel, partner and agent; the agents referred
most) and one screening's findings. Scoped like every page; values masked; the drill-down logs the
read in the audit log first and shows nothing when it cannot (503)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from custos.access import readlog
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.screening import pages


def _ctx(request) -> AccessContext:
    ctx = AccessContext.for_request(request)
    if not pages.may_view(ctx):
        raise PermissionDenied
    return ctx


@login_required
def dashboard(request):
    ctx = _ctx(request)
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    start, end = pages.day_range(day)
    qs = pages.scoped(ctx).filter(created_at__gte=start, created_at__lt=end)
    data = pages.summary(qs)
    latest = list(
        qs.select_related("client").only(
            "id", "created_at", "application_id", "policy_no", "channel", "branch_code", "agent_no",
            "partner_code", "verdict", "codes", "client__name",
        )[:100]
    )  # fmt: skip
    return render(
        request,
        "screening/dashboard.html",
        {
            "day": day,
            "prev": day - dt.timedelta(days=1),
            "next": day + dt.timedelta(days=1),
            "latest": latest,
            **data,
        },
    )


@login_required
def detail(request, pk: int):
    ctx = _ctx(request)
    s = pages.scoped(ctx).select_related("client").filter(pk=pk).first()
    if s is None:
        raise Http404
    try:
        readlog.append(
            user=ctx.user,
            staff_no=ctx.staff_no,
            action="screening",
            model="screening",
            record_ids=[s.pk],
            fields=["findings"],
            client=ctx.client,
        )
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    return render(request, "screening/detail.html", {"s": s, "findings": pages.findings_of(s)})
