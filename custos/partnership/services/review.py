"""Termination recommendations: which partners did not correct, the evidence, compliance's opinion
and decision, and what a termination does.

A partner that received a campaign's letter gets a recommendation when holding findings on its
policies (open, category missing or false, opened by the deadline) are still open after the
deadline, or when a refusal is recorded on its letter. A review adds a recommendation only where
none is pending or decided for that campaign, partner and round: a second review with the same facts
adds nothing. After "extend", the next review once the new deadline has passed may add round 2.

"terminate" records a Termination (the book's Partner rows stay as the core system wrote them); the
partner's staff lose every capability and scope from its effective date (custos.access consults
custos.partnership.status), their accounts are deactivated and their API tokens revoked, screening
keys that serve only this partner are revoked, and online screening rejects the partner's new
applications (PT01)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.record import acting, record, snapshot
from custos.partnership.models import Campaign, Letter, Recommendation, Report, Termination
from custos.partnership.services.letters import PartnershipError, _name, _require, held_fen

D = Recommendation.Decision
EVIDENCE_LIMIT = 2000  # items and findings listed in a recommendation (the counts are exact)


def deducted_fen(partner_code: str) -> int:
    from custos.commission.models import Entry

    total = Entry.objects.filter(
        kind=Entry.Kind.DEDUCT, statement__payee_kind="partner", statement__payee=partner_code
    ).aggregate(s=Sum("amount"))["s"]
    return int(total or 0)


def overdue_findings(partner_code: str, deadline: dt.date):
    """Open holding findings on the partner's policies that were open by the deadline."""
    from custos.checks.models import Finding
    from custos.commission.services import HOLDING

    return Finding.objects.filter(
        partner_code=partner_code,
        status=Finding.Status.OPEN,
        category__in=HOLDING,
        opened_at__date__lte=deadline,
    )


def letter_trail(partner_code: str) -> list[dict]:
    out = []
    for letter in Letter.objects.filter(partner_code=partner_code).select_related("campaign").order_by("id"):
        out.append(
            {
                "number": letter.number,
                "campaign": letter.campaign.name,
                "status": letter.status,
                "deadline": letter.deadline.isoformat(),
                "sha256": letter.sha256,
                "via": letter.via,
                "tracking_no": letter.tracking_no,
                "sent_on": letter.sent_on.isoformat() if letter.sent_on else "",
                "delivered_on": letter.delivered_on.isoformat() if letter.delivered_on else "",
                "signed_by": letter.signed_by,
                "answered_on": letter.answered_on.isoformat() if letter.answered_on else "",
                "answer_note": letter.answer_note,
                "events": [
                    {"at": e.at.isoformat(), "by": e.actor_name, "from": e.from_status, "to": e.to_status}
                    for e in letter.events.all()
                ],
            }
        )
    return out


def evidence(partner_code: str, deadline: dt.date) -> dict:
    """Counts (policies, open findings, held fen, deducted fen) and the lists behind them: held
    items, the overdue findings (codes and fields, never a value) and every letter with its delivery."""
    from custos.book.models import Policy
    from custos.commission.services import held_items

    findings = overdue_findings(partner_code, deadline)
    items = held_items("partner", partner_code)
    return {
        "policies": Policy.objects.filter(partner_code=partner_code, gone_load__isnull=True).count(),
        "open_findings": findings.count(),
        "held_fen": held_fen(partner_code),
        "deducted_fen": deducted_fen(partner_code),
        "evidence": {
            "items": [
                {
                    "item_no": i["item_no"],
                    "policy_no": i["policy_no"],
                    "amount": str(i["amount"]),
                    "findings": i["findings"],
                }
                for i in items[:EVIDENCE_LIMIT]
            ],  # fmt: skip
            "findings": [
                {
                    "id": f["id"],
                    "policy_no": f["policy_no"],
                    "check": f["check_code"],
                    "category": f["category"],
                    "role": f["role"],
                    "seq": f["seq"],
                    "field": f["field"],
                    "opened_at": f["opened_at"].date().isoformat(),
                }
                for f in findings.order_by("policy_no", "id").values(
                    "id", "policy_no", "check_code", "category", "role", "seq", "field", "opened_at"
                )[:EVIDENCE_LIMIT]
            ],  # fmt: skip
            "letters": letter_trail(partner_code),
        },
    }


def _due(campaign: Campaign, letter: Letter, last: Recommendation | None, today: dt.date):
    """(round, deadline, grounds) of the recommendation this partner should get now, or None."""
    if last is not None and (last.status == Recommendation.Status.OPEN or last.decision != D.EXTEND):
        return None  # pending, or decided for good (terminate, no action)
    deadline = last.new_deadline if last is not None else campaign.deadline
    grounds = []
    if today > deadline and overdue_findings(letter.partner_code, deadline).exists():
        grounds.append("overdue")
    refused_since = last.decided_at.date() if last is not None else None
    if letter.status == Letter.Status.REFUSED and (
        refused_since is None or letter.answered_on >= refused_since
    ):
        grounds.append("refused")
    if not grounds:
        return None
    return (last.round + 1 if last else 1), deadline, grounds


