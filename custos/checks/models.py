"""Check runs and the findings that last across them.

A finding is identified by (check_code, policy_no, role, seq, field) — the identity of
shared/rules.md "What a finding is". Design (docs/findings.md):

- One row per *episode*: a finding row is opened by one run, kept open (last_seen_run) by every later
  run that still finds it, and closed by the first run that no longer does. It is never reopened:
  when a closed identity fails again, a new open row is inserted, pointing at the row it recurs from
  (`recurs`). The history of an identity is the list of its rows.
- At most one *open* row per identity: a partial unique constraint (status = 'open') enforced by the
  database, on SQLite and PostgreSQL alike.
- Policy-level checks (SC03, SC04) use role "policy" and seq 0.

The value is stored raw (what the check saw) and masked whenever it is shown; encryption at rest will
cover it later. channel, branch_code, agent_no and partner_code are copied from the policy at each run
so that filters and dashboards need no join.
"""

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.book.models import BookLoad
from custos.crypto.fields import EncryptedTextField


class CheckRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("运行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    load = models.ForeignKey(BookLoad, on_delete=models.PROTECT, related_name="check_runs")
    engine = models.CharField(max_length=16, default="duckdb")
    settings = models.JSONField(default=dict)  # CheckSettings.as_dict()
    settings_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    enabled_checks = models.JSONField(default=list)  # check codes run; only these may close findings
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    engine_seconds = models.FloatField(null=True, blank=True)

    # counts
    policies_checked = models.IntegerField(default=0)
    parties_checked = models.IntegerField(default=0)
    findings_found = models.IntegerField(default=0)  # rows the engine returned (distinct identities)
    findings_opened = models.IntegerField(default=0)
    findings_kept = models.IntegerField(default=0)
    findings_closed = models.IntegerField(default=0)
    findings_open = models.IntegerField(default=0)  # open after this run (all checks)
    by_category = models.JSONField(default=dict)  # {category: identities found by this run}
    by_check = models.JSONField(default=dict)  # {check code: identities found by this run}
    # Policies with at least one open finding of the category after this run (the regulator's rates).
    policies_missing = models.IntegerField(default=0)
    policies_false = models.IntegerField(default=0)
    policies_untrue = models.IntegerField(default=0)  # missing or false

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "校验运行")
        verbose_name_plural = pgettext_lazy("models", "校验运行")

    def __str__(self) -> str:
        return f"run #{self.pk} load #{self.load_id} {self.engine} ({self.status})"

    def rate(self, n: int) -> float | None:
        return n / self.policies_checked if self.policies_checked else None


class Finding(models.Model):
    class Category(models.TextChoices):
        MISSING = "missing", _("信息缺失")
        FALSE = "false", _("信息虚假")
        SUSPICIOUS = "suspicious", _("疑似不实")

    class Severity(models.TextChoices):
        HIGH = "high", _("高")
        MEDIUM = "medium", _("中")
        LOW = "low", _("低")

    class Status(models.TextChoices):
        OPEN = "open", _("未关闭")
        CLOSED = "closed", _("已关闭")

    class CloseReason(models.TextChoices):
        PASSED = "passed", _("复查通过")
        GONE = "gone", _("保单或客户已不在清单中")

    # identity
    check_code = models.CharField(max_length=16)
    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)  # applicant | insured | beneficiary | policy
    seq = models.IntegerField()
    field = models.CharField(max_length=32)

    category = models.CharField(max_length=12, choices=Category.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    close_reason = models.CharField(max_length=8, choices=CloseReason.choices, blank=True)
    # raw (an ID number, a mobile …): sealed at rest (custos.crypto), masked whenever displayed
    value = EncryptedTextField(deterministic=True)
    # the value custos proposes (e.g. the 18-digit ID); sealed, masked
    proposed = EncryptedTextField(deterministic=True)
    # why, where the check says more than its message (ID09: how the number's variants rank); no
    # personal data
    detail = models.CharField(max_length=200, blank=True, default="")

    opened_run = models.ForeignKey(CheckRun, on_delete=models.PROTECT, related_name="opened_findings")
    last_seen_run = models.ForeignKey(CheckRun, on_delete=models.PROTECT, related_name="+")
    closed_run = models.ForeignKey(
        CheckRun, null=True, blank=True, on_delete=models.PROTECT, related_name="closed_findings"
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    settings_fingerprint = models.CharField(max_length=64, blank=True)  # settings it was opened with
    recurs = models.ForeignKey(  # the closed row of the same identity this one recurs from
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # denormalised from the policy, for filtering without a join
    channel = models.CharField(max_length=16, blank=True)
    branch_code = models.CharField(max_length=64, blank=True)
    agent_no = models.CharField(max_length=64, blank=True)
    partner_code = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "问题")
        verbose_name_plural = pgettext_lazy("models", "问题")
        constraints = [
            models.UniqueConstraint(
                fields=["check_code", "policy_no", "role", "seq", "field"],
                condition=Q(status="open"),
                name="finding_one_open_per_identity",
            )
        ]
        indexes = [
            models.Index(fields=["policy_no", "role", "seq"], name="finding_party"),
            models.Index(fields=["status", "check_code"], name="finding_status_check"),
            models.Index(fields=["status", "channel"], name="finding_status_channel"),
            models.Index(fields=["status", "branch_code"], name="finding_status_branch"),
            models.Index(fields=["agent_no"], name="finding_agent"),
            models.Index(fields=["partner_code"], name="finding_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.check_code} {self.policy_no}/{self.role}/{self.seq}.{self.field} ({self.status})"

    @property
    def identity(self) -> tuple:
        return (self.check_code, self.policy_no, self.role, self.seq, self.field)
