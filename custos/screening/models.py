"""Online screening: the calling systems, every screening, and the context store the cross-record
checks look up (the loaded book's and every screened party, sealed, found by blind indexes)."""

import hashlib
import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from custos.crypto.fields import EncryptedTextField


class Client(models.Model):
    """A system that calls POST /api/v1/screen (core system, a bank's 银保通 front end…) with its own
    key and scope. Empty scope lists mean no restriction on that dimension."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    partner_codes = models.JSONField(default=list, blank=True)  # a bank's own outlets
    channels = models.JSONField(default=list, blank=True)
    branch_codes = models.JSONField(default=list, blank=True)
    rate_per_minute = models.IntegerField(default=60000)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, name: str, **scope) -> tuple["Client", str]:
        secret = "cs_" + secrets.token_urlsafe(32)
        client = cls.objects.create(name=name, prefix=secret[:10], digest=cls.hash(secret), **scope)
        return client, secret


class RateWindow(models.Model):
    """Requests of one client in one minute (the rate limit's fixed window)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    minute = models.BigIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "minute"], name="screen_rate_window")]


class Screening(models.Model):
    class Verdict(models.TextChoices):
        PASS = "pass", gettext_lazy("通过")
        REFER = "refer", gettext_lazy("转人工")
        REJECT = "reject", gettext_lazy("拒绝")

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="screenings")
    application_id = models.CharField(max_length=100)
    policy_no = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, blank=True)
    branch_code = models.CharField(max_length=64, blank=True)
    agent_no = models.CharField(max_length=64, blank=True)
    partner_code = models.CharField(max_length=64, blank=True)
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    codes = models.JSONField(default=list)  # the check codes found, sorted, with repeats
    finding_count = models.IntegerField(default=0)
    settings_fingerprint = models.CharField(max_length=16, blank=True)
    # The answer as sent (returned again to a retry) and the findings with their values: sealed.
    response = EncryptedTextField()
    findings = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    elapsed_ms = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "application_id"], name="screening_application")
        ]
        indexes = [models.Index(fields=["agent_no", "created_at"])]
        ordering = ["-id"]


def _partial(field: str, name: str) -> models.Index:
    return models.Index(fields=[field], name=name, condition=~Q(**{field: ""}))


class ContextParty(models.Model):
    """One party as the cross-record checks see it: the loaded book's (source "book") or a screened
    application's (source "screen"; a later book load of the policy replaces it). The row is sealed;
    the keys are blind indexes of the engine's normalised values (pt.id_n, mobile_n, addr_n, email_n,
    pk). channel, branch_code and partner_code are its policy's: the scope a screening key must cover
    to read or replace the row (docs/screening.md)."""

    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    source = models.CharField(max_length=8)
    channel = models.CharField(max_length=16, blank=True, default="")
    branch_code = models.CharField(max_length=64, blank=True, default="")
    partner_code = models.CharField(max_length=64, blank=True, default="")
    payload = EncryptedTextField()  # the book-format row as JSON
    k_id = models.CharField(max_length=32, blank=True, default="")
    k_mobile = models.CharField(max_length=32, blank=True, default="")
    k_addr = models.CharField(max_length=32, blank=True, default="")
    k_email = models.CharField(max_length=32, blank=True, default="")
    k_pk = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy_no", "role", "seq"], name="screen_party_key")]
        indexes = [
            _partial("k_id", "screen_party_k_id"),
            _partial("k_mobile", "screen_party_k_mobile"),
            _partial("k_addr", "screen_party_k_addr"),
            _partial("k_email", "screen_party_k_email"),
            _partial("k_pk", "screen_party_k_pk"),
        ]


class ContextRef(models.Model):
    """A staff member, branch, partner outlet or blacklist entry, found by blind indexes.

    staff: k1 = ID number, k2 = mobile, k3 = name, k4 = staff_no (stf's normalised columns);
    branch/partner: k1 = AD04's blocking key of the normalised address (street token | prefix), k2 =
    the phone's digits, k3 = the normalised address;
    blacklist: k4 = staff_no, k3 = staff_no of the staff member whose ID number it carries."""

    kind = models.CharField(max_length=10)
    ref = models.CharField(max_length=200)
    payload = EncryptedTextField()
    k1 = models.CharField(max_length=32, blank=True, default="")
    k2 = models.CharField(max_length=32, blank=True, default="")
    k3 = models.CharField(max_length=32, blank=True, default="")
    k4 = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "ref"], name="screen_ref_key")]
        indexes = [
            _partial("k1", "screen_ref_k1"),
            _partial("k2", "screen_ref_k2"),
            _partial("k3", "screen_ref_k3"),
            _partial("k4", "screen_ref_k4"),
        ]


class IndexState(models.Model):
    """Which book load the context store holds (one row)."""

    load_id = models.BigIntegerField(null=True)
    snapshot_path = models.CharField(max_length=500, blank=True)
    parties = models.BigIntegerField(default=0)
    refs = models.BigIntegerField(default=0)
    built_at = models.DateTimeField(null=True)
    seconds = models.FloatField(default=0)
