"""Contact attempts, corrections (four eyes), return visits, closing and sampling."""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import can
from custos.access.models import Profile
from custos.audit.record import record
from custos.book.models import Party, Policy
from custos.checks.models import Finding
from custos.domain import masking
from custos.remediation import conf
from custos.remediation.models import (
    ContactAttempt,
    Correction,
    CorrectionHistory,
    Evidence,
    Sample,
    Task,
    Violation,
)
from custos.remediation.services.errors import (
    Conflict,
    IllegalTransition,
    NotAllowed,
    RemediationError,
    RequestNumberRequired,
    SelfApproval,
)
from custos.remediation.services.evidence import _keys
from custos.remediation.services.states import (
    EDITABLE_FIELDS,
    S,
    _bump,
    _ctx,
    _event,
    _require_scope,
    check_transition,
    check_version,
    scoped_tasks,
    transition,
)
from custos.remediation.services.validation import ValueRefused, check_new_value

# --- contact attempts -----------------------------------------------------------------------------


def _mask_contact(method: str, contact: str) -> str:
    if not contact:
        return ""
    if method in ("phone", "sms"):
        kind = "mobile" if contact.isdigit() and len(contact) == 11 else "phone"
        return str(masking.mask_field(kind, contact))
    return str(masking.mask_field("address", contact))


def record_attempt(task: Task, user, method: str, contact: str, outcome: str, note: str = "",
                   *, at: dt.datetime | None = None, version: int | None = None) -> ContactAttempt:  # fmt: skip
    check_version(version)
    _require_scope(user, task)
    if method not in ContactAttempt.Method.values:
        raise RemediationError(_("未知的联系方式：%(method)s。") % {"method": method})
    if outcome not in ContactAttempt.Outcome.values:
        raise RemediationError(_("未知的联系结果：%(outcome)s。") % {"outcome": outcome})
    if task.status == S.CLOSED:
        raise IllegalTransition(_("任务已关闭，不能再登记联系。"))
    with transaction.atomic():
        attempt = ContactAttempt.objects.create(
            task=task, at=at or timezone.now(), by=user, method=method, outcome=outcome, note=note[:500],
            contact_sealed=_keys().seal(contact, "remediation.attempt.contact"),
            contact_masked=_mask_contact(method, contact),
        )  # fmt: skip
        if task.status == S.OPEN:
            transition(task, S.CONTACTING, user, f"{method}: {outcome}", version=version)
        else:
            _bump(task, version)
    return attempt


# --- corrections ----------------------------------------------------------------------------------


def _party(task: Task) -> Party:
    party = Party.objects.filter(policy_no=task.policy_no, role=task.role, seq=task.seq).first()
    if party is None:
        raise RemediationError(_("该任务是保单层面的问题，没有可更正的客户信息。"))
    return party


def _as_text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def needs_request_no(task: Task, field_name: str) -> bool:
    if field_name not in conf.get("contact_fields"):
        return False
    return Policy.objects.filter(policy_no=task.policy_no, issued_on__isnull=False).exists()


def _staff_no(user) -> str:
    return Profile.objects.filter(user=user).values_list("staff_no", flat=True).first() or ""


def propose_correction(
    task: Task,
    user,
    field_name: str,
    new_value: str,
    *,
    request_no: str = "",
    evidence: Evidence | None = None,
    note: str = "",
    force: bool = False,
    version: int | None = None,
) -> Correction:
    """Propose a new value for one field of the task's party. Contact data of an issued policy needs
    the customer's request number: refused without one, unless forced — a forced change is recorded
    as an SC01 violation against the operator (the proposer)."""
    check_version(version)
    kept = {"field": field_name, "new_value": new_value, "request_no": request_no, "note": note}
    _require_scope(user, task)
    if field_name not in EDITABLE_FIELDS:
        raise RemediationError(_("字段 %(field)s 不可更正。") % {"field": field_name})
    request_no = (request_no or "").strip()
    forced = False
    if needs_request_no(task, field_name) and not request_no:
        if not force:
            raise RequestNumberRequired(
                _("已承保保单的联系方式（手机、电话、地址）变更必须有客户申请单号；未填写，已拒绝。")
            )
        forced = True
    if task.status == S.CLOSED:
        raise IllegalTransition(_("任务已关闭，不能再提交更正。"))
    party = _party(task)
    try:
        with transaction.atomic():
            if Correction.objects.filter(task__policy_no=task.policy_no, task__role=task.role, task__seq=task.seq,
                                         field=field_name, status=Correction.Status.PROPOSED).exists():  # fmt: skip
                raise Conflict(
                    _("该字段已有一项更正在复核中。"),
                    kept=kept,
                )
            if task.status == S.REVIEW:
                _bump(task, version, kept)
            else:
                transition(task, S.REVIEW, user, f"correction of {field_name}", version=version, kept=kept)
            # after the version check (a stale form is a conflict whatever it holds); a refusal rolls back
            check_new_value(task.policy_no, task.role, task.seq, field_name, new_value)
            correction = Correction.objects.create(
                task=task, policy_no=task.policy_no, role=task.role, seq=task.seq, field=field_name,
                old_value=_as_text(getattr(party, field_name)), new_value=new_value.strip(), request_no=request_no,
                forced=forced, evidence=evidence, note=note[:500], proposed_by=user, proposed_at=timezone.now(),
            )  # fmt: skip
            if forced:
                Violation.objects.create(
                    code="SC01", user=user, staff_no=_staff_no(user), policy_no=task.policy_no,
                    correction=correction, at=timezone.now(),
                    detail=f"forced change of {field_name} of {task.policy_no}/{task.role}/{task.seq} "
                    "after issue without a customer request number",
                )  # fmt: skip
    except ValueRefused:
        task.refresh_from_db()  # the transition above was rolled back: so is the task in memory
        raise
    return correction


