"""Partnership pages: compliance runs campaigns, writes and tracks the formal letters, reviews the
partners who did not correct and decides; customer service reads the recommendations and decisions
(the report to head office); partner staff read their own letters and what releases their held
commission. Every permission through the capability table, every list through `restrict`."""

from __future__ import annotations

from io import BytesIO

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from custos.access.capabilities import can, require, restrict
from custos.access.service import AccessContext
from custos.commission.services import yuan
from custos.partnership import services
from custos.partnership.forms import CampaignForm, DecisionForm, OpinionForm, StepForm
from custos.partnership.models import Campaign, Letter, Recommendation, Report

PAGE_LETTERS = 25  # a letter renders in 1.5–3 s: a page request drafts at most this many


def _ctx(request) -> AccessContext:
    return AccessContext.for_request(request)


def _pk(request, name: str) -> int:
    """The id a form posts (the capability table's pages name no record in their URL)."""
    try:
        return int(request.POST.get(name, ""))
    except ValueError:
        raise BadRequest(_("缺少或无效的参数：%(name)s。") % {"name": name}) from None


def _fail(request, exc: services.PartnershipError) -> None:
    messages.error(request, str(exc))


# --- campaigns and letters (compliance) -----------------------------------------------------------


@login_required
def campaigns(request):
    require(request.user, "partnership.manage")
    form = CampaignForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                c = services.open_campaign(d["name"], request.user, started_on=d["started_on"],
                                           deadline=d["deadline"], note=d["note"])  # fmt: skip
            except services.PartnershipError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("清查活动已开启。"))
                return redirect("partnership-campaign", pk=c.pk)
        status = 400
    rows = []
    for c in Campaign.objects.all()[:200]:
        letters = restrict(c.letters.all(), request.user)
        rows.append({"c": c, "letters": letters.count(), "sent": letters.exclude(status="drafted").count(),
                     "recommendations": restrict(c.recommendations.all(), request.user).count()})  # fmt: skip
    return render(
        request,
        "partnership/campaigns.html",
        {"rows": rows, "form": form, "default_days": services.deadline_days()},
        status=status,
    )


@login_required
def campaign(request, pk: int):
    require(request.user, "partnership.manage")  # 403: the page is in SIGNED_IN_PAGES for its URL only
    c = get_object_or_404(Campaign, pk=pk)
    ctx = _ctx(request)
    letters = restrict(c.letters.all(), ctx).order_by("partner_code")
    return render(
        request,
        "partnership/campaign.html",
        {
            "c": c,
            "letters": [{"l": ltr, "held": yuan(ltr.held_fen)} for ltr in letters],
            "candidates": [
                {**r, "held": yuan(r["held_fen"])} for r in services.candidates(ctx, c) if not r["written"]
            ],
            "may_decide": can(request.user, "partnership.decide"),
        },
    )


@login_required
@require_POST
def letters_draft(request):
    require(request.user, "partnership.manage")
    c = get_object_or_404(Campaign, pk=_pk(request, "campaign"))
    ctx = _ctx(request)
    codes = [p for p in request.POST.getlist("partner") if p]
    if not codes:
        messages.error(request, _("请选择要发函的合作机构。"))
        return redirect("partnership-campaign", pk=c.pk)
    if len(codes) > PAGE_LETTERS:
        messages.error(
            request,
            _("一次最多起草 %(n)s 份（每份约需数秒）；更多请分批，或用命令 custos partnership letters。")
            % {"n": PAGE_LETTERS},
        )
        return redirect("partnership-campaign", pk=c.pk)
    made = 0
    for code in codes:
        try:
            services.draft_letter(ctx, c, code)
            made += 1
        except services.PartnershipError as exc:
            _fail(request, exc)
    if made:
        messages.success(request, _("已起草 %(n)s 份正式发函，请打印盖章后寄出并登记。") % {"n": made})
    return redirect("partnership-campaign", pk=c.pk)


