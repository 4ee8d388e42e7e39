"""The book: the current state of the insurer's customer information, as loaded from its core systems.

Rows are keyed by the book format's natural keys (strings), not by foreign keys: the book is external
truth, validated by the loader as a whole before it is written, and bulk-written set-wise. Every row
remembers the load that first brought it, the last load that carried it, and the full load it was
missing from (gone), if any; rows are never deleted.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.crypto.fields import BlindIndexField, EncryptedJSONField, EncryptedTextField
from custos.integrity.rows import Tagged


def Sealed(max_length: int | None = None):  # noqa: N802 - a field factory
    """An encrypted book column (deterministic nonce: the loader compares values in SQL).
    `max_length` limits the plaintext (the loader checks it); the column itself is text."""
    return EncryptedTextField(deterministic=True, max_length=max_length)


class BookLoad(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        VALIDATING = "validating", _("校验中")
        WRITING = "writing", _("写入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        NOOP = "noop", _("重复文件，未改动")

    class Mode(models.TextChoices):
        FULL = "full", _("全量")
        DELTA = "delta", _("增量")

    source_name = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.FULL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    row_counts = models.JSONField(default=dict)  # {table: rows read}
    change_counts = models.JSONField(default=dict)  # {table: {"new": n, "updated": n, "gone": n}}
    # [{file,row,column,message,code,template,value}] (first N; custos.book.loader.errors.Issue):
    # sealed, since messages quote values of the book. People see them masked (errors.shown); the
    # full text is the report IT security reads through an audited read (book.services.error_report).
    errors = EncryptedJSONField(default=list)
    error_count = models.IntegerField(default=0)
    warnings = EncryptedJSONField(default=list)  # same shape; headers may be book values
    progress = models.IntegerField(default=0)  # 0..100
    progress_note = models.CharField(max_length=200, blank=True)
    snapshot_path = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "数据册加载")
        verbose_name_plural = pgettext_lazy("models", "数据册加载")

    def __str__(self) -> str:
        return f"#{self.pk} {self.source_name} ({self.status})"


class BookRow(models.Model):
    """Columns every book table shares: provenance and the original spelling of normalised values."""

    # No index and no database constraint on the provenance columns: every load writes them on
    # millions of rows (the loader sets them to its own BookLoad id), the queries on them
    # (gone_load IS NULL, last_load <> n) read whole tables anyway, and Django's deferred FK
    # constraints cost one trigger event per row at COMMIT (minutes at 3.8 M rows on PostgreSQL).
    # PROTECT still guards deletes made through the ORM; loads are never deleted.
    first_load = models.ForeignKey(
        BookLoad, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    last_load = models.ForeignKey(
        BookLoad, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    gone_load = models.ForeignKey(
        BookLoad,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # {column: value as written} where normalisation changed it; sealed (it may hold an ID number)
    original = EncryptedJSONField(deterministic=True)
    extra = EncryptedJSONField(deterministic=True)  # columns outside the format, kept as given; sealed

    class Meta:
        abstract = True


class Branch(BookRow):
    branch_code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    parent_code = models.CharField(max_length=64, blank=True)
    level = models.CharField(max_length=16)
    address = Sealed(500)
    phone = Sealed(64)
    # Materialised path of branch codes from head office, "/HO/GD/GZ/": scope filters use a prefix match.
    path = models.CharField(max_length=1000, db_index=True, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("model", "机构")
        verbose_name_plural = pgettext_lazy("models", "机构")

    def __str__(self) -> str:
        return f"{self.branch_code} {self.name}"


def branch_subtree(branch_code: str):
    """Branch codes of the subtree rooted at branch_code (itself included): a subquery by the
    materialised path, or a list by walking parent_code where the path is not materialised."""
    root = Branch.objects.filter(branch_code=branch_code).values_list("path", flat=True).first()
    if root:
        return Branch.objects.filter(path__startswith=root).values("branch_code")
    codes, frontier = {branch_code}, {branch_code}
    while frontier:
        frontier = (
            set(Branch.objects.filter(parent_code__in=frontier).values_list("branch_code", flat=True)) - codes
        )
        codes |= frontier
    return sorted(codes)


class Staff(BookRow, Tagged):
    staff_no = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    gender = models.CharField(max_length=1, blank=True)
    id_type = models.CharField(max_length=32, blank=True)
    id_no = Sealed(64)
    id_no_bidx = BlindIndexField(source="id_no", kind="id_no")
    mobile = Sealed(64)
    mobile_bidx = BlindIndexField(source="mobile", kind="mobile")
    address = Sealed(500)
    branch_code = models.CharField(max_length=64, db_index=True)
    channel = models.CharField(max_length=16, blank=True)
    position = models.CharField(max_length=32)
    supervisor_no = models.CharField(max_length=64, blank=True)
    hired_on = models.DateField(null=True, blank=True)
    left_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("model", "员工")
        verbose_name_plural = pgettext_lazy("models", "员工")

    def __str__(self) -> str:
        return f"{self.staff_no} {self.name}"


class Partner(BookRow, Tagged):
    partner_code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16)
    branch_code = models.CharField(max_length=64, db_index=True)
    address = Sealed(500)
    phone = Sealed(64)
    contract_no = models.CharField(max_length=64, blank=True)
    contract_until = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16)

    class Meta:
        verbose_name = pgettext_lazy("model", "合作机构")
        verbose_name_plural = pgettext_lazy("models", "合作机构")

    def __str__(self) -> str:
        return f"{self.partner_code} {self.name}"


class Policy(BookRow):
    policy_no = models.CharField(max_length=64, unique=True)
    product_code = models.CharField(max_length=64, blank=True)
    product_name = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=16, db_index=True)
    branch_code = models.CharField(max_length=64, db_index=True)
    agent_no = models.CharField(max_length=64, blank=True, db_index=True)
    partner_code = models.CharField(max_length=64, blank=True, db_index=True)
    applied_on = models.DateField(null=True, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16)
    term_years = models.IntegerField(null=True, blank=True)
    premium = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    commission = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.policy_no


class Party(BookRow, Tagged):
    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    relation = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=200, blank=True)
    gender = models.CharField(max_length=1, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    id_type = models.CharField(max_length=32, blank=True)
    id_no = Sealed(64)
    id_no_bidx = BlindIndexField(source="id_no", kind="id_no")
    id_valid_until = models.DateField(null=True, blank=True)
    nationality = models.CharField(max_length=8, blank=True)
    mobile = Sealed(64)
    mobile_bidx = BlindIndexField(source="mobile", kind="mobile")
    phone = Sealed(64)
    address = Sealed(500)
    postcode = models.CharField(max_length=16, blank=True)
    email = Sealed(200)
    occupation_code = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "parties"
        constraints = [models.UniqueConstraint(fields=["policy_no", "role", "seq"], name="party_key")]

    def __str__(self) -> str:
        return f"{self.policy_no}/{self.role}/{self.seq}"


class PartyHistory(Tagged):
    """One party value changed between two loads of the book."""

    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    field = models.CharField(max_length=32)
    # values of encrypted party fields (SEALED_PARTY_FIELDS) are the party column's ciphertext, copied
    # as stored (associated data "book_party.<field>"): read them with `old()` / `new()`
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    load = models.ForeignKey(BookLoad, on_delete=models.PROTECT, related_name="party_history")

    class Meta:
        indexes = [models.Index(fields=["policy_no", "role", "seq"])]

    def _open(self, stored: str) -> str:
        if self.field in SEALED_PARTY_FIELDS:
            from custos.crypto.fields import open_value

            return open_value(stored, f"book_party.{self.field}")
        return stored

    def old(self) -> str:
        return self._open(self.old_value)

    def new(self) -> str:
        return self._open(self.new_value)


class Change(BookRow):
    policy_no = models.CharField(max_length=64, db_index=True)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    field = models.CharField(max_length=32)
    old_value = Sealed()
    new_value = Sealed()
    changed_at = models.DateTimeField()
    changed_by = models.CharField(max_length=64, blank=True)
    request_no = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy_no", "role", "seq", "field", "changed_at"], name="change_key"
            )
        ]


class Visit(BookRow):
    policy_no = models.CharField(max_length=64, db_index=True)
    visited_at = models.DateTimeField()
    method = models.CharField(max_length=16)
    contact = Sealed(500)
    outcome = models.CharField(max_length=16)
    staff_no = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy_no", "visited_at", "method"], name="visit_key")
        ]


class CommissionItem(BookRow):
    """One commission item of the core system (佣金 to an agent, 手续费 to a partner outlet), or one
    first-year item per policy taken from `policies.commission` when the book has no commissions
    table (`derived`). Amounts are exact: yuan with 2 decimals, negative for a reversal."""

    item_no = models.CharField(max_length=64, unique=True)
    policy_no = models.CharField(max_length=64, db_index=True)
    payee_kind = models.CharField(max_length=16)
    payee = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=16)
    period = models.CharField(max_length=7, db_index=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    paid_on = models.DateField(null=True, blank=True)
    derived = models.BooleanField(default=False, db_default=False)

    class Meta:
        verbose_name = pgettext_lazy("model", "佣金明细")
        verbose_name_plural = pgettext_lazy("models", "佣金明细")

    def __str__(self) -> str:
        return f"{self.item_no} {self.payee} {self.period} {self.amount}"


SEALED_PARTY_FIELDS = ("id_no", "mobile", "phone", "address", "email")

# book-format table name -> model
MODELS = {
    "branches": Branch,
    "staff": Staff,
    "partners": Partner,
    "policies": Policy,
    "parties": Party,
    "changes": Change,
    "visits": Visit,
    "commissions": CommissionItem,
}
