"""Append to the audit log, sign checkpoints, verify the whole log, prove one entry's inclusion.

Every read of personal data, unmask, change, login and failed login is appended here; if the append
fails, the caller must return no personal data (the access service fails closed on AuditWriteError).
"""

import hashlib
import json
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _json_string  # the escaping of ensure_ascii=False

from cryptography.exceptions import InvalidSignature
from django.db import connection, transaction

from custos.audit import actions, signing
from custos.audit.models import ArchivedLeaf, AuditEntry, Checkpoint
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
    """The hashed form of an entry: a JSON array, so no field can bleed into the next — exactly
    json.dumps([...], ensure_ascii=False, separators=(",", ":")), written out for speed (verify)."""
    q = _json_string
    return (
        f"[{int(seq)},{int(at_us)},{q(username)},{q(staff_no)},{q(action)},{q(model)},{q(record_ids)},"
        f"{q(fields)},{q(purpose)},{q(client)},{q(outcome)}]"
    ).encode()


def _leaf_hashes_of_rows(rows: list[tuple]) -> list[bytes]:
    """Leaf hashes of stored rows (the 11 hashed columns first), as entry_bytes + merkle.leaf_hash."""
    sha256, q = hashlib.sha256, _json_string
    return [
        sha256(
            f"\x00[{int(r[0])},{int(r[1])},{q(r[2])},{q(r[3])},{q(r[4])},{q(r[5])},{q(r[6])},{q(r[7])},"
            f"{q(r[8])},{q(r[9])},{q(r[10])}]".encode()
        ).digest()
        for r in rows
    ]


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
    actions.validate(action, outcome)  # an unregistered action is a bug: raised, not an AuditWriteError
    try:
        with transaction.atomic():
            table = AuditEntry._meta.db_table
            with connection.cursor() as cur:  # plain SQL: this runs on every read of personal data
                if connection.vendor == "postgresql":
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
                cur.execute(f"SELECT seq FROM {table} ORDER BY seq DESC LIMIT 1")
                last = cur.fetchone()
            seq = archived_size() if last is None else last[0] + 1  # all archived: continue after them
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
            with connection.cursor() as cur:
                cur.execute(
                    f"INSERT INTO {table} ({_COLUMNS}, leaf_hash) VALUES ({', '.join(['%s'] * 12)})",
                    list(values.values()),
                )
            entry = AuditEntry(**values)
    except Exception as exc:  # any failure to record means the read must not happen
        raise AuditWriteError(f"audit log append failed: {exc}") from exc
    if (seq + 1) % CHECKPOINT_EVERY == 0:
        checkpoint()
    return entry


