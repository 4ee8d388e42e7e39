"""Who may see what: a custos user's role and scope, and short-lived unmask grants.

Reads themselves are recorded in the tamper-evident audit log (custos.audit), not here."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Role(models.TextChoices):
    COMPLIANCE = "compliance", _("合规")
    CUSTOMER_SERVICE = "customer_service", _("客服")
    CHANNEL_MANAGER = "channel_manager", _("渠道经理")
    AGENT = "agent", _("业务员")
    PARTNER_STAFF = "partner_staff", _("合作机构人员")
    OPERATIONS = "operations", _("运营")
    FINANCE = "finance", _("财务")
    EXECUTIVE = "executive", _("总经理室")
    IT_SECURITY = "it_security", _("信息安全")
    AUDITOR = "auditor", _("审计/监管")
    MEMBER = "member", _("行业协会会员公司")  # only on an association's custos (custos.blacklist)


class Profile(models.Model):
    """A user's role and scope. Scope narrows what the role may see:
    branch subtree (branch_code), channel, an agent's own portfolio (staff_no), a partner's own policies."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="custos_profile"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    staff_no = models.CharField(max_length=64, blank=True, db_index=True)
    branch_code = models.CharField(max_length=64, blank=True)  # empty: whole company
    channel = models.CharField(max_length=16, blank=True)  # empty: all channels
    partner_code = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("model", "角色与范围")
        verbose_name_plural = pgettext_lazy("models", "角色与范围")

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class UnmaskGrant(models.Model):
    """One unmasking: who saw which party field in clear, why, and until when the token shows it.

    The audit log holds the authoritative record (`audit_seq`); this row is the short-lived token
    (expires_at) and the basis of the per-user rate limit."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    party_id = models.BigIntegerField()
    field = models.CharField(max_length=32)
    purpose = models.CharField(max_length=32)
    purpose_text = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    audit_seq = models.BigIntegerField(null=True)

    def __str__(self) -> str:
        return f"unmask {self.field} of party {self.party_id} by {self.user_id}"
