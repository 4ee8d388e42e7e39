"""The IT security page: the last runs of `custos integrity verify` and what failed."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from custos.access.capabilities import can
from custos.integrity.models import IntegrityRun

REASON_LABELS = {
    "untagged": _("没有完整性标签：绕过 custos 写入"),
    "altered": _("与完整性标签不符：绕过 custos 修改"),
    "party": _("与完整性标签不符：该客户或其变更历史被绕过 custos 修改或删除"),
}
TABLE_LABELS = {
    "book_party": _("客户"),
    "book_partyhistory": _("客户变更历史"),
    "book_staff": _("员工"),
    "book_partner": _("合作机构"),
}


@login_required
def runs(request):
    if not can(request.user, "integrity.verify"):
        raise PermissionDenied(_("您的角色不能访问此页面。"))
    recent = list(IntegrityRun.objects.order_by("-started_at", "-id")[:10])
    last = recent[0] if recent else None
    failures = [
        {
            **f,
            "reason_label": REASON_LABELS.get(f["reason"], f["reason"]),
            "table_label": TABLE_LABELS.get(f["table"], f["table"]),
        }
        for f in (last.failures if last else [])
    ]
    checked = [
        {"table": t, "label": TABLE_LABELS.get(t, t), "rows": n}
        for t, n in (last.checked if last else {}).items()
    ]
    return render(
        request,
        "integrity/runs.html",
        {
            "last": last,
            "recent": recent,
            "failures": failures,
            "checked": checked,
            "more": (last.failure_count - len(failures)) if last else 0,
        },
    )
