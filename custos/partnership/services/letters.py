"""Clean-up campaigns and the formal letter (正式发函) to each partner, with its tracked delivery.

The letter lists the partner's policies to correct (remediation's partner_rows: policy numbers,
roles, check codes, no customer value), the commission held from it (the commission ledger's
held_items), the deadline and the consequences; it is rendered once as a PDF in Chinese (WeasyPrint,
'Noto Sans CJK SC' embedded), numbered (发函编号), stored under CUSTOS_HOME and its SHA-256 kept, so
the document on file is the one that was sent. Every change is a `record()` in the audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.access.capabilities import can
from custos.audit.record import record, snapshot
from custos.partnership.models import Campaign, Letter, LetterEvent
from custos.partnership.scope import sees_partner
from custos.paths import home

DEFAULT_DEADLINE_DAYS = 60


class PartnershipError(Exception):
    """A refused step, with the reason the user is shown (Chinese msgid)."""


def _require(actor, capability: str) -> None:
    if not can(actor, capability):
        raise PartnershipError(_("您没有执行此操作的权限。"))


def _name(actor) -> str:
    return getattr(actor, "username", "") or "system"


def deadline_days() -> int:
    return int(getattr(settings, "CUSTOS_CAMPAIGN_DEADLINE_DAYS", DEFAULT_DEADLINE_DAYS))


# --- campaigns ------------------------------------------------------------------------------------


def open_campaign(
    name: str, actor, *, started_on: dt.date | None = None, deadline: dt.date | None = None, note: str = ""
) -> Campaign:
    """A clean-up campaign: partners correct their policies by `deadline` (default: the start plus
    settings.CUSTOS_CAMPAIGN_DEADLINE_DAYS)."""
    _require(actor, "partnership.manage")
    name = (name or "").strip()
    if not name:
        raise PartnershipError(_("请填写清查活动名称。"))
    started_on = started_on or timezone.localdate()
    deadline = deadline or started_on + dt.timedelta(days=deadline_days())
    if deadline < started_on:
        raise PartnershipError(_("整改期限不能早于活动开始日期。"))
    with transaction.atomic():
        c = Campaign.objects.create(
            name=name[:200], started_on=started_on, deadline=deadline, note=note[:500],
            created_by=actor if getattr(actor, "pk", None) else None, created_by_name=_name(actor),
            created_at=timezone.now(),
        )  # fmt: skip
        record(actor, "campaign.opened", c, None, snapshot(c, ["name", "started_on", "deadline", "status"]))
    return c


def candidates(ctx, campaign: Campaign) -> list[dict]:
    """The partners a campaign writes to: those with open remediation tasks in the viewer's scope or
    commission held, and whether they have this campaign's letter already."""
    from custos.book.labels import org_label
    from custos.commission.models import ItemState
    from custos.remediation.letters import partners_with_open_tasks

    codes = {c for c, _label in partners_with_open_tasks(ctx)}
    held = dict(
        ItemState.objects.filter(payee_kind="partner", state=ItemState.State.HELD)
        .values_list("payee")
        .annotate(s=Sum("amount"))
    )
    codes |= set(held)
    scoped = {p for p in codes if sees_partner(ctx, p)}
    written = set(campaign.letters.values_list("partner_code", flat=True))
    return sorted(
        (
            {"code": c, "label": org_label("partner", c), "held_fen": held.get(c, 0), "written": c in written}
            for c in scoped
        ),
        key=lambda r: (r["written"], r["label"]),
    )


# --- the letter -----------------------------------------------------------------------------------


def held_fen(partner_code: str) -> int:
    from custos.commission.models import ItemState

    total = ItemState.objects.filter(
        payee_kind="partner", payee=partner_code, state=ItemState.State.HELD
    ).aggregate(s=Sum("amount"))["s"]
    return int(total or 0)


def letters_dir() -> Path:
    d = home() / "partnership" / "letters"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _number(letter: Letter) -> str:
    return f"合规清查函〔{timezone.localtime(letter.created_at):%Y}〕{letter.pk:05d}号"


