"""The summary page and its downloads (holders of report.regulator): the same tables and charts as
`custos report summary`, over the viewer's scope (the access service), aggregates only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import require
from custos.access.service import AccessContext
from custos.book import labels
from custos.report import services
from custos.report.forms import SummaryForm
from custos.report.services import render as rendering

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _scope(ctx) -> tuple[dict, str]:
    """build()'s keyword arguments for the viewer's scope, and its label."""
    p = ctx.profile
    branch = p.branch_code if p else ""
    parts = []
    if branch:
        parts.append(labels.org_label("branch", branch))
    if p and p.channel:
        parts.append(str(labels.code_value("channel", p.channel)))
    return {"policies": ctx.policies(), "branch_root": branch or None}, " · ".join(parts) or _("全部保单")


def _options(request):
    form = SummaryForm(request.GET or None, initial={"as_of": timezone.localdate(), "period": "auto"})
    if request.GET and not form.is_valid():
        return form, None, "auto"
    data = form.cleaned_data if request.GET else {}
    return form, data.get("as_of") or timezone.localdate(), data.get("period") or "auto"


@login_required
def summary(request):
    require(request.user, "report.regulator")
    form, as_of, period = _options(request)
    if as_of is None:
        return render(request, "report/summary.html", {"form": form}, status=400)
    ctx = AccessContext.for_request(request)
    scope, label = _scope(ctx)
    s = services.build(as_of, period=period, scope_label=label, **scope)
    query = f"as_of={as_of.isoformat()}&period={period}"
    return render(
        request,
        "report/summary.html",
        {
            "form": form,
            "s": s,
            "kpis": rendering.kpis(s),
            "tables": [rendering.shown(t) for t in s.tables],
            "query": query,
        },
    )


@login_required
def download(request, fmt: str):
    require(request.user, "report.regulator")
    if fmt not in services.FORMATS:
        raise Http404(_("没有这种格式。"))
    form, as_of, period = _options(request)
    if as_of is None:
        return render(request, "report/summary.html", {"form": form}, status=400)
    ctx = AccessContext.for_request(request)
    scope, label = _scope(ctx)
    _summary, data = services.document(fmt, as_of, period=period, scope_label=label, **scope)
    response = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="work-summary-{as_of:%Y%m%d}.{fmt}"'
    return response
