"""The industry blacklist exchange (docs/blacklist.md).

Association side: the listed people (`Entry`, ID numbers and names sealed), the list's versions (each
with its own private-set-intersection key, sealed, and its cached setup message), the members'
look-ups (`Lookup`: who, when, how many items — never the items), the nonces that refuse a replayed
request, and the nominations members sent (`Received`).

Member side: which staff were checked against which list version (`StaffCheck`) and the hits
(`Hit`, by staff number): SC03 flags the policies a listed agent sold."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.crypto.fields import BlindIndexField, EncryptedTextField

# --- association -------------------------------------------------------------------------------------


class ListVersion(models.Model):
    """One state of the list. Every change (add, remove, accept, rotate) makes a new version with a
    new PSI key: a setup message a member kept from an older version matches nothing any more."""

    number = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    entries = models.PositiveIntegerField(default=0)
    change = models.CharField(max_length=200, blank=True)  # "add 3 from FILE", "remove 1", "rotate"
    psi_key = EncryptedTextField()  # base64 of the server's key, sealed
    setup = models.BinaryField(null=True, blank=True)  # the setup message, built on first request

    class Meta:
        verbose_name = pgettext_lazy("model", "黑名单版本")
        verbose_name_plural = pgettext_lazy("models", "黑名单版本")

    def __str__(self) -> str:
        return f"blacklist v{self.number} ({self.entries})"


class Entry(models.Model):
    """A listed person. The ID number is sealed (random nonce) with a blind index under this
    installation's own key (to refuse a duplicate and to remove by ID number)."""

    id_no = EncryptedTextField()
    id_no_bidx = BlindIndexField(source="id_no", kind="id_no")
    name = EncryptedTextField()
    company = models.CharField(max_length=200, blank=True)
    reason = EncryptedTextField()
    dismissed_on = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)  # the file, or "nomination #n by MEMBER"
    added_at = models.DateTimeField(auto_now_add=True)
    added_in = models.ForeignKey(ListVersion, on_delete=models.PROTECT, related_name="+")
    removed_in = models.ForeignKey(
        ListVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "黑名单人员")
        verbose_name_plural = pgettext_lazy("models", "黑名单人员")

    def __str__(self) -> str:
        return f"entry #{self.pk}"


class Lookup(models.Model):
    """One look-up by a member: the basis of its rate limit and of the audit entry. Nothing of the
    request is kept: it is blinded, and even blinded it is not stored."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    items = models.PositiveIntegerField()
    version = models.PositiveIntegerField()

    class Meta:
        verbose_name = pgettext_lazy("model", "黑名单查询")
        verbose_name_plural = pgettext_lazy("models", "黑名单查询")

    def __str__(self) -> str:
        return f"lookup #{self.pk}: {self.items} items"


class Nonce(models.Model):
    """A request's nonce, kept for the replay window (a random value chosen by the member)."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "nonce"], name="blacklist_nonce_once")]


class Received(models.Model):
    """A nomination a member sent: listed only when the association accepts it."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("待处理")
        ACCEPTED = "accepted", _("已列入")
        REJECTED = "rejected", _("未列入")

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=64)  # the member's own nomination number
    id_no = EncryptedTextField()
    id_no_bidx = BlindIndexField(source="id_no", kind="id_no")
    name = EncryptedTextField()
    company = models.CharField(max_length=200, blank=True)
    reason = EncryptedTextField()
    dismissed_on = models.DateField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)

    class Meta:
        verbose_name = pgettext_lazy("model", "收到的黑名单提名")
        verbose_name_plural = pgettext_lazy("models", "收到的黑名单提名")
        constraints = [
            models.UniqueConstraint(fields=["member", "reference"], name="blacklist_received_once")
        ]

    def __str__(self) -> str:
        return f"nomination {self.reference} ({self.status})"


# --- member ------------------------------------------------------------------------------------------


class StaffCheck(models.Model):
    """The last check of a staff member's ID number (by its blind index: a changed ID number is
    checked again). pending: the association could not be reached; the next load, `custos blacklist
    check-staff` or the periodic job tries again."""

    class Status(models.TextChoices):
        CLEAR = "clear", _("未列入")
        HIT = "hit", _("在黑名单上")
        PENDING = "pending", _("待查询")
        NO_ID = "no_id", _("无有效身份证号")

    staff_no = models.CharField(max_length=64, unique=True)
    id_no_bidx = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    list_version = models.PositiveIntegerField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = pgettext_lazy("model", "员工黑名单核查")
        verbose_name_plural = pgettext_lazy("models", "员工黑名单核查")

    def __str__(self) -> str:
        return f"{self.staff_no}: {self.status}"


class Hit(models.Model):
    """A staff member the association's list names (found by a look-up): SC03 reads these."""

    staff_no = models.CharField(max_length=64, unique=True)
    id_no_bidx = models.CharField(max_length=32, blank=True)
    found_at = models.DateTimeField(auto_now_add=True)
    list_version = models.PositiveIntegerField()
    active = models.BooleanField(default=True)  # False: a later look-up no longer found them

    class Meta:
        verbose_name = pgettext_lazy("model", "黑名单命中")
        verbose_name_plural = pgettext_lazy("models", "黑名单命中")

    def __str__(self) -> str:
        return f"hit {self.staff_no}"
