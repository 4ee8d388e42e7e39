"""Compliance pages: the day's screenings (rates by channel, partner and agent; the agents referred
most) and one screening's findings. Scoped like every page; values masked; the drill-down logs the
read in the audit log first and shows nothing when it cannot (503)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext

from custos.access import readlog
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.screening import pages


def _ctx(request) -> AccessContext:
    ctx = AccessContext.for_request(request)
    if not pages.may_view(ctx):
        raise PermissionDenied
    return ctx


FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)  # the day before and after exist


def _day(text: str) -> dt.date | None:
    """The ``day`` parameter as a date in the range the page can show, or None."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


@login_required
def dashboard(request):
    ctx = _ctx(request)
    status, day = 200, timezone.localdate()
    if request.GET.get("day"):
        asked = _day(request.GET["day"])
        if asked is None:  # the page of today, with why the day asked for is not shown
            status = 400
            messages.error(
                request,
                gettext("参数 day 应为 %(first)s 至 %(last)s 之间的日期（YYYY-MM-DD），已显示今天。")
                % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
            )
        else:
            day = asked
    start, end = pages.day_range(day)
    qs = pages.scoped(ctx).filter(created_at__gte=start, created_at__lt=end)
    data = pages.summary(qs)
    latest = list(
        qs.select_related("client").only(
            "id",
            "created_at",
            "application_id",
            "policy_no",
            "channel",
            "branch_code",
            "agent_no",
            "partner_code",
            "verdict",
            "codes",
            "client__name",
        )[:100]
    )
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
        status=status,
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
