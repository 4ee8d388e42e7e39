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