def _letter_for(request, pk: int) -> tuple[Letter, bool]:
    """The letter and whether the reader manages it; 403 unless compliance (in scope) or the staff
    of the partner it was sent to."""
    letter = get_object_or_404(Letter.objects.select_related("campaign"), pk=pk)
    if can(request.user, "partnership.manage"):
        if not restrict(Letter.objects.filter(pk=pk), request.user).exists():
            raise PermissionDenied(_("此发函不在您的权限范围内。"))
        return letter, True
    own = _own_partner(request.user)
    if own and own == letter.partner_code and letter.status != Letter.Status.DRAFTED:
        return letter, False
    raise PermissionDenied(_("您的角色不能访问此页面。"))


@login_required
def letter(request, pk: int):
    ltr, manages = _letter_for(request, pk)
    return render(
        request,
        "partnership/letter.html",
        {
            "l": ltr,
            "held": yuan(ltr.held_fen),
            "events": [_event(e) for e in ltr.events.all()],
            "manages": manages,
            "form": StepForm() if manages else None,
            "steps": _next_steps(ltr) if manages else [],
        },
    )


def _label(choices, value: str) -> str:
    return str(dict(choices).get(value, value)) if value else ""


DETAIL_LABELS = {"via": _l("发送方式"), "tracking_no": _l("运单号"), "on": _l("日期"), "signed_by": _l("签收人"),
                 "note": _l("备注"), "sha256": "SHA-256"}  # fmt: skip


def _event(e) -> dict:
    shown = []
    for k, v in e.detail.items():
        if v:
            shown.append((DETAIL_LABELS.get(k, k), _label(Letter.Via.choices, v) if k == "via" else v))
    return {"at": e.at, "actor_name": e.actor_name, "from_label": _label(Letter.Status.choices, e.from_status),
            "to_label": _label(Letter.Status.choices, e.to_status), "shown": shown}  # fmt: skip


def _next_steps(ltr: Letter) -> list[str]:
    return [step for step, (allowed, _to) in services.STEPS.items() if ltr.status in allowed]


@login_required
def letter_pdf(request, pk: int):
    ltr, _manages = _letter_for(request, pk)
    try:
        data = services.pdf_bytes(ltr)
    except (services.PartnershipError, OSError) as exc:
        messages.error(request, str(exc))
        return redirect("partnership-letter", pk=ltr.pk)
    return FileResponse(BytesIO(data), content_type="application/pdf", filename=f"letter-{ltr.pk}.pdf")


@login_required
@require_POST
def letter_step(request):
    require(request.user, "partnership.manage")
    pk = _pk(request, "letter")
    ltr = get_object_or_404(restrict(Letter.objects.all(), request.user), pk=pk)
    form = StepForm(request.POST)
    if not form.is_valid():
        for field, errs in form.errors.items():
            messages.error(
                request, f"{form.fields[field].label if field in form.fields else ''} {' '.join(errs)}"
            )
        return redirect("partnership-letter", pk=ltr.pk)
    d = form.cleaned_data
    try:
        services.record_step(ltr, request.user, d["step"], on=d["on"], via=d["via"], tracking_no=d["tracking_no"],
                             signed_by=d["signed_by"], note=d["note"])  # fmt: skip
    except services.PartnershipError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("已登记。"))
    return redirect("partnership-letter", pk=ltr.pk)


# --- recommendations (compliance decides; compliance and customer service read) -------------------


@login_required
def recommendations(request):
    require(request.user, "partnership.view")
    recs = restrict(Recommendation.objects.select_related("campaign"), request.user)[:300]
    reports = Report.objects.filter(
        recommendation__in=restrict(Recommendation.objects.all(), request.user)
    ).select_related("recommendation")[:100]
    return render(
        request,
        "partnership/recommendations.html",
        {
            "recs": [{"r": r, "held": yuan(r.held_fen), "deducted": yuan(r.deducted_fen)} for r in recs],
            "reports": reports,
            "may_review": can(request.user, "partnership.decide"),
            "campaigns": Campaign.objects.filter(status=Campaign.Status.OPEN),
        },
    )