def _read_ahead(fetch) -> Iterator[list]:
    """Yield fetch() results until an empty one, fetching the next in a thread while the caller works
    on the current one (the database and psycopg's network wait overlap the hashing)."""
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                rows = fetch()
                while not stop.is_set():
                    try:
                        chunks.put(rows, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if not rows:
                    return
        except BaseException as exc:  # handed to the consumer
            chunks.put(exc)

    thread = threading.Thread(target=produce, name="custos-audit-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            rows = chunks.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield rows
    finally:
        stop.set()
        thread.join()


def _chunks(start: int = 0, batch: int = 50_000) -> Iterator[list[tuple]]:
    """Stored entries from seq `start` in order, in lists of up to `batch` rows (the 11 hashed
    columns, then leaf_hash). On PostgreSQL a server-side cursor streams them (bounded memory)."""
    table = AuditEntry._meta.db_table
    sql = f"SELECT {_COLUMNS}, leaf_hash FROM {table} WHERE seq >= %s ORDER BY seq"
    if connection.vendor == "postgresql":
        with transaction.atomic():  # a named cursor lives in a transaction; one snapshot throughout
            connection.ensure_connection()
            with connection.connection.cursor(name=f"custos_audit_{time.monotonic_ns()}") as cur:
                cur.itersize = batch
                cur.execute(sql, [start], binary=True)  # no text parsing of integers and bytea
                yield from _read_ahead(lambda: cur.fetchmany(batch))
        return
    with connection.cursor() as cur:
        cur.execute(sql, [start])
        while rows := cur.fetchmany(batch):
            yield rows


def _archived_chunks(batch: int = 200_000) -> Iterator[list[tuple]]:
    """(seq, leaf_hash) of archived entries in order: all the tree keeps of them."""
    table = ArchivedLeaf._meta.db_table
    last = -1
    while True:
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT seq, leaf_hash FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s", [last, batch]
            )
            rows = cur.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def archived_size() -> int:
    """Entries [0, archived_size()) have been archived (their leaf hashes stay)."""
    last = ArchivedLeaf.objects.order_by("-seq").values_list("seq", flat=True).first()
    return 0 if last is None else last + 1


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
        for rows in _chunks(cr.size):
            if [r[0] for r in rows] != list(range(cr.size, cr.size + len(rows))):
                raise AuditWriteError(f"audit log has a gap after entry {cr.size}")
            cr.extend(_leaf_hashes_of_rows(rows))
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
    archived: int = 0  # entries [0, archived) checked through their kept leaf hashes only
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

    first_bad = None  # the first entry found altered or out of sequence
    all_checkpoints_good = True

    def check_checkpoint(cp: Checkpoint) -> None:
        nonlocal all_checkpoints_good
        before = len(result.problems)
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
        all_checkpoints_good = all_checkpoints_good and len(result.problems) == before
        if all_checkpoints_good and (first_bad is None or first_bad >= cp.tree_size):
            result.verified_size = cp.tree_size

    def advance(leaves: list[bytes]) -> None:
        """Extend the tree by leaves, checking every checkpoint met on the way."""
        nonlocal next_cp
        base, done = cr.size, 0
        while next_cp is not None and next_cp.tree_size <= base + len(leaves):
            cut = next_cp.tree_size - base
            cr.extend(leaves[done:cut])
            done = cut
            check_checkpoint(next_cp)
            next_cp = next(pending, None)
        cr.extend(leaves[done:])

    # archived entries: only their leaf hashes remain; the signed roots still check them
    for rows in _archived_chunks():
        if [r[0] for r in rows] != list(range(cr.size, cr.size + len(rows))):
            result.problems.append(f"archived leaf hashes broken after entry {cr.size}")
            first_bad = cr.size if first_bad is None else first_bad
            break
        advance([bytes(r[1]) for r in rows])
    result.archived = cr.size

    for rows in _chunks(cr.size):
        base = cr.size
        expected = range(base, base + len(rows))
        seqs = [r[0] for r in rows]
        broken = seqs != list(expected)
        if broken:
            k = next(i for i, (s, e) in enumerate(zip(seqs, expected, strict=True)) if s != e)
            result.problems.append(f"entry sequence broken: expected {base + k}, found {seqs[k]}")
            first_bad = base + k
            rows = rows[:k]
        leaves = _leaf_hashes_of_rows(rows)
        if leaves != [r[11] for r in rows]:
            altered = [r[0] for r, h in zip(rows, leaves, strict=True) if h != bytes(r[11])]
            result.problems.extend(f"entry {seq} was altered after it was written" for seq in altered)
            first_bad = min(altered) if first_bad is None else min(first_bad, *altered)
        advance(leaves)
        if broken:
            break
    result.entries = cr.size
    for cp in [next_cp, *pending] if next_cp is not None else []:
        result.problems.append(
            f"checkpoint at size {cp.tree_size} covers entries that are missing (log has {cr.size})"
        )
    result.seconds = time.perf_counter() - started
    return result


def _leaf_hashes(size: int) -> list[bytes]:
    out: list[bytes] = []
    for rows in _archived_chunks():
        out.extend(bytes(r[1]) for r in rows[: size - len(out)])
        if len(out) >= size:
            return out
    for rows in _chunks(len(out)):
        out.extend(_leaf_hashes_of_rows(rows[: size - len(out)]))
        if len(out) >= size:
            break
    return out


def prove(seq: int) -> dict:
    """Inclusion proof of entry `seq` in the latest checkpoint that covers it, verifiable on its own."""
    cp = Checkpoint.objects.filter(tree_size__gt=seq).order_by("-tree_size").first()
    if cp is None:
        checkpoint()
        cp = Checkpoint.objects.filter(tree_size__gt=seq).order_by("-tree_size").first()
    if cp is None:
        raise LookupError(f"no audit entry {seq}")
    entry = AuditEntry.objects.filter(seq=seq).first()
    if entry is None:
        from custos.audit.models import Archive

        archive = Archive.objects.filter(first_seq__lte=seq, end_seq__gt=seq).first()
        if archive is not None:
            raise LookupError(
                f"audit entry {seq} is archived in {archive.path}: check it with `custos audit check-archive`"
            )
        raise LookupError(f"no audit entry {seq}")
    leaves = _leaf_hashes(cp.tree_size)
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
