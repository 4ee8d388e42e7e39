"""The violations register (违规处理), its evidence, appeals and the blacklist nominations.

A Violation names one staff member (the book's staff_no) and moves proposed → notified → appealed →
decided → paid | waived; every move is recorded through custos.audit.record (who, why). A proposal is
never a decision: only a holder of violation.decide decides, and the decision copies the fine schedule
entry in effect that day onto the case (offender and supervisor amounts, exact yuan), so a later
schedule never changes a decided case.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Violation(models.Model):
    class Kind(models.TextChoices):
        SALES = "sales", _("销售违规")
        OPERATIONS = "operations", _("运营违规")
        DATA_MISUSE = "data_misuse", _("违规使用客户信息")
        RESALE = "resale", _("泄露或倒卖客户信息")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("建议")
        NOTIFIED = "notified", _("已告知")
        APPEALED = "appealed", _("申诉中")
        DECIDED = "decided", _("已决定")
        PAID = "paid", _("已缴纳")
        WAIVED = "waived", _("已免除")

    class Source(models.TextChoices):
        SC01 = "sc01", _("无申请修改联系信息（SC01）")
        AGENT_CONTACT = "agent_contact", _("以员工电话或网点地址冒充客户信息")
        DENIED = "denied", _("越权访问客户信息")
        EXTRACTION = "extraction", _("未获批准的数据提取")
        LEAK = "leak", _("泄露追查的来源")
        MANUAL = "manual", _("人工提出")

    class Outcome(models.TextChoices):
        UPHELD = "upheld", _("违规成立")
        NOT_UPHELD = "not_upheld", _("违规不成立")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    staff_no = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    # the fact a proposal stands for ("sc01:P123", "denied:2026-12-07"): one case per person and fact
    group_key = models.CharField(max_length=120, blank=True)
    subject = models.CharField(max_length=120, blank=True)  # the fact's id: a policy, a day, an extraction
    summary = models.CharField(max_length=500, blank=True)  # a manual proposal's text (no customer data)

    proposed_at = models.DateTimeField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_by_name = models.CharField(max_length=150)  # the user, or "system" / "cli:<os user>"
    notified_at = models.DateTimeField(null=True, blank=True)

    appeal_note = models.TextField(blank=True)
    appeal_file = models.ForeignKey(
        "AppealFile", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    appealed_at = models.DateTimeField(null=True, blank=True)

    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_on = models.DateField(
        null=True, blank=True, db_index=True
    )  # the schedule's day, the list's month
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    # the schedule entry the case was decided under, copied: later schedules do not change it
    schedule_from = models.DateField(null=True, blank=True)
    offender_fine = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    supervisor_no = models.CharField(max_length=64, blank=True)  # Staff.supervisor_no at the decision
    supervisor_fine = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    dismissed = models.BooleanField(default=False)

    closed_at = models.DateTimeField(null=True, blank=True)  # paid or waived
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "违规案件")
        verbose_name_plural = pgettext_lazy("models", "违规案件")
        constraints = [
            models.UniqueConstraint(
                fields=["staff_no", "group_key"], condition=~Q(group_key=""), name="violation_one_per_fact"
            )
        ]

    def __str__(self) -> str:
        return f"violation #{self.pk} {self.kind} {self.staff_no} ({self.status})"

    @property
    def fact(self) -> str:
        """What the case is about, in the reader's language (a manual proposal: the proposer's text)."""
        texts = {
            self.Source.SC01: _("保单 %(s)s：客户联系信息在承保后被修改，没有客户的变更申请"),
            self.Source.AGENT_CONTACT: _("保单 %(s)s：客户的电话或地址是员工本人或网点的"),
            self.Source.DENIED: _("%(s)s：多次查询权限范围以外的客户信息，均被拒绝"),
            self.Source.EXTRACTION: _("数据提取申请 #%(s)s 未获批准（已驳回）"),
            self.Source.LEAK: _("泄露追查 #%(s)s：泄露文件来自其经手的数据提取"),
        }
        text = texts.get(self.source)
        return str(text % {"s": self.subject}) if text is not None else self.summary

    @property
    def open(self) -> bool:
        return self.status in (self.Status.PROPOSED, self.Status.NOTIFIED, self.Status.APPEALED)


class EvidenceLink(models.Model):
    """One fact a case rests on, by kind and id. The same fact is never evidence twice against the same
    person (the constraint), which is what makes proposing idempotent."""

    class Kind(models.TextChoices):
        FINDING = "finding", _("问题")
        CHANGE = "change", _("信息变更记录")
        AUDIT = "audit", _("审计日志条目")
        EXTRACTION = "extraction", _("数据提取")
        LEAK = "leak", _("泄露追查")
        TASK = "task", _("整改任务")
        NOTE = "note", _("说明")

    violation = models.ForeignKey(Violation, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    ref = models.CharField(max_length=64)
    staff_no = models.CharField(max_length=64)  # the case's, for the constraint
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref", "staff_no"], name="evidence_once_per_person")
        ]


class AppealFile(models.Model):
    """A file the staff member appeals with: type and size checked, bytes stored sealed on disk."""

    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=64)
    size = models.IntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=500)  # under CUSTOS_HOME/discipline, sealed
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()


class Nomination(models.Model):
    """A dismissed staff member nominated for the industry blacklist: compliance approves, then the
    blacklist exchange sends it to the association (approved_nominations, mark_sent)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待批准")
        APPROVED = "approved", _("已批准")
        SENT = "sent", _("已报送")

    violation = models.OneToOneField(Violation, on_delete=models.PROTECT, related_name="nomination")
    staff_no = models.CharField(max_length=64, db_index=True)
    reason = models.CharField(max_length=500)
    dismissed_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    created_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "黑名单提名")
        verbose_name_plural = pgettext_lazy("models", "黑名单提名")

    def __str__(self) -> str:
        return f"nomination #{self.pk} {self.staff_no} ({self.status})"
