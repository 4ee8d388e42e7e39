"""The tamper-evident audit log: an append-only sequence of entries, hashed as an RFC 9162 Merkle tree,
with checkpoints (tree size + root) signed by an Ed25519 key from the keyring.

`seq` is the leaf index: contiguous from 0, assigned under a lock so that the order in which entries
are committed is the order in which they are hashed. Time is kept as integer microseconds (UTC) so the
hashed form is identical on every database.
"""

import json
from datetime import UTC, datetime

from django.conf import settings
from django.db import models

from custos.crypto.fields import EncryptedJSONField, EncryptedTextField


class AuditEntry(models.Model):
    seq = models.BigIntegerField(unique=True)
    at_us = models.BigIntegerField(db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    staff_no = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=32, db_index=True)
    model = models.CharField(max_length=32, blank=True)
    record_ids = models.TextField(default="[]")  # canonical JSON
    fields = models.TextField(default="[]")  # canonical JSON
    purpose = models.CharField(max_length=500, blank=True)
    client = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, default="ok")
    leaf_hash = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.username} {self.action}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.at_us / 1_000_000, tz=UTC)

    @property
    def record_id_list(self) -> list:
        return json.loads(self.record_ids)

    @property
    def field_list(self) -> list:
        return json.loads(self.fields)

    @property
    def action_label(self) -> str:
        from custos.audit.actions import ACTIONS

        return str(ACTIONS.get(self.action, self.action))

    @property
    def outcome_label(self) -> str:
        from custos.audit.actions import OUTCOMES

        return str(OUTCOMES.get(self.outcome, self.outcome))

    @property
    def model_label(self) -> str:
        from custos.audit.actions import MODELS

        return str(MODELS.get(self.model, self.model))

    @property
    def purpose_label(self) -> str:
        from custos.audit.purposes import purpose_label

        return purpose_label(self.purpose)

    @property
    def field_labels(self) -> list[str]:
        from custos.audit.actions import FIELDS
        from custos.book.labels import FIELD_LABELS, label

        return [label(FIELD_LABELS if f in FIELD_LABELS else FIELDS, f) for f in self.field_list]


class Checkpoint(models.Model):
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.BinaryField(max_length=32)
    compact_range = models.TextField()  # JSON list of hex subtree hashes: resumes hashing from here
    at_us = models.BigIntegerField()
    key_id = models.CharField(max_length=32)
    signature = models.BinaryField(max_length=64)

    class Meta:
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"checkpoint size={self.tree_size}"


class VerifyRun(models.Model):
    """One background run of `audit.service.verify` (queued by the key status page or periodically)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PASSED = "passed"
        FAILED = "failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    entries = models.BigIntegerField(default=0)
    checkpoints = models.IntegerField(default=0)
    seconds = models.FloatField(default=0)
    problems = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"verify {self.status} ({self.entries} entries)"


class Archive(models.Model):
    """Entries [first_seq, end_seq) moved out of the database into an archive file (`custos audit
    archive`). end_seq is the size of a signed checkpoint; the file verifies on its own."""

    first_seq = models.BigIntegerField()
    end_seq = models.BigIntegerField(unique=True)
    path = models.CharField(max_length=1000)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["end_seq"]

    def __str__(self) -> str:
        return f"archive {self.first_seq}..{self.end_seq - 1} in {self.path}"


class ArchivedLeaf(models.Model):
    """The leaf hash of an archived entry: what the tree keeps of it once the entry is gone, so every
    signed checkpoint still recomputes and proofs of later entries still build (32 bytes, no content)."""

    seq = models.BigIntegerField(primary_key=True)
    leaf_hash = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["seq"]


class ChangeEvent(models.Model):
    """One change of customer information, of who may see what, or of a workflow state that decides
    money or discipline, written by `custos.audit.record.record` together with the Merkle-log entry
    at `seq` (one transaction: neither exists without the other).

    The values are sealed here (before, after, reason); the log entry carries the changed field names
    and `digest`, an HMAC of this row's content, so an edit of this row (a re-sealed value, a swapped
    ciphertext, a deleted row) is found by `custos audit verify` (`record.verify_changes`)."""

    seq = models.BigIntegerField(unique=True)  # the leaf index of its Merkle-log entry
    at = models.DateTimeField(db_index=True)  # the entry's time
    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64, db_index=True)
    action = models.CharField(max_length=32, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, db_index=True)  # the actor's name when it happened
    staff_no = models.CharField(max_length=64, blank=True)
    client = models.CharField(max_length=64, blank=True)
    fields = models.JSONField(default=list)  # the names of the fields changed
    before = EncryptedJSONField()
    after = EncryptedJSONField()
    reason = EncryptedTextField()
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.username} {self.action} {self.content_type_id}:{self.object_id}"