def _render(letter: Letter, ctx, partner_code: str) -> tuple[bytes, int, int]:
    """The letter's PDF, the number of policies it lists and the fen held, in Chinese whatever the
    sender reads: it goes to the partner."""
    from weasyprint import HTML

    from custos.book.models import Partner
    from custos.commission.services import held_items, yuan
    from custos.remediation.letters import CONSEQUENCES, company, partner_rows

    with translation.override("zh-hans"):
        rows = partner_rows(ctx, partner_code)
        items = held_items("partner", partner_code)
        held = sum((i["amount"] for i in items), start=yuan(0))
        partner = Partner.objects.filter(partner_code=partner_code).first()
        html = render_to_string(
            "partnership/letter_pdf.html",
            {
                "letter": letter,
                "name": partner.name if partner else partner_code,
                "code": partner_code,
                "rows": rows,
                "policies": len({r["policy_no"] for r in rows}),
                "items": items,
                "held": held,
                "campaign": letter.campaign,
                "consequences": CONSEQUENCES,
                "company": company(),
                "today": timezone.localdate(),
            },
        )
    return HTML(string=html).write_pdf(), len({r["policy_no"] for r in rows}), held_fen(partner_code)


def draft_letter(ctx, campaign: Campaign, partner_code: str) -> Letter:
    """Number, render and store the campaign's letter to one partner (once per campaign and partner)."""
    actor = ctx.user
    _require(actor, "partnership.manage")
    if campaign.status != Campaign.Status.OPEN:
        raise PartnershipError(_("该清查活动已结束，不能再发函。"))
    if not sees_partner(ctx, partner_code):
        raise PartnershipError(_("合作机构 %(code)s 不在您的范围内。") % {"code": partner_code})
    from custos.partnership.status import terminated

    if terminated(partner_code):
        raise PartnershipError(_("合作机构 %(code)s 已终止合作。") % {"code": partner_code})
    if campaign.letters.filter(partner_code=partner_code).exists():
        raise PartnershipError(_("本次清查已向合作机构 %(code)s 发函。") % {"code": partner_code})
    with transaction.atomic():
        letter = Letter.objects.create(
            campaign=campaign, partner_code=partner_code, number=f"pending-{uuid.uuid4().hex}",
            deadline=campaign.deadline, sha256="", path="", created_by=actor, created_at=timezone.now(),
        )  # fmt: skip
        letter.number = _number(letter)
        pdf, policies, held = _render(letter, ctx, partner_code)
        if policies == 0 and held == 0:
            raise PartnershipError(
                _("合作机构 %(code)s 在您的范围内没有待更正的保单或暂扣的佣金。") % {"code": partner_code}
            )
        letter.sha256 = hashlib.sha256(pdf).hexdigest()
        path = letters_dir() / f"{letter.pk}-{letter.sha256[:16]}.pdf"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pdf)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        letter.path, letter.policies, letter.held_fen = str(path), policies, held
        letter.save()
        LetterEvent.objects.create(letter=letter, at=letter.created_at, actor=actor, actor_name=_name(actor),
                                   to_status=letter.status, detail={"sha256": letter.sha256})  # fmt: skip
        record(actor, "partner_letter.drafted", letter, None,
               snapshot(letter, ["number", "partner_code", "deadline", "policies", "held_fen", "sha256", "status"]))  # fmt: skip
    return letter


