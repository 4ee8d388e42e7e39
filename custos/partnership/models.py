"""Partners who do not correct: clean-up campaigns (清查活动), the formal letter to each partner
(正式发函) with its tracked delivery, termination recommendations with compliance's opinion and
decision, and the terminations the rest of custos consults (custos.partnership.status).

Money in whole fen (BigIntegerField), as the commission ledger keeps it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

User = settings.AUTH_USER_MODEL


class Campaign(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("进行中")
        CLOSED = "closed", _("已结束")

    name = models.CharField(max_length=200)
    started_on = models.DateField()
    deadline = models.DateField()  # partners correct their policies by this date
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by_name = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name = pgettext_lazy("model", "清查活动")
        verbose_name_plural = pgettext_lazy("models", "清查活动")

    def __str__(self) -> str:
        return self.name


class Letter(models.Model):
    """The formal letter of a campaign to one partner: numbered, its PDF kept with its SHA-256, and
    its delivery tracked step by step (LetterEvent)."""

    class Status(models.TextChoices):
        DRAFTED = "drafted", _("已起草")
        SENT = "sent", _("已发出")
        DELIVERED = "delivered", _("已送达")
        ACKNOWLEDGED = "acknowledged", _("已回执")
        RETURNED = "returned", _("被退回")
        REFUSED = "refused", _("拒绝配合")

    class Via(models.TextChoices):
        POST = "post", _("挂号信")
        COURIER = "courier", _("快递")
        EMAIL = "email", _("电子邮件")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="letters")
    partner_code = models.CharField(max_length=64, db_index=True)
    number = models.CharField(max_length=64, unique=True)  # 发函编号
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFTED)
    deadline = models.DateField()  # as the letter states it
    policies = models.IntegerField(default=0)  # policies listed to correct
    held_fen = models.BigIntegerField(default=0)  # commission held when the letter was drafted
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=500)  # the PDF, under CUSTOS_HOME/partnership/letters
    via = models.CharField(max_length=8, choices=Via.choices, blank=True)
    tracking_no = models.CharField(max_length=100, blank=True)
    sent_on = models.DateField(null=True, blank=True)
    delivered_on = models.DateField(null=True, blank=True)
    signed_by = models.CharField(max_length=100, blank=True)
    answered_on = models.DateField(null=True, blank=True)  # acknowledged, returned or refused
    answer_note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["campaign", "partner_code"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "partner_code"], name="partner_letter_once")
        ]
        verbose_name = pgettext_lazy("model", "合作机构正式发函")
        verbose_name_plural = pgettext_lazy("models", "合作机构正式发函")

    def __str__(self) -> str:
        return self.number


class LetterEvent(models.Model):
    """One step of a letter's delivery: who recorded it, when, from which state to which, and what
    (how it was sent and the tracking number, the delivery date and who signed, the answer)."""

    letter = models.ForeignKey(Letter, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]


class Recommendation(models.Model):
    """A partner whose holding findings stayed open past the deadline, or which refused: a
    recommendation to end the agency relationship, with its evidence, for compliance to decide."""

    class Status(models.TextChoices):
        OPEN = "open", _("待决定")
        DECIDED = "decided", _("已决定")

    class Decision(models.TextChoices):
        TERMINATE = "terminate", _("终止合作")
        EXTEND = "extend", _("延长期限")
        NONE = "none", _("不采取措施")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="recommendations")
    partner_code = models.CharField(max_length=64, db_index=True)
    round = models.PositiveIntegerField(default=1)  # 2, 3, … after an extended deadline passed too
    grounds = models.JSONField(default=list)  # "overdue", "refused"
    deadline = models.DateField()  # the deadline that passed
    policies = models.IntegerField(default=0)
    open_findings = models.IntegerField(default=0)
    held_fen = models.BigIntegerField(default=0)
    deducted_fen = models.BigIntegerField(default=0)
    evidence = models.JSONField(default=dict)  # items, findings, letters (no customer values)
    created_at = models.DateTimeField()
    created_by_name = models.CharField(max_length=150)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opinion = models.TextField(blank=True)  # compliance's written opinion (意见)
    opinion_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opinion_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    reason = models.TextField(blank=True)
    new_deadline = models.DateField(null=True, blank=True)  # for "extend"
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "partner_code", "round"], name="recommendation_once_per_round"
            )
        ]
        verbose_name = pgettext_lazy("model", "终止合作建议")
        verbose_name_plural = pgettext_lazy("models", "终止合作建议")


class Termination(models.Model):
    """custos's record that a partner's agency relationship ended: its new applications are rejected
    by online screening (PT01) and its staff hold no capability from effective_on."""

    partner_code = models.CharField(max_length=64, unique=True)
    recommendation = models.OneToOneField(
        Recommendation, on_delete=models.PROTECT, related_name="termination"
    )
    effective_on = models.DateField()
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    users_deactivated = models.JSONField(default=list)  # usernames
    tokens_revoked = models.IntegerField(default=0)
    keys_revoked = models.JSONField(default=list)  # screening keys (calling systems) of this partner only

    class Meta:
        verbose_name = pgettext_lazy("model", "终止合作")
        verbose_name_plural = pgettext_lazy("models", "终止合作")


class Report(models.Model):
    """A report to head office compliance and customer service (通报): a recommendation made, or
    decided. Shown on the recommendations page to the holders of partnership.view."""

    class Kind(models.TextChoices):
        RECOMMENDED = "recommended", _("提出终止合作建议")
        DECIDED = "decided", _("合规作出决定")

    recommendation = models.ForeignKey(Recommendation, on_delete=models.PROTECT, related_name="reports")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
