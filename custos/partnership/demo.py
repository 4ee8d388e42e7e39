"""The demo's partnership step (called by custos.web.demo_tour): a clean-up campaign, the formal
letter to the demo partner sent by courier, delivered, and answered with a refusal, and the review
that turns the refusal into a termination recommendation for compliance. No decision is taken: the
demo partner's staff keep their access. Idempotent: a second run reports what is there."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.utils import timezone

DEMO_CAMPAIGN = "合作机构客户信息真实性清查（演示）"


def demo_partnership(say: Callable[[str], None]) -> None:
    from custos.access.models import Profile
    from custos.access.service import AccessContext
    from custos.commission.services import yuan
    from custos.partnership import services
    from custos.partnership.models import Campaign, Letter, Recommendation

    if Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        c = Campaign.objects.get(name=DEMO_CAMPAIGN)
        say(
            f"partnership: campaign {c.name!r} exists ({c.letters.count()} letter(s), "
            f"{Recommendation.objects.filter(campaign=c).count()} recommendation(s)) on /partnership/"
        )
        return
    compliance = get_user_model().objects.get(username="demo_compliance")
    ctx = AccessContext.for_user(compliance, client="demo")
    today = timezone.localdate()
    campaign = services.open_campaign(DEMO_CAMPAIGN, compliance, note="demo: 2013 clean-up, partner outlets")
    demo_partner = (
        Profile.objects.filter(user__username="demo_partner_staff")
        .values_list("partner_code", flat=True)
        .first()
    )
    codes = [demo_partner] if demo_partner else []
    codes += [r["code"] for r in services.candidates(ctx, campaign) if r["code"] != demo_partner]
    letter = None
    for code in codes[:20]:
        try:
            letter = services.draft_letter(ctx, campaign, code)
            break
        except services.PartnershipError:
            continue
    if letter is None:
        say("partnership: no partner with policies to correct or commission held: no letter")
        return
    services.record_step(
        letter, compliance, "send", via=Letter.Via.COURIER, tracking_no="SF1234567890", on=today
    )
    services.record_step(letter, compliance, "deliver", signed_by="网点负责人", on=today)
    services.record_step(
        letter, compliance, "refuse", on=today, note="demo: 网点回函称人手不足，拒绝配合核查与更正"
    )
    made = services.review(campaign, actor=compliance)
    rec = made[0] if made else None
    say(
        f"partnership: campaign {campaign.name!r} (deadline {campaign.deadline}); letter {letter.number} to "
        f"{letter.partner_code}: {letter.policies} policies to correct, {yuan(letter.held_fen)} yuan held, sent by "
        f"courier, delivered, refused → "
        + (
            f"termination recommendation #{rec.pk} (refused; {rec.open_findings} open findings) "
            f"awaiting compliance's opinion and decision on /partnership/recommendations/"
            if rec
            else "no recommendation"
        )
    )