def pdf_bytes(letter: Letter) -> bytes:
    """The stored PDF, refused if it is not the document whose SHA-256 was recorded."""
    data = Path(letter.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != letter.sha256:
        raise PartnershipError(_("发函文件与记录的校验值不符，可能已被改动。"))
    return data


# --- delivery -------------------------------------------------------------------------------------

S = Letter.Status
# step -> (states it may follow, the state it leads to)
STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "send": ((S.DRAFTED, S.RETURNED), S.SENT),
    "deliver": ((S.SENT,), S.DELIVERED),
    "return": ((S.SENT,), S.RETURNED),
    "acknowledge": ((S.DELIVERED,), S.ACKNOWLEDGED),
    "refuse": ((S.DELIVERED, S.ACKNOWLEDGED), S.REFUSED),
}
# the audit action of each state a step leads to (registered in custos/audit/change_actions.py)
ACTIONS = {
    S.SENT: "partner_letter.sent",
    S.DELIVERED: "partner_letter.delivered",
    S.RETURNED: "partner_letter.returned",
    S.ACKNOWLEDGED: "partner_letter.acknowledged",
    S.REFUSED: "partner_letter.refused",
}


def _date(value, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise PartnershipError(_("“%(field)s”须为日期（YYYY-MM-DD）。") % {"field": field}) from None


def record_step(letter: Letter, actor, step: str, **data) -> Letter:
    """One delivery step of a letter, by a holder of partnership.manage:
    send (via post/courier/email, tracking_no, on), deliver (on, signed_by), return (on, note),
    acknowledge (on, note), refuse (on, note: what the partner said)."""
    _require(actor, "partnership.manage")
    if step not in STEPS:
        raise PartnershipError(_("未知的发函步骤：%(step)s。") % {"step": step})
    today = timezone.localdate()
    on = _date(data.get("on") or today, _("日期"))
    if on > today:
        raise PartnershipError(_("日期不能晚于今天。"))
    note = (data.get("note") or "").strip()[:500]
    with transaction.atomic():
        letter = Letter.objects.select_for_update().get(pk=letter.pk)
        allowed, to = STEPS[step]
        if letter.status not in allowed:
            raise PartnershipError(
                _("发函当前状态为“%(status)s”，不能执行此步骤。") % {"status": letter.get_status_display()}
            )
        fields = [
            "status",
            "via",
            "tracking_no",
            "sent_on",
            "delivered_on",
            "signed_by",
            "answered_on",
            "answer_note",
        ]
        before = snapshot(letter, fields)
        detail: dict = {"on": on.isoformat()}
        if step == "send":
            via = data.get("via") or ""
            if via not in Letter.Via.values:
                raise PartnershipError(_("请选择发送方式（挂号信、快递或电子邮件）。"))
            tracking = (data.get("tracking_no") or "").strip()[:100]
            if via != Letter.Via.EMAIL and not tracking:
                raise PartnershipError(_("挂号信和快递须填写运单号。"))
            if on < letter.created_at.date() - dt.timedelta(days=1):
                raise PartnershipError(_("发出日期不能早于起草日期。"))
            letter.via, letter.tracking_no, letter.sent_on = via, tracking, on
            letter.delivered_on, letter.signed_by, letter.answered_on, letter.answer_note = None, "", None, ""
            detail |= {"via": via, "tracking_no": tracking}
        elif step == "deliver":
            signed = (data.get("signed_by") or "").strip()[:100]
            if not signed:
                raise PartnershipError(_("请填写签收人。"))
            if letter.sent_on and on < letter.sent_on:
                raise PartnershipError(_("送达日期不能早于发出日期。"))
            letter.delivered_on, letter.signed_by = on, signed
            detail["signed_by"] = signed
        else:
            if step == "refuse" and not note:
                raise PartnershipError(_("请记录合作机构拒绝配合的情况。"))
            start = letter.delivered_on if step != "return" else letter.sent_on
            if start and on < start:
                raise PartnershipError(_("日期不能早于送达或发出日期。"))
            letter.answered_on, letter.answer_note = on, note
            detail["note"] = note
        from_status = letter.status
        letter.status = to
        letter.save()
        LetterEvent.objects.create(letter=letter, at=timezone.now(), actor=actor, actor_name=_name(actor),
                                   from_status=from_status, to_status=to, detail=detail)  # fmt: skip
        record(actor, ACTIONS[to], letter, before, snapshot(letter, fields), note)
    return letter
