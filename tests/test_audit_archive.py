"""Retention: entries older than the retention that a signed checkpoint covers move into an archive file
that verifies on its own; the log keeps their leaf hashes and still verifies; tampering is found."""

import gzip
import json
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from custos.audit import archive, service
from custos.audit.models import Archive, ArchivedLeaf, AuditEntry, Checkpoint

pytestmark = pytest.mark.django_db
DAY_US = 86_400_000_000


@pytest.fixture(autouse=True)
def keyring(custos_home):
    return custos_home


def fill(n: int, *, days_ago: float = 0, monkeypatch=None) -> None:
    real = time.time_ns
    if days_ago and monkeypatch is not None:
        monkeypatch.setattr(time, "time_ns", lambda: real() - int(days_ago * DAY_US * 1000))
    try:
        for i in range(n):
            service.append(
                username=f"u{i % 3}", action="detail", model="party", record_ids=[i], fields=["id_no"]
            )
    finally:
        if monkeypatch is not None:
            monkeypatch.setattr(time, "time_ns", real)


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params)


def rewrite(path, edit) -> None:
    """Apply edit(lines) to an archive's decompressed lines and write it back."""
    lines = gzip.open(path, "rb").read().split(b"\n")[:-1]
    lines = edit(lines)
    with gzip.open(path, "wb") as f:
        f.write(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def archived(monkeypatch, tmp_path):
    """35 entries 4 years old (checkpoint at 30 and 35), then 10 recent ones: archive up to 35."""
    fill(30, days_ago=4 * 365, monkeypatch=monkeypatch)
    service.checkpoint()
    fill(5, days_ago=4 * 365, monkeypatch=monkeypatch)
    service.checkpoint()
    fill(10)
    service.checkpoint()
    done = archive.archive(out_dir=tmp_path / "arch")
    return done


def test_old_entries_move_to_an_archive_that_verifies_alone(archived):
    assert (archived.first_seq, archived.end_seq) == (0, 35)
    assert not AuditEntry.objects.filter(seq__lt=35).exists()
    assert AuditEntry.objects.count() == 10 and ArchivedLeaf.objects.count() == 35
    # the archive alone: no database row is read
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Checkpoint.objects, "filter", None)
        check = archive.check_archive(archived.path)
    assert check.ok, check.problems
    assert (check.entries, check.checkpoints, check.first_seq, check.end_seq) == (35, 2, 0, 35)
    first = json.loads(gzip.open(archived.path).read().split(b"\n")[1])
    assert first[0] == 0 and first[2] == "u0"


def test_the_remaining_log_still_verifies_and_proves(archived):
    result = service.verify()
    assert result.ok, result.problems
    assert (result.entries, result.archived, result.checkpoints, result.verified_size) == (45, 35, 3, 45)
    proof = service.prove(40)
    assert service.check_proof(proof)
    with pytest.raises(LookupError, match="archived in"):
        service.prove(3)
    fill(3)
    service.checkpoint()
    assert service.verify().ok


def test_default_retention_keeps_recent_entries(tmp_path):
    fill(20)
    service.checkpoint()
    assert archive.archive(out_dir=tmp_path) is None  # nothing is 3 years old
    assert AuditEntry.objects.count() == 20 and not Archive.objects.exists()


def test_only_entries_covered_by_a_checkpoint_and_older_than_retention_move(monkeypatch, tmp_path):
    fill(12, days_ago=1200, monkeypatch=monkeypatch)
    service.checkpoint()  # covers 0..11
    fill(5, days_ago=1200, monkeypatch=monkeypatch)  # 12..16 old but, with 17.. recent, ...
    fill(4)
    first, end = archive.plan()
    assert first == 0 and end == 12  # ... no checkpoint ends at 17 until archive() signs one
    done = archive.archive(out_dir=tmp_path)
    # archive() signs the head first (size 21): the newest checkpoint not past the first kept entry is 12
    assert (done.first_seq, done.end_seq) == (0, 12)
    assert archive.archive(out_dir=tmp_path) is None
    assert service.verify().ok


def test_a_second_archive_continues_from_the_first(monkeypatch, tmp_path):
    fill(10, days_ago=2000, monkeypatch=monkeypatch)
    service.checkpoint()
    a = archive.archive(out_dir=tmp_path)
    fill(8, days_ago=1500, monkeypatch=monkeypatch)
    service.checkpoint()
    fill(2)
    b = archive.archive(out_dir=tmp_path)
    assert (a.first_seq, a.end_seq, b.first_seq, b.end_seq) == (0, 10, 10, 18)
    assert archive.check_archive(b.path).ok  # starts from the compact range bound by checkpoint 10
    assert service.verify().ok and service.verify().archived == 18


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda ls: [ls[0], *ls[1:6], ls[6].replace(b'"u2"', b'"u1"'), *ls[7:]], "do not hash"),
        (lambda ls: [ls[0], *ls[1:10], *ls[11:]], "sequence broken"),
        (lambda ls: [ls[0], *ls[1:3], ls[4], ls[3], *ls[5:]], "sequence broken"),
        (lambda ls: ls[:-1], "entries up to"),
        (lambda ls: [*ls, ls[-1].replace(b"[34,", b"[35,")], "entries up to"),
    ],
    ids=["changed", "deleted", "reordered", "truncated", "appended"],
)
def test_tampering_with_the_archive_is_detected(archived, edit, problem):
    rewrite(archived.path, edit)
    check = archive.check_archive(archived.path)
    assert not check.ok and any(problem in p for p in check.problems), check.problems


def test_forged_checkpoint_in_the_archive_is_detected(archived):
    def edit(lines):
        header = json.loads(lines[0])
        header["checkpoints"][0]["at_us"] += 1
        return [json.dumps(header).encode(), *lines[1:]]

    rewrite(archived.path, edit)
    assert any("signature does not verify" in p for p in archive.check_archive(archived.path).problems)


def test_changed_kept_leaf_hash_is_detected(archived):
    raw(f"UPDATE {ArchivedLeaf._meta.db_table} SET leaf_hash=%s WHERE seq=4", [b"\x00" * 32])
    result = service.verify()
    assert any("no longer hash to the signed root" in p for p in result.problems)
    raw(f"DELETE FROM {ArchivedLeaf._meta.db_table} WHERE seq=20")
    assert any("archived leaf hashes broken" in p for p in service.verify().problems)


def test_commands(monkeypatch, tmp_path, capsys):
    fill(6, days_ago=1100, monkeypatch=monkeypatch)
    call_command("audit", "archive", "--out", str(tmp_path))
    out = capsys.readouterr().out
    assert "archived entries 0..5" in out
    path = next(tmp_path.glob("*.jsonl.gz"))
    assert (path.stat().st_mode & 0o777) == 0o600
    call_command("audit", "check-archive", str(path))
    assert "archive verified" in capsys.readouterr().out
    call_command("audit", "archive", "--out", str(tmp_path))
    assert "nothing to archive" in capsys.readouterr().out
    rewrite(path, lambda ls: ls[:-1])
    with pytest.raises(CommandError, match="does NOT verify"):
        call_command("audit", "check-archive", str(path))
    with pytest.raises(CommandError, match="not a readable archive"):
        (tmp_path / "junk.gz").write_bytes(b"junk")
        call_command("audit", "check-archive", str(tmp_path / "junk.gz"))
