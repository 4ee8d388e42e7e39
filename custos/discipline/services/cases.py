"""The life cycle of a case: proposed → notified → appealed → decided → paid | waived.

Every move checks who may make it (the capability table; the staff member for their own appeal),
changes the case and records it through custos.audit.record in one transaction: a move that cannot be
recorded does not happen. Deciding a resale case with dismissal also ends the person's access the same
day (their users deactivated, their API tokens revoked) and nominates them for the industry blacklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import can, profile_of
from custos.audit.record import acting, record, snapshot
from custos.discipline import conf
from custos.discipline.models import EvidenceLink, Nomination, Violation

S = Violation.Status
FIELDS = [
    "status",
    "kind",
    "staff_no",
    "outcome",
    "decided_on",
    "schedule_from",
    "offender_fine",
    "supervisor_no",
    "supervisor_fine",
    "dismissed",
    "appeal_file",
]


class DisciplineError(ValueError):
    """A move the case's state, the input or the actor does not allow; the message says why."""


class NotAllowed(DisciplineError):
    """The actor may not make this move (pages answer 403)."""


def _snap(v: Violation) -> dict:
    return snapshot(v, FIELDS)


def _name(actor) -> str:
    if actor is not None and getattr(actor, "pk", None):
        return actor.username
    from custos.audit.record import current_acting

    return current_acting().client or "system"


def own_staff_no(user) -> str:
    """The staff number of a signed-in, active user's profile ("" when none)."""
    p = profile_of(user)
    return p.staff_no if p is not None else ""


def is_own(user, v: Violation) -> bool:
    staff = own_staff_no(user)
    return bool(staff) and staff == v.staff_no


def may_see(user, v: Violation) -> bool:
    return can(user, "violation.decide") or is_own(user, v)


def _need_decider(user, v: Violation | None = None) -> None:
    if not can(user, "violation.decide"):
        raise NotAllowed(_("只有合规人员可以处理违规案件。"))
    if v is not None and is_own(user, v):
        raise NotAllowed(_("不能处理涉及本人的违规案件。"))


def _state(v: Violation, *allowed: str) -> None:
    if v.status not in allowed:
        raise DisciplineError(
            _("违规案件 #%(pk)s 当前状态为“%(status)s”，不能执行此操作。")
            % {"pk": v.pk, "status": v.get_status_display()}
        )