@login_required
def recommendation(request, pk: int):
    require(request.user, "partnership.view")
    rec = get_object_or_404(restrict(Recommendation.objects.select_related("campaign"), request.user), pk=pk)
    decides = can(request.user, "partnership.decide") and rec.status == Recommendation.Status.OPEN
    return render(
        request,
        "partnership/recommendation.html",
        {
            "r": rec,
            "held": yuan(rec.held_fen),
            "deducted": yuan(rec.deducted_fen),
            "items": rec.evidence.get("items", []),
            "findings": rec.evidence.get("findings", []),
            "letters": [
                {
                    **x,
                    "status_label": _label(Letter.Status.choices, x["status"]),
                    "via_label": _label(Letter.Via.choices, x["via"]),
                }
                for x in rec.evidence.get("letters", [])
            ],  # fmt: skip
            "opinion_form": OpinionForm(initial={"opinion": rec.opinion}) if decides else None,
            "decision_form": DecisionForm() if decides else None,
            "termination": getattr(rec, "termination", None),
        },
    )


@login_required
@require_POST
def review(request):
    require(request.user, "partnership.decide")
    campaign = None
    if request.POST.get("campaign"):
        campaign = get_object_or_404(Campaign, pk=_pk(request, "campaign"))
    try:
        made = services.review(campaign, actor=request.user)
    except services.PartnershipError as exc:
        _fail(request, exc)
        return redirect("partnership-recommendations")
    if made:
        messages.success(request, _("新增 %(n)s 条终止合作建议。") % {"n": len(made)})
    else:
        messages.info(request, _("没有新的逾期或拒不配合的合作机构。"))
    return redirect("partnership-recommendations")


@login_required
@require_POST
def opinion(request):
    require(request.user, "partnership.decide")
    rec = get_object_or_404(
        restrict(Recommendation.objects.all(), request.user), pk=_pk(request, "recommendation")
    )
    form = OpinionForm(request.POST)
    try:
        if not form.is_valid():
            raise services.PartnershipError(_("请填写合规意见。"))
        services.record_opinion(rec, request.user, form.cleaned_data["opinion"])
    except services.PartnershipError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("合规意见已记录。"))
    return redirect("partnership-recommendation", pk=rec.pk)


@login_required
@require_POST
def decide(request):
    require(request.user, "partnership.decide")
    rec = get_object_or_404(
        restrict(Recommendation.objects.all(), request.user), pk=_pk(request, "recommendation")
    )
    form = DecisionForm(request.POST)
    try:
        if not form.is_valid():
            raise services.PartnershipError(
                "; ".join(
                    f"{form.fields[f].label}: {' '.join(e)}"
                    for f, e in form.errors.items()
                    if f in form.fields
                )
            )
        d = form.cleaned_data
        services.decide(rec, request.user, d["decision"], d["reason"], new_deadline=d["new_deadline"])
    except services.PartnershipError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("决定已记录，并已通报总公司合规与客服。"))
    return redirect("partnership-recommendation", pk=rec.pk)


# --- partner staff --------------------------------------------------------------------------------


def _own_partner(user) -> str:
    """The partner a holder of partnership.own works for ("" for anyone else)."""
    if not can(user, "partnership.own"):
        return ""
    from custos.access.capabilities import profile_of

    p = profile_of(user)
    return p.partner_code if p else ""


@login_required
def mine(request):
    require(request.user, "partnership.own")
    code = _own_partner(request.user)
    letters, held, rows = [], [], []
    if code:
        from custos.commission.services import held_items
        from custos.remediation.letters import partner_rows

        letters = Letter.objects.filter(partner_code=code).exclude(status=Letter.Status.DRAFTED)
        letters = letters.select_related("campaign").order_by("-created_at")
        held = held_items("partner", code)
        rows = partner_rows(_ctx(request), code)
    return render(
        request,
        "partnership/mine.html",
        {
            "code": code,
            "letters": letters,
            "held": held,
            "held_total": sum((h["amount"] for h in held), start=yuan(0)),
            "waiting": sum(1 for h in held if not h["findings"]),
            "rows": rows,
        },
    )
