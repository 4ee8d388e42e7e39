"""End to end: synthetic book → check → tasks → attempts → corrections → review → verification →
export → the export applied to a copy of the book ("the next book") → load → check closes the
findings and the tasks. Counts reconcile at every step."""

import csv
import shutil

import pytest
from django.db.models import Count

from custos.checks.models import Finding
from custos.crypto import keyring
from custos.remediation import services as svc
from custos.remediation.models import Correction, Task
from tests.conftest import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

FIXABLE = {"PH02", "PH03"}  # a fresh valid mobile makes these pass


@pytest.fixture(autouse=True)
def keys(custos_home):
    with keyring.editing() as data:
        keyring.ensure_data_keys(data)


def reconcile() -> None:
    """不重不漏: every open finding in exactly one open task, one open task per party with open findings."""
    assert svc.invariants() == dict.fromkeys(svc.invariants(), 0)
    parties = Finding.objects.filter(status="open").values("policy_no", "role", "seq").distinct().count()
    # open tasks = parties with open findings + verified/reopened tasks still waiting (none here)
    assert Task.objects.exclude(status="closed").filter(open_findings__gt=0).count() == parties


def apply_changes(book, changes_csv, out):
    """The core systems take the correction file: parties.csv gets the new values, changes.csv the rows."""
    shutil.copytree(book, out)
    with open(changes_csv, encoding="gbk", newline="") as fh:
        changes = list(csv.DictReader(fh))
    by_key = {(c["policy_no"], c["role"], c["seq"]): c for c in changes}
    with open(out / "parties.csv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        cols, rows = reader.fieldnames, list(reader)
    for r in rows:
        c = by_key.get((r["policy_no"], r["role"], r["seq"]))
        if c:
            assert r[c["field"]] == c["old_value"]
            r[c["field"]] = c["new_value"]
    with open(out / "parties.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    path = out / "changes.csv"
    existing = path.read_text(encoding="utf-8-sig") if path.exists() else ",".join(svc.CHANGE_COLUMNS) + "\n"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(existing if existing.endswith("\n") else existing + "\n")
        w = csv.DictWriter(fh, svc.CHANGE_COLUMNS, lineterminator="\n")
        w.writerows(changes)


def test_from_findings_to_the_next_book(tmp_path, custos_home, settings):
    from custos.book.models import Staff
    from custos.book.services import load_book
    from custos.checks.services import run_check
    from custos.synth.generator import generate_book

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    generate_book(tmp_path / "book", policies=300, seed=11, workers=1)
    assert load_book(tmp_path / "book").status == "done"
    run1 = run_check()  # the post_save hook syncs the tasks
    reconcile()
    assert Task.objects.count() > 20 and run1.findings_open >= Task.objects.count()
    assert Task.objects.filter(assignee__isnull=True).count() == Task.objects.count()  # no users yet

    staff_no = Staff.objects.filter(left_on__isnull=True).values_list("staff_no", flat=True).first()
    ops = make_user("ops", "operations", staff_no=staff_no)
    cs, cs2 = make_user("cs", "customer_service"), make_user("cs2", "customer_service")

    # the tasks whose open findings are all fixable by a new mobile
    fixable = [
        t
        for t in Task.objects.filter(role="applicant").order_by("id")
        if set(t.checks.split(",")) <= FIXABLE and t.open_findings
    ][:3]
    assert fixable, "the synthetic book has placeholder/invalid applicant mobiles"
    for i, task in enumerate(fixable):
        svc.record_attempt(task, ops, "phone", "13800138000", "wrong", "空号")
        svc.record_attempt(task, ops, "letter", "广东省广州市天河区体育西路1号", "sent")
        c = svc.propose_correction(task, ops, "mobile", f"1391{i:03d}{task.pk:04d}", request_no=f"BQ{task.pk}",
                                   version=task.version)  # fmt: skip
        svc.review_correction(c, cs, approve=True)
        task.refresh_from_db()
        svc.verify_task(task, cs2, contact=c.new_value, success=True)
        reconcile()
    assert Task.objects.filter(status="verified").count() == len(fixable)

    out = tmp_path / "corrections.csv"
    batch = svc.export_corrections(out, encoding="gbk")
    assert batch.rows == len(fixable) == Correction.objects.filter(exported_at__isnull=False).count()

    apply_changes(tmp_path / "book", out, tmp_path / "book2")
    load2 = load_book(tmp_path / "book2")
    assert load2.status == "done", load2.errors
    open_before = Finding.objects.filter(status="open").count()
    run2 = run_check()
    fixed = {(t.policy_no, t.role, t.seq) for t in fixable}
    for t in fixable:
        t.refresh_from_db()
        assert (t.status, t.close_reason, t.closed_run_id) == ("closed", "verified", run2.pk)
        assert not Finding.objects.filter(
            policy_no=t.policy_no, role=t.role, seq=t.seq, status="open"
        ).exists()
    assert run2.findings_closed >= len(fixed)
    assert (
        Finding.objects.filter(status="open").count()
        == open_before - run2.findings_closed + run2.findings_opened
    )
    # the corrections carried request numbers: the next book raises no SC01 for them
    assert not Finding.objects.filter(check_code="SC01", policy_no__in=[p for p, _, _ in fixed]).exists()
    reconcile()
    assert dict(Task.objects.values_list("status").annotate(n=Count("id")))["closed"] >= len(fixable)
