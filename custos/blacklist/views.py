"""The compliance page of the blacklist exchange: staff the association's list names (hits), the
policies they sold, and the staff still waiting to be checked."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from custos.access.capabilities import can
from custos.blacklist import conf
from custos.blacklist.models import Hit, StaffCheck


@login_required
def hits(request):
    if not can(request.user, "blacklist.manage"):
        raise PermissionDenied(_("您的角色不能访问此页面。"))
    from custos.book.models import Policy

    rows = list(Hit.objects.filter(active=True).order_by("-found_at", "staff_no"))
    sold = {}
    for h in rows:
        sold[h.staff_no] = Policy.objects.filter(agent_no=h.staff_no, gone_load__isnull=True).count()
    counts = {s: StaffCheck.objects.filter(status=s).count() for s in StaffCheck.Status.values}
    pending = StaffCheck.objects.filter(status=StaffCheck.Status.PENDING).order_by("-updated_at").first()
    return render(
        request,
        "blacklist/hits.html",
        {
            "hits": [{"hit": h, "policies": sold[h.staff_no]} for h in rows],
            "counts": counts,
            "pending_error": pending.error if pending else "",
            "association": conf.url(),
            "is_association": conf.is_association(),
        },
    )
