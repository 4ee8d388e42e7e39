"""Remediation: tasks that group a party's open findings, the people who work them, the corrections
they make and the checks on those corrections. See docs/remediation.md.

不重不漏 (no duplicates, no omissions), enforced by the database where it can be:

- a task belongs to one party, keyed (policy_no, role, seq) like the book (policy-level findings use
  role "policy", seq 0); at most one *open* task per party: a partial unique constraint
  (status <> 'closed'), on SQLite and PostgreSQL alike;
- a finding row (one episode of an identity) belongs to at most one task ever: TaskFinding.finding is
  unique; `services.sync_tasks` links every open finding to its party's open task.

Every change of a task's status is a TaskEvent (who, when, from, to, why). `version` is the optimistic
lock: each change increments it, and a change made against an older version is refused (Conflict).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from custos.checks.models import CheckRun, Finding
from custos.crypto.fields import EncryptedTextField

User = settings.AUTH_USER_MODEL


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        CONTACTING = "contacting", _("联系中")
        REVIEW = "review", _("待复核")
        CORRECTED = "corrected", _("已更正待回访")
        VERIFIED = "verified", _("已回访确认")
        CLOSED = "closed", _("已关闭")

    class CloseReason(models.TextChoices):
        VERIFIED = "verified", _("更正已回访确认，复查通过")
        BOOK = "book", _("新一期数据复查通过")

    class Rule(models.TextChoices):
        PARTNER = "partner", _("合作机构")
        AGENT = "agent", _("业务员")
        CHANNEL_MANAGER = "channel_manager", _("渠道经理（孤儿单）")
        MANUAL = "manual", _("手工指派")

    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    close_reason = models.CharField(max_length=12, choices=CloseReason.choices, blank=True)
    version = models.IntegerField(default=1)

    # denormalised from the policy at creation (filters and progress without a join)
    channel = models.CharField(max_length=16, blank=True)
    branch_code = models.CharField(max_length=64, blank=True)
    agent_no = models.CharField(max_length=64, blank=True)
    partner_code = models.CharField(max_length=64, blank=True)

    assignee = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assign_rule = models.CharField(max_length=16, choices=Rule.choices, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    reopened = models.BooleanField(default=False)  # by a failed sample: only a person closes it again
    due_on = models.DateField()
    open_findings = models.IntegerField(default=0)
    findings_total = models.IntegerField(default=0)
    checks = models.CharField(max_length=200, blank=True)  # open check codes, "PH02 PH03"

    opened_run = models.ForeignKey(CheckRun, on_delete=models.PROTECT, related_name="+")
    closed_run = models.ForeignKey(
        CheckRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalation = models.IntegerField(default=0)  # 0 none, 1 manager, 2 compliance
    escalated_to = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_no", "role", "seq"],
                condition=~Q(status="closed"),
                name="task_one_open_per_party",
            )
        ]
        indexes = [
            models.Index(fields=["policy_no", "role", "seq"], name="task_party"),
            models.Index(fields=["assignee", "status", "due_on"], name="task_assignee"),
            models.Index(fields=["status", "channel"], name="task_status_channel"),
            models.Index(fields=["status", "branch_code"], name="task_status_branch"),
        ]

    def __str__(self) -> str:
        return f"task #{self.pk} {self.policy_no}/{self.role}/{self.seq} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


class TaskFinding(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="links")
    finding = models.OneToOneField(Finding, on_delete=models.PROTECT, related_name="+")


class TaskEvent(models.Model):
    """One recorded step of a task: a status transition, an assignment, a reminder, an escalation."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=24)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]


class ContactAttempt(models.Model):
    class Method(models.TextChoices):
        PHONE = "phone", _("电话")
        SMS = "sms", _("短信")
        LETTER = "letter", _("信函")
        ONSITE = "onsite", _("上门")

    class Outcome(models.TextChoices):
        REACHED = "reached", _("已联系上")
        NO_ANSWER = "no_answer", _("无人接听")
        WRONG = "wrong", _("号码/地址错误")
        REFUSED = "refused", _("客户拒绝")
        SENT = "sent", _("已寄出/已发送")
        RETURNED = "returned", _("退信")

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField()
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=8, choices=Method.choices)
    contact_sealed = models.TextField(blank=True)  # number or address used, AES-GCM (custos.crypto)
    contact_masked = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]


