"""Append to the audit log, sign checkpoints, verify the whole log, prove one entry's inclusion.

Every read of personal data, unmask, change, login and failed login is appended here; if the append
fails, the caller must return no personal data (the access service fails closed on AuditWriteError).
"""

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from django.db import connection, transaction

from custos.audit import signing
from custos.audit.models import AuditEntry, Checkpoint
from custos.domain import merkle

CHECKPOINT_EVERY = 1000
_ADVISORY_LOCK = 0x637573746F73  # "custos": serialises appends on PostgreSQL


class AuditWriteError(RuntimeError):
    """The audit log could not be written; nothing may be returned to the caller."""


def _canonical(json_value) -> str:
    return json.dumps(json_value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def entry_bytes(
    seq, at_us, username, staff_no, action, model, record_ids, fields, purpose, client, outcome
) -> bytes:
    """The hashed form of an entry: a JSON array, so no field can bleed into the next."""
    return json.dumps(
        [seq, at_us, username, staff_no, action, model, record_ids, fields, purpose, client, outcome],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


_COLUMNS = "seq, at_us, username, staff_no, action, model, record_ids, fields, purpose, client, outcome"


def append(
    *,
    username: str,
    action: str,
    staff_no: str = "",
    model: str = "",
    record_ids: Iterable = (),
    fields: Iterable[str] = (),
    purpose: str = "",
    client: str = "",
    outcome: str = "ok",
) -> AuditEntry:
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
            last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
            seq = 0 if last is None else last + 1
            values = {
                "seq": seq,
                "at_us": time.time_ns() // 1000,
                "username": username[:150],
                "staff_no": staff_no[:64],
                "action": action[:32],
                "model": model[:32],
                "record_ids": _canonical(list(record_ids)),
                "fields": _canonical(sorted(fields)),
                "purpose": purpose[:500],
                "client": client[:64],
                "outcome": outcome[:16],
            }
            values["leaf_hash"] = merkle.leaf_hash(entry_bytes(*values.values()))
            entry = AuditEntry.objects.create(**values)
    except Exception as exc:  # any failure to record means the read must not happen
        raise AuditWriteError(f"audit log append failed: {exc}") from exc
    if (seq + 1) % CHECKPOINT_EVERY == 0:
        checkpoint()
    return entry


def _rows(start: int = 0, batch: int = 20000) -> Iterator[tuple]:
    table = AuditEntry._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT {_COLUMNS}, leaf_hash FROM {table} WHERE seq >= %s ORDER BY seq", [start])
        while rows := cur.fetchmany(batch):
            yield from rows


def checkpoint() -> Checkpoint | None:
    """Sign the current tree head. Resumes from the last checkpoint's compact range."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        last = Checkpoint.objects.order_by("-tree_size").first()
        cr = (
            merkle.CompactRange(last.tree_size, [bytes.fromhex(h) for h in json.loads(last.compact_range)])
            if last
            else merkle.CompactRange()
        )
        for row in _rows(cr.size):
            if row[0] != cr.size:
                raise AuditWriteError(f"audit log has a gap at entry {cr.size}")
            cr.append(merkle.leaf_hash(entry_bytes(*row[:11])))
        if cr.size == 0 or (last and cr.size == last.tree_size):
            return last
        key_id, key = signing.current_key()
        at_us = time.time_ns() // 1000
        root_hash = cr.root()
        return Checkpoint.objects.create(
            tree_size=cr.size,
            root_hash=root_hash,
            compact_range=json.dumps([h.hex() for h in cr.hashes]),
            at_us=at_us,
            key_id=key_id,
            signature=key.sign(signing.checkpoint_statement(cr.size, root_hash, at_us)),
        )


@dataclass
class VerifyResult:
    entries: int = 0
    checkpoints: int = 0
    verified_size: int = 0  # entries covered by the last verified checkpoint
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify() -> VerifyResult:
    """Recompute every leaf from the stored entry and every checkpoint root; check signatures."""
    started = time.perf_counter()
    result = VerifyResult()
    keys = signing.public_keys()
    checkpoints = list(Checkpoint.objects.order_by("tree_size"))
    pending = iter(checkpoints)
    next_cp = next(pending, None)
    cr = merkle.CompactRange()
    leaf_hash, entry_to_bytes = merkle.leaf_hash, entry_bytes

    def check_checkpoint(cp: Checkpoint) -> None:
        nonlocal result
        root_hash = bytes(cp.root_hash)
        if cr.root() != root_hash:
            result.problems.append(
                f"checkpoint at size {cp.tree_size}: entries 0..{cp.tree_size - 1} no longer hash to the signed root"
            )
        key = keys.get(cp.key_id)
        if key is None:
            result.problems.append(
                f"checkpoint at size {cp.tree_size}: signing key {cp.key_id} not in the keyring"
            )
        else:
            try:
                key.verify(
                    bytes(cp.signature), signing.checkpoint_statement(cp.tree_size, root_hash, cp.at_us)
                )
            except InvalidSignature:
                result.problems.append(f"checkpoint at size {cp.tree_size}: signature does not verify")
        result.checkpoints += 1
        if not result.problems:
            result.verified_size = cp.tree_size

    for row in _rows():
        if row[0] != cr.size:
            result.problems.append(f"entry sequence broken: expected {cr.size}, found {row[0]}")
            break
        h = leaf_hash(entry_to_bytes(*row[:11]))
        if h != bytes(row[11]):
            result.problems.append(f"entry {row[0]} was altered after it was written")
        cr.append(h)
        while next_cp is not None and next_cp.tree_size == cr.size:
            check_checkpoint(next_cp)
            next_cp = next(pending, None)
    result.entries = cr.size
    for cp in [next_cp, *pending] if next_cp is not None else []:
        result.problems.append(
            f"checkpoint at size {cp.tree_size} covers entries that are missing (log has {cr.size})"
        )
    result.seconds = time.perf_counter() - started
    return result


def _leaf_hashes(size: int) -> list[bytes]:
    out = []
    for row in _rows():
        if len(out) == size:
            break
        out.append(merkle.leaf_hash(entry_bytes(*row[:11])))
    return out


def prove(seq: int) -> dict:
    """Inclusion proof of entry `seq` in the latest checkpoint that covers it, verifiable on its own."""
    cp = Checkpoint.objects.filter(tree_size__gt=seq).order_by("-tree_size").first()
    if cp is None:
        checkpoint()
        cp = Checkpoint.objects.filter(tree_size__gt=seq).order_by("-tree_size").first()
    if cp is None:
        raise LookupError(f"no audit entry {seq}")
    leaves = _leaf_hashes(cp.tree_size)
    entry = AuditEntry.objects.get(seq=seq)
    return {
        "entry": {
            "seq": entry.seq,
            "bytes": entry_bytes(*[getattr(entry, c.strip()) for c in _COLUMNS.split(",")]).decode(),
        },
        "tree_size": cp.tree_size,
        "root_hash": bytes(cp.root_hash).hex(),
        "checkpoint_at_us": cp.at_us,
        "key_id": cp.key_id,
        "signature": bytes(cp.signature).hex(),
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(seq, leaves)],
    }


def consistency(first: int, second: int) -> dict:
    cps = {cp.tree_size: cp for cp in Checkpoint.objects.filter(tree_size__in=[first, second])}
    if first not in cps or second not in cps:
        raise LookupError("both sizes must be checkpoints")
    leaves = _leaf_hashes(second)
    return {
        "first": first,
        "second": second,
        "first_root": bytes(cps[first].root_hash).hex(),
        "second_root": bytes(cps[second].root_hash).hex(),
        "proof": [h.hex() for h in merkle.consistency_proof(first, leaves)],
    }


def check_proof(proof: dict) -> bool:
    """Verify an inclusion proof as printed by `prove`, with nothing but the keyring's public key."""
    leaf = merkle.leaf_hash(proof["entry"]["bytes"].encode())
    root_hash = bytes.fromhex(proof["root_hash"])
    ok = merkle.verify_inclusion(
        proof["entry"]["seq"],
        proof["tree_size"],
        leaf,
        [bytes.fromhex(h) for h in proof["inclusion_proof"]],
        root_hash,
    )
    key = signing.public_keys().get(proof["key_id"])
    if key is None:
        return False
    try:
        key.verify(
            bytes.fromhex(proof["signature"]),
            signing.checkpoint_statement(proof["tree_size"], root_hash, proof["checkpoint_at_us"]),
        )
    except InvalidSignature:
        return False
    return ok