def proposed_fill(task: Task, finding_id) -> tuple[str, str]:
    """Identity's proposed value for one of the task's open findings (Finding.proposed, e.g. the
    18-digit ID number): (field, value), read on the server so the page never shows it in clear."""
    fid = int(finding_id) if str(finding_id).isdigit() and len(str(finding_id)) < 12 else 0
    f = (
        Finding.objects.filter(pk=fid, pk__in=task.links.values("finding_id"), status=Finding.Status.OPEN)
        .exclude(proposed="")
        .first()
    )
    if f is None or f.field not in EDITABLE_FIELDS:
        raise RemediationError(_("该问题没有可采用的建议值。"))
    return f.field, f.proposed


def review_correction(correction: Correction, reviewer, *, approve: bool, note: str = "",
                      version: int | None = None) -> Correction:  # fmt: skip
    """Four eyes: a second person approves (and so applies) or rejects a proposed correction."""
    check_version(version)
    task = correction.task
    if reviewer.pk == correction.proposed_by_id:
        raise SelfApproval(_("不能复核自己提交的更正（双人复核）。"))
    if not can(reviewer, "task.review"):
        raise NotAllowed(_("您的角色不能复核更正。"))
    _require_scope(reviewer, task)
    if correction.status != Correction.Status.PROPOSED:
        raise IllegalTransition(
            _("该更正已处理（%(status)s）。") % {"status": correction.get_status_display()}
        )
    now = timezone.now()
    with transaction.atomic():
        n = Correction.objects.filter(pk=correction.pk, status=Correction.Status.PROPOSED).update(
            status=Correction.Status.APPLIED if approve else Correction.Status.REJECTED,
            reviewed_by=reviewer, reviewed_at=now, review_note=note[:500], applied_at=now if approve else None,
        )  # fmt: skip
        if n == 0:
            raise Conflict(_("该更正已被他人复核。"))
        correction.refresh_from_db()
        pending = task.corrections.filter(status=Correction.Status.PROPOSED).exists()
        if approve:
            try:
                _apply(correction, reviewer, now)
            except ValueRefused:
                correction.status = Correction.Status.PROPOSED  # rolled back with the transaction
                raise
        task.refresh_from_db() if version is None else None
        if pending:
            _bump(task, version)
            _event(task.pk, reviewer, "review", task.status, task.status, f"{correction.field}: {approve}")
        elif approve or task.corrections.filter(status=Correction.Status.APPLIED).exists():
            transition(task, S.CORRECTED, reviewer, f"approved {correction.field} {note}", version=version)
        else:
            transition(task, S.CONTACTING, reviewer, f"rejected {correction.field}: {note}", version=version)
        _record_review(correction, reviewer, approve, note)  # last: the audit lock is held to the commit
    return correction


