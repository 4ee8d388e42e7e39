"""Identity pages: persons in scope, one person across policies and channels, the review queue.

Thin: parse, call custos.identity.services, render. Personal data only through the access service
(masked by default, clear values through the unmask page with a purpose; every read logged first);
a person is seen only through the parties in the viewer's scope, and only those parties."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.access.capabilities import can
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.access.unmask import UNMASKABLE_FIELDS
from custos.identity.forms import SAME, DecideForm
from custos.identity.services import persons as ps
from custos.identity.services import review as rv


def identity_page(capability: str):
    """Signed in and holding `capability` (custos/access/capabilities.py), else 403; the request's
    AccessContext is made once (request.custos_ctx)."""

    def deco(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            ctx = AccessContext.for_request(request)
            if not can(ctx, capability):
                raise PermissionDenied(_("您的角色不能查看客户归并。"))
            request.custos_ctx = ctx
            try:
                return view(request, *args, **kwargs)
            except ReadLogUnavailable:
                return render(request, "web/audit_unavailable.html", status=503)

        return wrapper

    return deco


@identity_page("identity.view")
def person_list(request):
    q = request.GET.get("q", "")[:64]
    listing = ps.person_list(request.custos_ctx, q, request.GET.get("page") or 1)
    return render(
        request,
        "identity/persons.html",
        {
            "listing": listing,
            "q": q,
            "watermark": True,
            "can_review": can(request.custos_ctx, "identity.review"),
        },
    )


@identity_page("identity.view")
def person_detail(request, pk: str):
    ctx = request.custos_ctx
    try:
        person = ps.person_for(ctx, pk)
    except ps.NotFound:
        raise Http404(_("未找到该客户，或不在您的查看范围内。")) from None
    if person.pid != pk:  # a merged person's id leads to the person they were merged into
        return redirect("identity:person", pk=person.pid)
    view = ps.person_view(ctx, person)
    here = reverse("identity:person", kwargs={"pk": person.pid})
    return render(
        request,
        "identity/person.html",
        {
            **view,
            "here": here,
            "watermark": True,
            "can_unmask": can(ctx, "unmask"),
            "unmaskable": UNMASKABLE_FIELDS,
            "can_review": can(ctx, "identity.review"),
            "form": DecideForm(),
        },
    )


@identity_page("identity.review")
def review_queue(request):
    ctx = request.custos_ctx
    return render(
        request,
        "identity/review.html",
        {"rows": ps.review_rows(ctx), "form": DecideForm(), "watermark": True},
    )


@identity_page("identity.review")
@require_POST
def decide(request, pk: int):
    ctx = request.custos_ctx
    try:
        pair = ps.review_pair_for(ctx, pk)
    except ps.NotFound:
        raise Http404(_("未找到该复核对，或不在您的查看范围内。")) from None
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择“同一客户”或“不同客户”。"))
    else:
        try:
            rv.decide_pair(
                pair,
                form.cleaned_data["decision"] in SAME,
                request.user,
                form.cleaned_data["note"],
            )
        except rv.ReviewError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已记录复核结论，下次归并运行时生效。"))
    back = request.POST.get("back", "")
    if back.startswith("/persons/") and "//" not in back:
        return redirect(back)
    return redirect("identity:review")
