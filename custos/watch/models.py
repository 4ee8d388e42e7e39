"""Security alerts for IT security: raised by custos itself (unmask rate limit, lock-outs, …)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SecurityAlert(models.Model):
    class Kind(models.TextChoices):
        UNMASK_RATE = "unmask_rate", _("脱敏查看次数超限")
        LOCKOUT = "lockout", _("登录失败锁定")
        AUDIT_VERIFY = "audit_verify", _("审计日志校验失败")
        INTEGRITY = "integrity", _("客户信息完整性校验失败")

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    acknowledged = models.BooleanField(default=False, db_index=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.kind} {self.username} {self.created:%Y-%m-%d %H:%M}"


class IngestedFile(models.Model):
    """One access-log file (or one export of custos's own reads) in the history: its digest makes
    ingesting the same file twice a no-op."""

    class Kind(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"
        AUDIT = "audit", _("本系统审计日志")

    digest = models.CharField(max_length=80, unique=True)  # sha256 of the bytes; "audit:<first>-<last>"
    name = models.CharField(max_length=500)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    rows = models.BigIntegerField(default=0)  # rows in the file
    added = models.BigIntegerField(default=0)  # rows new to the history (the rest were there already)
    unknown_staff = models.BigIntegerField(default=0)  # rows by an operator the book does not know
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)  # audit exports: last log entry taken
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ingested_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.rows})"


class AccessAlert(models.Model):
    """One staff member's unusual access on one day: the signals that fired and by how much."""

    class Status(models.TextChoices):
        OPEN = "open", _("待研判")
        TRUE = "true", _("属实")
        FALSE = "false", _("误报")

    staff_no = models.CharField(max_length=64, db_index=True)
    day = models.DateField(db_index=True)
    score = models.FloatField()
    signals = models.JSONField(default=list)  # [{"name", "value", "threshold", ...}]
    canary = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN, db_index=True)
    note = models.TextField(blank=True)
    triaged_by = models.CharField(max_length=150, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "-score"]
        constraints = [models.UniqueConstraint(fields=["staff_no", "day"], name="watch_alert_staff_day")]

    def __str__(self) -> str:
        return f"{self.staff_no} {self.day} {self.score:.1f}"

    def signal_names(self) -> list[str]:
        return [s["name"] for s in self.signals]