def _apply(correction: Correction, user, now) -> None:
    """Write the new value to the party's current row, with history; refuse if the party changed."""
    qs = Party.objects.select_for_update().filter(
        policy_no=correction.policy_no, role=correction.role, seq=correction.seq
    )
    party = qs.first()
    if _as_text(getattr(party, correction.field)) != correction.old_value:
        raise Conflict(
            _("客户信息在提交更正后已被修改，请重新提交更正。"),
            kept={"field": correction.field},  # not the value: the reviewer did not submit it
        )
    # checked again: the book (or another party of the policy) may have changed since the proposal
    check_new_value(
        correction.policy_no, correction.role, correction.seq, correction.field, correction.new_value
    )
    _write(qs, correction.field, correction.new_value)
    CorrectionHistory.objects.create(
        policy_no=correction.policy_no, role=correction.role, seq=correction.seq, field=correction.field,
        old_value=correction.old_value, new_value=correction.new_value, correction=correction,
        applied_by=user, applied_at=now,
    )  # fmt: skip


def _write(qs, field_name: str, text: str) -> None:
    """One field of the party's current row (qs: the row, locked), its blind index with it; the
    integrity tag follows (Party's TaggedQuerySet.update)."""
    value = text
    if Party._meta.get_field(field_name).get_internal_type() == "DateField":
        value = dt.date.fromisoformat(text) if text else None
    changes = {field_name: value}
    if any(f.name == f"{field_name}_bidx" for f in Party._meta.concrete_fields):
        from custos.crypto.fields import blind_index  # update() bypasses BlindIndexField.pre_save

        changes[f"{field_name}_bidx"] = blind_index(value, field_name)
    qs.update(**changes)


def _revert(correction: Correction, user, now, note: str) -> bool:
    """A failed return visit: the unverified value leaves the record — the value before the correction
    is written back, with history and in the tamper-evident log. Not when the party changed since
    (a later correction or book holds another value): that value is not this correction's."""
    qs = Party.objects.select_for_update().filter(
        policy_no=correction.policy_no, role=correction.role, seq=correction.seq
    )
    party = qs.first()
    if party is None or _as_text(getattr(party, correction.field)) != correction.new_value:
        return False
    _write(qs, correction.field, correction.old_value)
    CorrectionHistory.objects.create(
        policy_no=correction.policy_no, role=correction.role, seq=correction.seq, field=correction.field,
        old_value=correction.new_value, new_value=correction.old_value, correction=correction,
        applied_by=user, applied_at=now,
    )  # fmt: skip
    record(
        user,
        "party.corrected",
        (Party, party.pk),
        {correction.field: correction.new_value},
        {correction.field: correction.old_value},
        f"correction #{correction.pk} reverted: return visit failed {note}"[:500],
    )
    return True


def _record_review(correction: Correction, reviewer, approve: bool, note: str) -> None:
    """The review in the tamper-evident log: the party's corrected value (sealed, from _apply) and
    the decision. Called last in review_correction's transaction (custos.audit.record)."""
    if approve:
        party_pk = (
            Party.objects.filter(policy_no=correction.policy_no, role=correction.role, seq=correction.seq)
            .values_list("pk", flat=True)
            .first()
        )
        record(
            reviewer,
            "party.corrected",
            (Party, party_pk),
            {correction.field: correction.old_value},
            {correction.field: correction.new_value},
            f"correction #{correction.pk}",
        )
    record(
        reviewer,
        "correction.approved" if approve else "correction.rejected",
        correction,
        {"status": Correction.Status.PROPOSED},
        {"status": correction.status, "review_note": note[:500]},
        f"task #{correction.task_id}",
    )


# --- verification and closing ---------------------------------------------------------------------


def verify_task(task: Task, user, *, contact: str, success: bool, note: str = "",
                version: int | None = None) -> Task:  # fmt: skip
    """A return visit by customer service to the corrected contact. Success verifies the applied
    corrections (and the task); failure sends the task back to contacting."""
    check_version(version)
    if not can(user, "task.verify"):
        raise NotAllowed(_("回访须由客服人员完成。"))
    _require_scope(user, task)
    applied = list(task.corrections.filter(status=Correction.Status.APPLIED))
    if task.status != S.CORRECTED or not applied:
        check_transition(task.status, S.VERIFIED)
    corrected_contacts = [c.new_value for c in applied if c.field in ("mobile", "phone", "address")]
    if corrected_contacts and contact.strip() not in corrected_contacts:
        raise RemediationError(_("回访须拨打/寄送到更正后的联系方式。"))
    now = timezone.now()
    with transaction.atomic():
        ContactAttempt.objects.create(
            task=task, at=now, by=user, method="phone", outcome="reached" if success else "wrong",
            contact_sealed=_keys().seal(contact, "remediation.attempt.contact"),
            contact_masked=_mask_contact("phone", contact), note=("回访 " + note)[:500],
        )  # fmt: skip
        if success:
            transition(task, S.VERIFIED, user, f"return visit ok {note}", version=version)
            Correction.objects.filter(pk__in=[c.pk for c in applied]).update(
                status=Correction.Status.VERIFIED, verified_by=user, verified_at=now
            )
        else:
            transition(task, S.CONTACTING, user, f"return visit failed {note}", version=version)
            Correction.objects.filter(pk__in=[c.pk for c in applied]).update(status=Correction.Status.FAILED)
            for c in applied:  # the record must not keep a value the customer did not confirm
                _revert(c, user, now, note)
        for c in applied:  # the verification of each correction in the tamper-evident log
            record(
                user,
                "correction.verified" if success else "correction.failed",
                c,
                {"status": c.status},
                {"status": "verified" if success else "failed"},
                f"task #{task.pk}: return visit {note}",
            )
    return task


