"""The audit log is tamper-evident: any change, deletion, insertion or reordering of stored entries is
found by `verify`, and a printed inclusion proof verifies on its own."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custos.audit import service
from custos.audit.models import AuditEntry, Checkpoint
from custos.domain import merkle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keyring(custos_home):
    return custos_home


def fill(n: int) -> None:
    for i in range(n):
        service.append(
            username=f"u{i % 3}",
            staff_no=f"S{i % 3}",
            action="detail",
            model="party",
            record_ids=[i],
            fields=["id_no", "mobile"],
            client="127.0.0.1",
        )


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params)


def test_untouched_log_verifies_and_checkpoints_are_signed():
    fill(25)
    service.checkpoint()
    fill(10)
    service.checkpoint()
    result = service.verify()
    assert result.ok, result.problems
    assert (result.entries, result.checkpoints, result.verified_size) == (35, 2, 35)
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == list(range(35))


def test_changed_entry_is_detected_even_when_its_stored_hash_is_recomputed():
    fill(20)
    service.checkpoint()
    entry = AuditEntry.objects.get(seq=7)
    forged = service.entry_bytes(
        7,
        entry.at_us,
        "someone_else",
        entry.staff_no,
        entry.action,
        entry.model,
        entry.record_ids,
        entry.fields,
        entry.purpose,
        entry.client,
        entry.outcome,
    )
    raw(
        f"UPDATE {AuditEntry._meta.db_table} SET username=%s, leaf_hash=%s WHERE seq=7",
        ["someone_else", merkle.leaf_hash(forged)],
    )
    result = service.verify()
    assert not result.ok
    assert any("no longer hash to the signed root" in p for p in result.problems)


def test_changed_entry_without_rehash_is_located():
    fill(20)
    service.checkpoint()
    raw(f"UPDATE {AuditEntry._meta.db_table} SET record_ids=%s WHERE seq=3", ["[999]"])
    result = service.verify()
    assert "entry 3 was altered after it was written" in result.problems


def test_deleted_entry_is_detected():
    fill(20)
    service.checkpoint()
    raw(f"DELETE FROM {AuditEntry._meta.db_table} WHERE seq=19")
    result = service.verify()
    assert not result.ok
    assert any("missing" in p for p in result.problems)


def test_deleted_middle_entry_breaks_the_sequence():
    fill(20)
    service.checkpoint()
    raw(f"DELETE FROM {AuditEntry._meta.db_table} WHERE seq=5")
    assert any("sequence broken" in p for p in service.verify().problems)


def test_inserted_and_reordered_entries_are_detected():
    fill(10)
    service.checkpoint()
    # swap two entries' positions
    raw(f"UPDATE {AuditEntry._meta.db_table} SET seq=-1 WHERE seq=2")
    raw(f"UPDATE {AuditEntry._meta.db_table} SET seq=2 WHERE seq=3")
    raw(f"UPDATE {AuditEntry._meta.db_table} SET seq=3 WHERE seq=-1")
    assert not service.verify().ok


def test_forged_checkpoint_signature_is_detected():
    fill(5)
    cp = service.checkpoint()
    raw(f"UPDATE {Checkpoint._meta.db_table} SET at_us=%s WHERE id=%s", [cp.at_us + 1, cp.pk])
    assert any("signature does not verify" in p for p in service.verify().problems)


def test_inclusion_proof_verifies_independently_and_not_when_tampered(tmp_path):
    fill(37)
    proof = service.prove(20)
    assert service.check_proof(proof)
    assert merkle.verify_inclusion(
        20,
        proof["tree_size"],
        merkle.leaf_hash(proof["entry"]["bytes"].encode()),
        [bytes.fromhex(h) for h in proof["inclusion_proof"]],
        bytes.fromhex(proof["root_hash"]),
    )
    tampered = json.loads(json.dumps(proof))
    tampered["entry"]["bytes"] = tampered["entry"]["bytes"].replace("u2", "u0")
    assert not service.check_proof(tampered)


def test_consistency_between_checkpoints():
    fill(13)
    a = service.checkpoint()
    fill(30)
    b = service.checkpoint()
    proof = service.consistency(a.tree_size, b.tree_size)
    assert merkle.verify_consistency(
        a.tree_size,
        b.tree_size,
        bytes(a.root_hash),
        bytes(b.root_hash),
        [bytes.fromhex(h) for h in proof["proof"]],
    )


def test_command_exit_status(tmp_path, capsys):
    fill(12)
    call_command("audit", "verify")
    assert "verified" in capsys.readouterr().out
    call_command("audit", "prove", "4", stdout=open(tmp_path / "p.json", "w"))
    call_command("audit", "check-proof", str(tmp_path / "p.json"))
    raw(f"UPDATE {AuditEntry._meta.db_table} SET outcome='denied' WHERE seq=4")
    with pytest.raises(CommandError, match="FAILED"):
        call_command("audit", "verify")


def test_append_failure_raises_audit_write_error(monkeypatch):
    monkeypatch.setattr(AuditEntry._meta, "db_table", "no_such_table")
    with pytest.raises(service.AuditWriteError):
        service.append(username="u", action="detail")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(min_value=0, max_value=2**62),
    st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=30), min_size=9, max_size=9),
)
def test_entry_bytes_are_the_canonical_json_array(seq, texts):
    """The hand-written encoder hashes exactly the bytes of json.dumps (quotes, backslashes, control
    characters, non-ASCII) — the form every existing leaf hash was computed on."""
    values = [seq, seq // 3, *texts]
    expected = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
    assert service.entry_bytes(*values) == expected
    row = (*values, b"")
    assert service._leaf_hashes_of_rows([row]) == [merkle.leaf_hash(expected)]


def test_verify_and_checkpoint_span_many_chunks(monkeypatch):
    """Chunk boundaries (here every 7 rows) fall between checkpoints and inside them."""
    real = service._chunks
    monkeypatch.setattr(service, "_chunks", lambda start=0, batch=7: real(start, batch=7))
    monkeypatch.setattr(service, "CHECKPOINT_EVERY", 5)
    fill(23)
    service.checkpoint()
    result = service.verify()
    assert result.ok and result.entries == 23 and result.checkpoints == 5 and result.verified_size == 23
    raw("UPDATE audit_auditentry SET purpose = 'x' WHERE seq = 16")
    result = service.verify()
    assert result.problems[0] == "entry 16 was altered after it was written"
    assert any("checkpoint at size 20" in p for p in result.problems)
    assert result.verified_size == 15
