"""A leak case (泄露案件): one traced file and its result, kept for the case."""

from django.conf import settings
from django.db import models
from django.utils.translation import pgettext_lazy


class LeakCase(models.Model):
    """One trace of a leaked file by `custos trace` or the leak-case page. The file itself is not
    kept (it holds personal data in clear): its name, size and SHA-256 are; the result holds counts,
    the suspects with their evidence, and the matched records masked."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    client = models.CharField(max_length=64, blank=True)
    source_name = models.CharField(max_length=200)
    note = models.CharField(max_length=500, blank=True)  # the case: where the file was found
    file_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    rows = models.IntegerField(default=0)
    matched = models.IntegerField(default=0)
    # {"matched", "rows", "suspects": [...], "objects", "weak", "columns", "records": [masked], "seconds"}
    result = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "泄露案件")
        verbose_name_plural = pgettext_lazy("models", "泄露案件")

    def __str__(self) -> str:
        return f"leak case #{self.pk} {self.source_name}"

    @property
    def suspects(self) -> list[dict]:
        return self.result.get("suspects", [])

    @property
    def top(self) -> dict | None:
        s = self.suspects
        return s[0] if s else None