def close_task(task: Task, user, reason: str = "", *, version: int | None = None) -> Task:
    """A person closes a task: only a verified one, and only when no finding of it is still open
    (normally the next book's check run closes verified tasks by itself)."""
    check_version(version)
    _require_scope(user, task)
    check_transition(task.status, S.CLOSED)
    if Finding.objects.filter(pk__in=task.links.values("finding_id"), status=Finding.Status.OPEN).exists():
        raise IllegalTransition(_("任务仍有未关闭的问题：更正导出核心系统后，由下一期数据复查关闭。"))
    transition(task, S.CLOSED, user, reason, version=version, closed_at=timezone.now(), closed_by=user,
               close_reason=Task.CloseReason.VERIFIED, reopened=False)  # fmt: skip
    return task


# --- sampling inspection (抽检) -------------------------------------------------------------------


def draw_samples(
    user=None, *, share: float | None = None, seed: int | None = None, scope=None
) -> list[Sample]:
    """Draw a share of the closed, not yet sampled tasks at random (of `scope`'s tasks — an
    AccessContext or a user — when given: a compliance officer draws from their own branches)."""
    share = float(conf.get("sample_share") if share is None else share)
    if not 0 <= share <= 1:
        raise RemediationError(_("抽检比例须在 0 到 1 之间：%(share)s。") % {"share": share})
    if scope is not None and not can(_ctx(scope), "sample.draw"):
        raise NotAllowed(_("抽检由合规人员抽取。"))
    tasks = Task.objects.all() if scope is None else scoped_tasks(scope)
    pool = list(tasks.filter(status=S.CLOSED).exclude(samples__isnull=False).values_list("id", flat=True))
    k = min(len(pool), round(len(pool) * share)) if pool else 0
    if pool and share > 0 and k == 0:
        k = 1
    chosen = (random.Random(seed) if seed is not None else random.SystemRandom()).sample(pool, k)
    now = timezone.now()
    out = []
    for task in Task.objects.filter(pk__in=chosen):
        closer = task.closed_by_id or (
            task.corrections.filter(status=Correction.Status.VERIFIED)
            .order_by("-verified_at")
            .values_list("verified_by_id", flat=True)
            .first()
        )
        out.append(Sample.objects.create(task=task, drawn_at=now, drawn_by=user, closer_id=closer))
    return out


def record_sample(sample: Sample, user, *, passed: bool, note: str = "") -> Sample:
    """Record the re-check; a failure reopens the task (unless the party already has a new open task,
    which then carries the note) and counts against whoever closed it (Sample.closer)."""
    if sample.result != Sample.Result.PENDING:
        raise IllegalTransition(_("该抽检已有结果。"))
    if not can(user, "sample.check"):
        raise NotAllowed(_("抽检须由客服或合规人员完成。"))
    if user.pk == sample.closer_id:
        raise SelfApproval(_("不能抽检自己关闭的任务。"))
    _require_scope(user, sample.task)
    with transaction.atomic():
        sample.result = Sample.Result.PASSED if passed else Sample.Result.FAILED
        sample.checked_by, sample.checked_at, sample.note = user, timezone.now(), note[:500]
        sample.save()
        task = sample.task
        if not passed:
            other = Task.objects.filter(policy_no=task.policy_no, role=task.role, seq=task.seq).exclude(
                status=S.CLOSED
            )
            if other.exists():
                for t in other:
                    _event(
                        t.pk, user, "sample_failed", t.status, t.status, f"sample of task #{task.pk}: {note}"
                    )
            else:
                transition(task, S.CONTACTING, user, f"sample failed: {note}", reopened=True, closed_at=None,
                           close_reason="")  # fmt: skip
    return sample
