"""Runs of `custos integrity verify`: what was checked, what failed, how long it took."""

from django.db import models


class IntegrityRun(models.Model):
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    checked = models.JSONField(default=dict)  # {db table: rows checked}
    failure_count = models.IntegerField(default=0)
    # [{table, id, key, reason}], the first MAX_KEPT: natural keys (policy, staff and partner numbers,
    # which custos shows in clear everywhere), never a customer value
    failures = models.JSONField(default=list)
    seconds = models.FloatField(default=0.0)
    cpu_seconds = models.FloatField(default=0.0)
    by = models.CharField(max_length=150, blank=True)  # "cli:<OS user>" or a username

    MAX_KEPT = 200

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"integrity run {self.pk} {'ok' if self.ok else 'FAILED'}"
