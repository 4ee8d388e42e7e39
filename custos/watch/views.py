"""The alert queue of unusual access and a staff member's day: signals, timeline against peers,
triage. Thin: parse, call a service, render. No customer data is shown (counts only)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from custos.access.capabilities import require
from custos.watch import alerts, timeline
from custos.watch.forms import QueueFilter, TriageForm
from custos.watch.models import AccessAlert
from custos.watch.sources import violation_url

PAGE_SIZE = 50

SIGNAL_LABELS = {
    "volume": _l("读取量"),
    "distinct_customers": _l("不同客户数"),
    "outside_portfolio": _l("本人业务范围外"),
    "outside_branch": _l("本机构外"),
    "off_hours": _l("非工作时间"),
    "partial_search": _l("部分证件号/手机号查询"),
    "export": _l("打印与导出"),
    "sequential": _l("顺序遍历保单号"),
    "burst": _l("短时间内集中读取"),
    "drift": _l("持续缓慢增加"),
    "canary": _l("读取诱饵记录"),
}


def signal_label(name: str) -> str:
    return str(SIGNAL_LABELS.get(name, name))


@login_required
def queue(request):
    require(request.user, "watch.alerts")
    form = QueueFilter(request.GET or None)
    show = form.cleaned_data.get("show") if form.is_valid() else "open"
    qs = AccessAlert.objects.order_by("-canary", "-day", "-score")
    if show and show != "all":
        qs = qs.filter(status=show)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"a": a, "signals": [(signal_label(s["name"]), s) for s in a.signals], "day": a.day.isoformat()}
        for a in page.object_list
    ]
    return render(
        request, "watch/queue.html", {"form": form, "page": page, "rows": rows, "show": show or "open"}
    )


@login_required
def staff_day(request, staff_no: str, day: str):
    require(request.user, "watch.alerts")
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404(_("日期格式不正确。")) from None
    alert = AccessAlert.objects.filter(staff_no=staff_no, day=when).first()
    form = TriageForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if alert is None:
            form.add_error(None, _("该员工当日没有告警，无需研判。"))
        elif form.is_valid():
            alerts.triage(alert.pk, request.user, form.cleaned_data["verdict"], form.cleaned_data["note"])
            messages.success(request, _("研判结论已记录。"))
            return redirect("watch-staff", staff_no=staff_no, day=day)
    tl = timeline.timeline(staff_no, when)
    chart = timeline.svg(tl, when)
    signals = [(signal_label(s["name"]), s) for s in alert.signals] if alert else []
    return render(
        request,
        "watch/staff.html",
        {
            "staff_no": staff_no,
            "day": when,
            "alert": alert,
            "signals": signals,
            "form": form,
            "chart": chart,
            "peer_group": tl["peer_group"],
            "total": sum(tl["reads"]),
            "violation_url": violation_url(request.user, staff_no, f"alert:{alert.pk}") if alert else None,
        },
    )