def _reason(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DisciplineError(_("请填写%(what)s。") % {"what": what})
    return text


@dataclass(frozen=True)
class Evidence:
    kind: str
    ref: str
    note: str = ""


# --- proposing ---------------------------------------------------------------------------------------


def propose(
    *,
    kind: str,
    staff_no: str,
    source: str,
    evidence: list[Evidence],
    actor=None,
    group_key: str = "",
    subject: str = "",
    summary: str = "",
) -> tuple[Violation | None, int]:
    """A proposal for one person and one fact, or more evidence for the open case of that fact.

    Returns (case, links added; case.created_now says whether it is new), or (None, 0) when every piece
    of evidence is linked against this person already. A decided case is never reopened: new evidence
    of its fact after the decision is a new case of the same fact."""
    if kind not in Violation.Kind.values:
        raise DisciplineError(_("违规类型无效：%(kind)s") % {"kind": kind})
    staff_no = (staff_no or "").strip()
    if not staff_no:
        raise DisciplineError(_("请填写员工工号。"))
    try:
        with transaction.atomic():
            v, key = None, group_key
            if group_key:  # the fact's cases: "sc01:P1", then "sc01:P1#2" for one after a decision
                cases = list(
                    Violation.objects.select_for_update()
                    .filter(staff_no=staff_no)
                    .filter(Q(group_key=group_key) | Q(group_key__startswith=group_key + "#"))
                    .order_by("id")
                )
                v = next((c for c in cases if c.open), None)
                key = f"{group_key}#{len(cases) + 1}" if cases else group_key
            linked = set(
                EvidenceLink.objects.filter(
                    staff_no=staff_no, kind__in={e.kind for e in evidence}
                ).values_list("kind", "ref")
            )
            new = list({(e.kind, e.ref): e for e in evidence if (e.kind, e.ref) not in linked}.values())
            if evidence and not new:
                return None, 0
            created = v is None
            if created:
                v = Violation.objects.create(
                    kind=kind,
                    staff_no=staff_no,
                    source=source,
                    group_key=key,
                    subject=subject[:120],
                    summary=summary[:500],
                    proposed_at=timezone.now(),
                    proposed_by=actor if getattr(actor, "pk", None) else None,
                    proposed_by_name=_name(actor)[:150],
                )
            before = None if created else {"evidence": v.evidence.count()}
            EvidenceLink.objects.bulk_create(
                EvidenceLink(violation=v, kind=e.kind, ref=e.ref, staff_no=staff_no, note=e.note[:300])
                for e in new
            )
            if created:
                record(actor, "violation.proposed", v, None, _snap(v), summary or source)
            else:
                record(
                    actor,
                    "violation.evidence",
                    v,
                    before,
                    {"evidence": v.evidence.count()},
                    " ".join(f"{e.kind}:{e.ref}" for e in new),
                )
            v.created_now = created
            return v, len(new)
    except IntegrityError:  # a concurrent proposal of the same fact won: nothing twice
        return None, 0


def propose_manual(
    user, *, kind: str, staff_no: str, summary: str, evidence: list[Evidence] = ()
) -> Violation:
    """A proposal written by a holder of violation.propose about a staff member in the book."""
    from custos.book.models import Staff

    if not can(user, "violation.propose"):
        raise NotAllowed(_("您的角色不能提出违规处理建议。"))
    summary = _reason(summary, _("违规事实"))
    staff = Staff.objects.filter(staff_no=(staff_no or "").strip()).first()
    if staff is None:
        raise DisciplineError(_("员工名册中没有工号 %(no)s。") % {"no": staff_no})
    if staff.staff_no == own_staff_no(user):
        raise DisciplineError(_("不能对本人提出违规处理建议。"))
    if not can(user, "violation.decide") and not _in_scope(user, staff):
        raise DisciplineError(_("员工 %(no)s 不在您的管理范围内。") % {"no": staff.staff_no})
    v, _n = propose(
        kind=kind,
        staff_no=staff.staff_no,
        source=Violation.Source.MANUAL,
        evidence=list(evidence),
        actor=user,
        summary=summary,
    )
    return v


def _in_scope(user, staff) -> bool:
    """A proposer who does not decide (a channel manager, customer service) proposes about staff of
    their own branch subtree and channel only."""
    from custos.book.models import branch_subtree

    p = profile_of(user)
    if p is None:
        return False
    if p.branch_code and not _branch_in(branch_subtree(p.branch_code), staff.branch_code):
        return False
    return not p.channel or p.channel == staff.channel


def _branch_in(subtree, branch_code: str) -> bool:
    if isinstance(subtree, list):
        return branch_code in subtree
    return subtree.filter(branch_code=branch_code).exists()


# --- moves -------------------------------------------------------------------------------------------


def notify(v: Violation, user, note: str = "") -> Violation:
    """The staff member is told of the proposal; from now on they may appeal."""
    _need_decider(user, v)
    with transaction.atomic():
        v = Violation.objects.select_for_update().get(pk=v.pk)
        _state(v, S.PROPOSED)
        before = _snap(v)
        v.status, v.notified_at = S.NOTIFIED, timezone.now()
        v.save(update_fields=["status", "notified_at"])
        record(user, "violation.notified", v, before, _snap(v), note)
    return v


def appeal(v: Violation, user, note: str, upload=None) -> Violation:
    """The staff member's own appeal, with a note and optionally a file (PDF, JPEG, PNG)."""
    from custos.discipline.services import appeals

    if not is_own(user, v):
        raise NotAllowed(_("只有当事员工本人可以申诉。"))
    note = _reason(note, _("申诉理由"))
    if len(note) > 2000:
        raise DisciplineError(_("申诉理由不能超过 2000 字。"))
    if upload is not None:
        appeals.check_size(upload.size)  # before reading it
    with transaction.atomic():
        v = Violation.objects.select_for_update().get(pk=v.pk)
        _state(v, S.NOTIFIED)
        before = _snap(v)
        if upload is not None:
            v.appeal_file = appeals.store(upload.name, upload.read(), user)
        v.status, v.appeal_note, v.appealed_at = S.APPEALED, note, timezone.now()
        v.save(update_fields=["status", "appeal_note", "appealed_at", "appeal_file"])
        record(user, "violation.appealed", v, before, _snap(v), note)
    return v


def decide(v: Violation, user, *, upheld: bool, reason: str, dismiss: bool = False, today=None) -> Violation:
    """Compliance decides, with its reason. Upheld: the fines of the schedule in effect today (the
    offender's, and the direct supervisor's when the book names one) are copied onto the case. Not
    upheld: no fine. Dismissal (resale cases only) ends the person's access today and nominates them
    for the industry blacklist. A case must have been notified first unless it is not upheld."""
    from custos.book.models import Staff

    _need_decider(user, v)
    reason = _reason(reason, _("决定理由"))
    today = today or timezone.localdate()
    with transaction.atomic():
        v = Violation.objects.select_for_update().get(pk=v.pk)
        _state(v, S.NOTIFIED, S.APPEALED, *(() if upheld else (S.PROPOSED,)))
        if dismiss and (not upheld or v.kind != Violation.Kind.RESALE):
            raise DisciplineError(_("只有成立的泄露或倒卖客户信息案件可以解除劳动合同。"))
        before = _snap(v)
        v.status = S.DECIDED
        v.outcome = Violation.Outcome.UPHELD if upheld else Violation.Outcome.NOT_UPHELD
        v.decided_at, v.decided_on, v.decided_by, v.decision_reason = timezone.now(), today, user, reason
        if upheld:
            fine = conf.fine_on(v.kind, today)
            if fine is None:
                raise DisciplineError(
                    _("罚款标准中没有 %(day)s 起适用于“%(kind)s”的条目。")
                    % {"day": today.isoformat(), "kind": v.get_kind_display()}
                )
            staff = Staff.objects.filter(staff_no=v.staff_no).first()
            v.schedule_from, v.offender_fine = fine.effective_from, fine.offender
            v.supervisor_no = (staff.supervisor_no if staff else "") or ""
            v.supervisor_fine = fine.supervisor if v.supervisor_no else None
            v.dismissed = dismiss
        v.save()
        record(user, "violation.decided", v, before, _snap(v), reason)
        if dismiss:
            _dismiss(v, user, reason, today)
    return v


def close(v: Violation, user, *, paid: bool, note: str = "") -> Violation:
    """An upheld case's fines deducted by payroll (paid), or waived by compliance with a reason."""
    if paid:
        if not (can(user, "violation.fines") or can(user, "violation.decide")):
            raise NotAllowed(_("您的角色不能登记罚款缴纳。"))
    else:
        _need_decider(user, v)
        note = _reason(note, _("免除理由"))
    with transaction.atomic():
        v = Violation.objects.select_for_update().get(pk=v.pk)
        _state(v, S.DECIDED)
        if v.outcome != Violation.Outcome.UPHELD:
            raise DisciplineError(_("违规不成立的案件没有罚款。"))
        before = _snap(v)
        v.status = S.PAID if paid else S.WAIVED
        v.closed_at, v.closed_by, v.close_note = timezone.now(), user, note[:500]
        v.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
        record(user, "violation.paid" if paid else "violation.waived", v, before, _snap(v), note)
    return v


# --- dismissal and the blacklist nomination ----------------------------------------------------------


def _dismiss(v: Violation, user, reason: str, today) -> Nomination:
    """Inside the decision's transaction: the person's users can no longer sign in or act (inactive:
    ModelBackend refuses them, `can` gives them nothing, their sessions no longer resolve), their API
    tokens are revoked; both recorded by the audit watchers as this decider's change."""
    from django.contrib.auth import get_user_model

    from custos.access.models import Profile
    from custos.api.models import ApiToken

    user_ids = list(Profile.objects.filter(staff_no=v.staff_no).values_list("user_id", flat=True))
    with acting(user, reason=_("因泄露或倒卖客户信息解除劳动合同（违规案件 #%(pk)s）") % {"pk": v.pk}):
        for u in get_user_model().objects.filter(pk__in=user_ids, is_active=True):
            u.is_active = False
            u.save(update_fields=["is_active"])
        for token in ApiToken.objects.filter(user_id__in=user_ids, revoked=False):
            token.revoked = True
            token.save(update_fields=["revoked"])
    nomination = Nomination.objects.create(
        violation=v, staff_no=v.staff_no, reason=reason[:500], dismissed_on=today, created_at=timezone.now()
    )
    record(
        user, "nomination.proposed", nomination, None, snapshot(nomination, ["staff_no", "status"]), reason
    )
    return nomination


def approve_nomination(nomination: Nomination, user, note: str = "") -> Nomination:
    """Compliance approves a nomination; the blacklist exchange then sends it (approved_nominations)."""
    if not can(user, "violation.decide"):
        raise NotAllowed(_("只有合规人员可以批准黑名单提名。"))
    with transaction.atomic():
        n = Nomination.objects.select_for_update().get(pk=nomination.pk)
        if n.status != Nomination.Status.PROPOSED:
            raise DisciplineError(_("黑名单提名 #%(pk)s 已批准或已报送。") % {"pk": n.pk})
        before = snapshot(n, ["status"])
        n.status, n.approved_by, n.approved_at = Nomination.Status.APPROVED, user, timezone.now()
        n.save(update_fields=["status", "approved_by", "approved_at"])
        record(user, "nomination.approved", n, before, snapshot(n, ["status"]), note)
    return n


def approved_nominations():
    """What the blacklist exchange should send to the association: approved, not yet sent."""
    return Nomination.objects.filter(status=Nomination.Status.APPROVED).order_by("id")


def nominee(nomination: Nomination) -> dict:
    """The row the association's list takes (id_no, name, reason, dismissed_on) from the book's staff
    table; id_no is "" when the book does not have it."""
    from custos.book.models import Staff

    staff = Staff.objects.filter(staff_no=nomination.staff_no).first()
    return {
        "staff_no": nomination.staff_no,
        "id_no": (staff.id_no or "") if staff else "",
        "name": staff.name if staff else "",
        "reason": nomination.reason,
        "dismissed_on": nomination.dismissed_on.isoformat(),
    }


def mark_sent(nomination: Nomination, actor=None) -> Nomination:
    """The association received the nomination (called by the blacklist exchange after sending)."""
    with transaction.atomic():
        n = Nomination.objects.select_for_update().get(pk=nomination.pk)
        if n.status != Nomination.Status.APPROVED:
            raise DisciplineError(_("黑名单提名 #%(pk)s 未经批准，不能报送。") % {"pk": n.pk})
        before = snapshot(n, ["status"])
        n.status, n.sent_at = Nomination.Status.SENT, timezone.now()
        n.save(update_fields=["status", "sent_at"])
        record(actor, "nomination.sent", n, before, snapshot(n, ["status"]))
    return n


def total(v: Violation) -> Decimal:
    return (v.offender_fine or Decimal("0")) + (v.supervisor_fine or Decimal("0"))