def review(campaign: Campaign | None = None, *, actor=None, by: str = "", today: dt.date | None = None):
    """Recommend termination where it is due (every open campaign, or one). Returns the new
    recommendations; a second review with the same facts returns []."""
    from custos.partnership.status import terminated_codes

    if actor is not None:
        _require(actor, "partnership.decide")
    today = today or timezone.localdate()
    campaigns = (
        [campaign] if campaign is not None else list(Campaign.objects.filter(status=Campaign.Status.OPEN))
    )
    gone = terminated_codes(today)
    made = []
    for c in campaigns:
        for letter in c.letters.exclude(status=Letter.Status.DRAFTED).order_by("partner_code"):
            if letter.partner_code in gone:
                continue
            with transaction.atomic():
                last = (
                    Recommendation.objects.select_for_update()
                    .filter(campaign=c, partner_code=letter.partner_code)
                    .order_by("-round")
                    .first()
                )
                due = _due(c, letter, last, today)
                if due is None:
                    continue
                round_, deadline, grounds = due
                rec = Recommendation.objects.create(
                    campaign=c, partner_code=letter.partner_code, round=round_, grounds=grounds,
                    deadline=deadline, created_at=timezone.now(), created_by_name=_name(actor) if actor else (by or "system"),
                    **evidence(letter.partner_code, deadline),
                )  # fmt: skip
                Report.objects.create(recommendation=rec, kind=Report.Kind.RECOMMENDED, at=rec.created_at)
                record(
                    actor, "termination.recommended", rec, None,
                    snapshot(rec, ["partner_code", "round", "grounds", "deadline", "policies", "open_findings",
                                   "held_fen", "deducted_fen"]),
                    client="" if actor is not None else (by or "cli"),
                )  # fmt: skip
                made.append(rec)
    return made


def record_opinion(rec: Recommendation, actor, opinion: str) -> Recommendation:
    """Compliance's written opinion (意见) on a pending recommendation (it may be revised until the
    decision)."""
    _require(actor, "partnership.decide")
    opinion = (opinion or "").strip()
    if not opinion:
        raise PartnershipError(_("请填写合规意见。"))
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=rec.pk)
        if rec.status != Recommendation.Status.OPEN:
            raise PartnershipError(_("该建议已作出决定，不能再修改意见。"))
        before = snapshot(rec, ["opinion", "opinion_by"])
        rec.opinion, rec.opinion_by, rec.opinion_at = opinion[:5000], actor, timezone.now()
        rec.save(update_fields=["opinion", "opinion_by", "opinion_at"])
        record(actor, "termination.opinion", rec, before, snapshot(rec, ["opinion", "opinion_by"]))
    return rec


def decide(
    rec: Recommendation, actor, decision: str, reason: str, *, new_deadline: dt.date | None = None
) -> Recommendation:
    """terminate / extend (to new_deadline, after today) / none, with the reason; needs the written
    opinion first and partnership.decide."""
    _require(actor, "partnership.decide")
    reason = (reason or "").strip()
    if decision not in D.values:
        raise PartnershipError(_("请选择决定：终止合作、延长期限或不采取措施。"))
    if not reason:
        raise PartnershipError(_("请填写决定的理由。"))
    today = timezone.localdate()
    if decision == D.EXTEND and (new_deadline is None or new_deadline <= today):
        raise PartnershipError(_("延长期限须填写晚于今天的新截止日期。"))
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=rec.pk)
        if rec.status != Recommendation.Status.OPEN:
            raise PartnershipError(_("该建议已作出决定。"))
        if not rec.opinion:
            raise PartnershipError(_("请先记录合规意见，再作出决定。"))
        fields = ["status", "decision", "reason", "new_deadline", "decided_by"]
        before = snapshot(rec, fields)
        rec.status, rec.decision, rec.reason = Recommendation.Status.DECIDED, decision, reason[:5000]
        rec.new_deadline = new_deadline if decision == D.EXTEND else None
        rec.decided_by, rec.decided_at = actor, timezone.now()
        rec.save()
        record(actor, "termination.decided", rec, before, snapshot(rec, fields), reason)
        if decision == D.TERMINATE:
            terminate(rec, actor, today)
        Report.objects.create(recommendation=rec, kind=Report.Kind.DECIDED, at=rec.decided_at)
    return rec


def terminate(rec: Recommendation, actor, effective_on: dt.date) -> Termination:
    """End the agency relationship in custos, the same day: the Termination row that access and
    screening consult, then the partner's accounts, tokens and screening keys (each change recorded
    by the watched models' own audit entries, attributed to the decider)."""
    from django.contrib.auth import get_user_model

    from custos.access.models import Profile
    from custos.api.models import ApiToken
    from custos.screening.models import Client

    code = rec.partner_code
    if Termination.objects.filter(partner_code=code).exists():
        raise PartnershipError(_("合作机构 %(code)s 已终止合作。") % {"code": code})
    users = list(
        get_user_model().objects.filter(
            is_active=True, pk__in=Profile.objects.filter(partner_code=code).values("user_id")
        )
    )
    tokens = list(ApiToken.objects.filter(revoked=False, user__custos_profile__partner_code=code))
    keys = [
        k for k in Client.objects.filter(active=True) if k.partner_codes and set(k.partner_codes) <= {code}
    ]
    with acting(actor, reason=f"partner {code} terminated (recommendation {rec.pk})"):
        for u in users:
            u.is_active = False
            u.save(update_fields=["is_active"])
        for t in tokens:
            t.revoked = True
            t.save(update_fields=["revoked"])
        for k in keys:
            k.active = False
            k.save(update_fields=["active"])
    term = Termination.objects.create(
        partner_code=code, recommendation=rec, effective_on=effective_on, decided_by=actor,
        created_at=timezone.now(), users_deactivated=[u.username for u in users], tokens_revoked=len(tokens),
        keys_revoked=[k.name for k in keys],
    )  # fmt: skip
    record(actor, "partner.terminated", term, None,
           snapshot(term, ["partner_code", "effective_on", "users_deactivated", "tokens_revoked", "keys_revoked"]))  # fmt: skip
    return term