class Evidence(models.Model):
    """An uploaded file backing a correction: type and size checked, bytes stored encrypted."""

    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=64)
    size = models.IntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=500)  # under CUSTOS_HOME/evidence, sealed
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()


class ExportBatch(models.Model):
    """One correction file for the core systems, and its acknowledgement."""

    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    path = models.CharField(max_length=500)
    encoding = models.CharField(max_length=8)
    rows = models.IntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    acked_at = models.DateTimeField(null=True, blank=True)
    accepted = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)


class Correction(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待复核")
        REJECTED = "rejected", _("复核退回")
        APPLIED = "applied", _("已更正待回访")
        VERIFIED = "verified", _("已回访确认")
        FAILED = "failed", _("回访未通过")

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="corrections")
    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    field = models.CharField(max_length=32)
    old_value = EncryptedTextField()  # a contact or ID value: sealed at rest (custos.crypto)
    new_value = EncryptedTextField()
    request_no = models.CharField(max_length=64, blank=True)
    forced = models.BooleanField(default=False)  # contact change of an issued policy without request no
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    evidence = models.ForeignKey(Evidence, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)

    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)

    export_batch = models.ForeignKey(
        ExportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    ack_status = models.CharField(max_length=10, blank=True)  # accepted | rejected (by the core system)
    ack_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]


class CorrectionHistory(models.Model):
    """A party value changed by an applied correction. book.PartyHistory records changes *between
    loads* and requires a load; corrections between loads are recorded here instead."""

    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    field = models.CharField(max_length=32)
    old_value = EncryptedTextField()  # a contact or ID value: sealed at rest (custos.crypto)
    new_value = EncryptedTextField()
    correction = models.ForeignKey(Correction, on_delete=models.PROTECT, related_name="history")
    applied_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["policy_no", "role", "seq"], name="corrhist_party")]


class Violation(models.Model):
    """A breach by an operator, e.g. SC01: contact data of an issued policy changed without a customer
    request number. The discipline app will take these over."""

    code = models.CharField(max_length=8)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    staff_no = models.CharField(max_length=64, blank=True)
    policy_no = models.CharField(max_length=64)
    correction = models.ForeignKey(
        Correction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    detail = models.CharField(max_length=500)


class Sample(models.Model):
    """抽检: a closed task drawn for re-check; a failed sample reopens it and counts against its closer."""

    class Result(models.TextChoices):
        PENDING = "pending", _("待抽检")
        PASSED = "passed", _("抽检通过")
        FAILED = "failed", _("抽检不通过")

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="samples")
    drawn_at = models.DateTimeField()
    drawn_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closer = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    result = models.CharField(max_length=8, choices=Result.choices, default=Result.PENDING)
    checked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)


class LetterBatch(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("客户确认函")
        PARTNER = "partner", _("合作机构通知")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    task_ids = models.JSONField(default=list)
    partner_code = models.CharField(max_length=64, blank=True)
    count = models.IntegerField(default=0)


class Notice(models.Model):
    """A reminder or an escalation sent to a person (shown on their task list; e-mailed when
    conf "notify_email" is on). Unique per (recipient, task, kind, occasion): running the reminders
    twice sends nothing twice."""

    class Kind(models.TextChoices):
        REMIND = "remind", _("即将到期提醒")
        ESCALATE_MANAGER = "escalate_manager", _("逾期升级（主管）")
        ESCALATE_COMPLIANCE = "escalate_compliance", _("逾期升级（合规）")

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occasion = models.CharField(max_length=40)  # the due date reminded of, or the escalation level
    at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "task", "kind", "occasion"], name="notice_once")
        ]
        indexes = [models.Index(fields=["recipient", "at"], name="notice_recipient")]
