"""The commission ledger: settlement runs, statements per payee, double entries, each item's state.

Money is held in fen (BigIntegerField): exact on SQLite as on PostgreSQL, summed as integers.
Accounts of one payee: expense (the insurer's cost), payable (owed to the payee; a negative balance
is a clawback receivable carried forward), held (withheld until the customer information is
corrected) and paid (sent to the payment system). Every entry moves an amount from one account to
another, so every run balances by construction and `reconcile` proves the rest."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Account(models.TextChoices):
    EXPENSE = "expense", _("佣金费用")
    PAYABLE = "payable", _("应付佣金")
    HELD = "held", _("暂扣佣金")
    PAID = "paid", _("已付佣金")


class Immutable(Exception):
    """An approved settlement run, its statements and entries are never changed or deleted."""


class _FrozenOnceApproved(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and self._approved():
            raise Immutable(f"{type(self).__name__} {self.pk} belongs to an approved settlement")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._approved():
            raise Immutable(f"{type(self).__name__} {self.pk} belongs to an approved settlement")
        return super().delete(*args, **kwargs)

    def _approved(self) -> bool:
        run_id = self.pk if isinstance(self, SettlementRun) else self.run_id
        return SettlementRun.objects.filter(pk=run_id, status=SettlementRun.Status.APPROVED).exists()


class SettlementRun(_FrozenOnceApproved):
    """One settlement of a month: the first (seq 0) or an adjustment (seq 1, 2, …) made when new
    facts arrived after it. Never edited once approved."""

    class Status(models.TextChoices):
        PREPARED = "prepared", _("待审批")
        APPROVED = "approved", _("已审批")

    month = models.CharField(max_length=7)
    seq = models.PositiveIntegerField(default=0)
    load = models.ForeignKey("book.BookLoad", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREPARED)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prepared_by_name = models.CharField(max_length=150)  # "cli:<user>" for the command
    prepared_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "seq"], name="settlement_month_seq")]
        verbose_name = pgettext_lazy("model", "佣金结算")
        verbose_name_plural = pgettext_lazy("models", "佣金结算")

    def __str__(self) -> str:
        return f"{self.month}#{self.seq}"


class Statement(_FrozenOnceApproved):
    """What one run says to one payee: net = due − held + released − deducted (fen); payable adds
    what earlier statements carried forward (a negative balance) and never goes below 0."""

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="statements")
    payee_kind = models.CharField(max_length=16)
    payee = models.CharField(max_length=64)
    due = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    released = models.BigIntegerField(default=0)
    deducted = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    carried_in = models.BigIntegerField(default=0)  # ≤ 0: the payee's payable balance before the run
    payable = models.BigIntegerField(default=0)  # max(0, carried_in + net): what the approval pays

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "payee_kind", "payee"], name="statement_payee")]
        indexes = [models.Index(fields=["payee_kind", "payee"])]
        verbose_name = pgettext_lazy("model", "佣金结算单")
        verbose_name_plural = pgettext_lazy("models", "佣金结算单")


class Entry(_FrozenOnceApproved):
    """One double entry: `amount` fen moved from the credit account to the debit account of a payee."""

    class Kind(models.TextChoices):
        DUE = "due", _("应付")
        HOLD = "hold", _("暂扣")
        RELEASE = "release", _("解除暂扣")
        DEDUCT = "deduct", _("扣回")
        PAY = "pay", _("支付")

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="entries")
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    item_no = models.CharField(max_length=64, blank=True)  # "" for a payment
    policy_no = models.CharField(max_length=64, blank=True)
    debit = models.CharField(max_length=8, choices=Account.choices)
    credit = models.CharField(max_length=8, choices=Account.choices)
    amount = models.BigIntegerField()
    findings = models.JSONField(default=list)  # the open finding ids behind a hold or a deduction

    class Meta:
        indexes = [models.Index(fields=["item_no"])]


class ItemState(models.Model):
    """Where an item stands after the runs so far: settled (due and not held, or paid before custos
    saw it and not deducted) or held. An item custos has not settled yet has no row."""

    class State(models.TextChoices):
        SETTLED = "settled", _("已结算")
        HELD = "held", _("暂扣中")

    item_no = models.CharField(max_length=64, unique=True)
    policy_no = models.CharField(max_length=64, db_index=True)
    payee_kind = models.CharField(max_length=16)
    payee = models.CharField(max_length=64)
    amount = models.BigIntegerField()
    state = models.CharField(max_length=8, choices=State.choices, db_index=True)
    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="+")
