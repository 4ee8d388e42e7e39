"""Approved, fingerprinted extractions of customer data (数据提取).

An Extraction moves requested → approved | rejected → generated → downloaded → expired (or
cancelled, or failed when generation fails); every move is an ExtractionEvent (who, when, from, to,
why) and an audit entry. The generated file is stored encrypted under CUSTOS_HOME/extractions; the
database keeps only what tracing needs: the canaries (sealed values plus blind indexes) and a
manifest of keyed digests of the rows in file order.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Extraction(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        GENERATED = "generated", _("已生成")
        DOWNLOADED = "downloaded", _("已下载")
        EXPIRED = "expired", _("已过期")
        CANCELLED = "cancelled", _("已撤销")
        FAILED = "failed", _("生成失败")

    class Format(models.TextChoices):
        XLSX = "xlsx", "XLSX"
        CSV = "csv", "CSV"

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requester_staff_no = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    purpose = models.CharField(max_length=500)
    scope = models.JSONField(default=dict)  # {branch, channel, status, date_from, date_to}
    fields = models.JSONField(default=list)  # party fields, in file order
    justification = models.TextField(blank=True)  # required for ID, phone and address fields
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recipient_name = models.CharField(max_length=200, blank=True)  # external recipient
    recipient_org = models.CharField(max_length=200, blank=True)
    recipient_partner_code = models.CharField(max_length=64, blank=True)  # when the org is a partner
    file_format = models.CharField(max_length=4, choices=Format.choices, default=Format.XLSX)
    # At request time: customers matching the filters in the requester's scope, and of those the ones
    # the recipient may see (the file holds only these; generation counts them again).
    scope_rows = models.IntegerField(default=0)
    recipient_rows = models.IntegerField(default=0)
    state = models.CharField(max_length=12, choices=State.choices, default=State.REQUESTED, db_index=True)

    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    nonce = models.CharField(max_length=32)  # with the keyring, derives the fingerprint key
    generated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    row_count = models.IntegerField(default=0)  # real rows
    canary_count = models.IntegerField(default=0)
    file_path = models.CharField(max_length=500, blank=True)  # encrypted file; "" once deleted
    file_sha256 = models.CharField(max_length=64, blank=True)  # of the plaintext file as delivered
    file_bytes = models.IntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    # [[position, digests of the row's distinctive cells, mark bit, is canary], ...] in file order
    manifest = models.JSONField(default=list)
    mark_field = models.CharField(max_length=32, blank=True)  # cell that carries the whitespace marks

    downloaded_at = models.DateTimeField(null=True, blank=True)
    downloaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "数据提取")
        verbose_name_plural = pgettext_lazy("models", "数据提取")

    def __str__(self) -> str:
        return f"#{self.pk} {self.purpose[:40]} ({self.state})"

    @property
    def recipient_label(self) -> str:
        if self.recipient_user_id:
            return self.recipient_user.username
        return f"{self.recipient_name}（{self.recipient_org}）" if self.recipient_org else self.recipient_name

    @property
    def file_name(self) -> str:
        return f"custos-extraction-{self.pk}.{self.file_format}"


class ExtractionEvent(models.Model):
    """One state change of an extraction. Append-only."""

    extraction = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)  # "system" for the task queue
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = pgettext_lazy("model", "数据提取记录")
        verbose_name_plural = pgettext_lazy("models", "数据提取记录")


class Canary(models.Model):
    """A synthetic customer planted in one extraction. Values are sealed (custos.crypto) so that the
    database alone does not tell an insider which rows to strip; blind indexes find them in a leak."""

    extraction = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="canaries")
    position = models.IntegerField()  # 0-based data row in the file
    policy_no = models.CharField(max_length=64)  # fake, checked absent from the book
    name_enc = models.CharField(max_length=500)
    id_no_enc = models.CharField(max_length=500)
    mobile_enc = models.CharField(max_length=500)
    address_enc = models.CharField(max_length=1000)
    name_bi = models.CharField(max_length=32, db_index=True)
    id_no_bi = models.CharField(max_length=32, unique=True)
    mobile_bi = models.CharField(max_length=32, unique=True)
    address_bi = models.CharField(max_length=32, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["extraction_id", "position"]


class LeakTrace(models.Model):
    """One trace of a leaked file (泄露溯源), run as a job: the upload is stored until the job has read
    it (then deleted), the result — the candidate extractions and their evidence — stays for the case."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("比对中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    client = models.CharField(max_length=64, blank=True)  # the uploader's address, for the audit entry
    source_name = models.CharField(max_length=200)
    note = models.CharField(max_length=500, blank=True)  # the case: where the file was found, reference
    file_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    file_path = models.CharField(max_length=500, blank=True)  # the stored upload; "" once deleted
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.IntegerField(default=0)  # percent
    progress_note = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.IntegerField(default=0)  # rows read from the file
    # {"rows": n, "candidates": [{"extraction": id, "canaries": [[id, fields]], "matched": …}, …]}
    result = models.JSONField(default=dict)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"trace #{self.pk} {self.source_name} ({self.status})"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
