"""Persons: the customers behind the parties of the book, with ids that last.

- ``Person``: one real customer, ``P`` + an 8-digit sequence number that never changes and is never
  reused; ``merged`` when every record went to another person (``merged_into``).
- ``PersonRecord``: which person a party row (policy_no, role, seq) is; one row per party.
- ``LinkRun``: one run of ``custos link`` over a load; the trained model and its chart are saved
  with it (``model`` here, the chart under ``CUSTOS_HOME/identity/run-<id>/``).
- ``LinkEvent``: a merge or split a run made (records that moved from one person to another),
  with the evidence (match weights of the pairs across the two sides); a person may reverse it.
- ``LinkDecision``: a person's decision that two sets of records are (``same``) or are not
  (``distinct``) one person; every later run keeps to it.
- ``ReviewPair``: a pair scored between the review and the match threshold, for clerical review.

Nothing here holds a customer's value in clear: records are named by their key only.
"""

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.book.models import BookLoad


class LinkRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("运行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    load = models.ForeignKey(BookLoad, on_delete=models.PROTECT, related_name="link_runs")
    engine = models.CharField(max_length=16, default="duckdb")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    settings = models.JSONField(default=dict)
    model = models.JSONField(default=dict)  # the Splink model: settings, m and u of every level
    artefacts = models.CharField(max_length=500, blank=True)  # folder of model.json and chart.html
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    records = models.IntegerField(default=0)
    pairs_scored = models.IntegerField(default=0)  # pairs at or above the review threshold
    links = models.IntegerField(default=0)  # pairs at or above the match threshold
    persons = models.IntegerField(default=0)  # persons of the load's records
    persons_created = models.IntegerField(default=0)
    merges = models.IntegerField(default=0)
    splits = models.IntegerField(default=0)
    review_pairs = models.IntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "客户归并运行")
        verbose_name_plural = pgettext_lazy("models", "客户归并运行")

    def __str__(self) -> str:
        return f"link run #{self.pk} load #{self.load_id} ({self.status})"


class Person(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("有效")
        MERGED = "merged", _("已归并")

    number = models.BigIntegerField(unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_run = models.ForeignKey(
        LinkRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_run = models.ForeignKey(
        LinkRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["number"]
        verbose_name = pgettext_lazy("model", "客户")
        verbose_name_plural = pgettext_lazy("models", "客户")

    def __str__(self) -> str:
        return self.pid

    @property
    def pid(self) -> str:
        return pid(self.number)


def pid(number: int) -> str:
    return f"P{number:08d}"


def number_of(person_id: str) -> int:
    if not person_id or person_id[0] != "P" or not person_id[1:].isdigit():
        raise ValueError(f"not a person id: {person_id!r} (P and 8 digits)")
    return int(person_id[1:])


class PersonRecord(models.Model):
    policy_no = models.CharField(max_length=64)
    role = models.CharField(max_length=16)
    seq = models.IntegerField()
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="records")
    run = models.ForeignKey(LinkRun, on_delete=models.PROTECT, related_name="+")  # the run that placed it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy_no", "role", "seq"], name="person_record_key")]

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.policy_no, self.role, self.seq)


class LinkEvent(models.Model):
    class Kind(models.TextChoices):
        MERGE = "merge", _("归并")
        SPLIT = "split", _("拆分")

    run = models.ForeignKey(LinkRun, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    from_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    to_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    records = models.JSONField(default=list)  # [[policy_no, role, seq], …] that moved
    # {"pairs": [{"l": key, "r": key, "weight": w, "probability": p}, …] the strongest links between
    #  the moved records and the other side, "max_weight": w}
    evidence = models.JSONField(default=dict)
    reversed_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = pgettext_lazy("model", "归并拆分记录")
        verbose_name_plural = pgettext_lazy("models", "归并拆分记录")


class LinkDecision(models.Model):
    class Kind(models.TextChoices):
        SAME = "same", _("同一客户")
        DISTINCT = "distinct", _("不同客户")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    left = models.JSONField(default=list)  # [[policy_no, role, seq], …]
    right = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    event = models.ForeignKey(LinkEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class ReviewPair(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("待复核")
        SAME = "same", _("同一客户")
        DISTINCT = "distinct", _("不同客户")
        STALE = "stale", _("已过时")

    run = models.ForeignKey(LinkRun, on_delete=models.PROTECT, related_name="review_queue")
    l_policy_no = models.CharField(max_length=64)
    l_role = models.CharField(max_length=16)
    l_seq = models.IntegerField()
    r_policy_no = models.CharField(max_length=64)
    r_role = models.CharField(max_length=16)
    r_seq = models.IntegerField()
    match_weight = models.FloatField()
    match_probability = models.FloatField()
    levels = models.JSONField(default=dict)  # {comparison: level label}: why, without values
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    decision = models.ForeignKey(
        LinkDecision, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-match_weight"]
        constraints = [
            models.UniqueConstraint(
                fields=["l_policy_no", "l_role", "l_seq", "r_policy_no", "r_role", "r_seq"],
                condition=Q(status="open"),
                name="review_pair_one_open",
            )
        ]

    @property
    def left(self) -> tuple[str, str, int]:
        return (self.l_policy_no, self.l_role, self.l_seq)

    @property
    def right(self) -> tuple[str, str, int]:
        return (self.r_policy_no, self.r_role, self.r_seq)
