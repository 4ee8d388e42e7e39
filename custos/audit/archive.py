"""Retention of the audit log: entries older than CUSTOS_AUDIT_RETENTION_DAYS (3 years by default)
that a signed checkpoint covers are moved into an archive file; the database keeps their leaf hashes.

The archive file (gzip, one JSON document per line) verifies on its own:

    line 1   header: format, first_seq, end_seq, the compact range of the tree before first_seq
             (the perfect-subtree hashes that stand for entries [0, first_seq)), every signed
             checkpoint of sizes first_seq..end_seq (tree size, root, time, key id, signature), the
             public keys that signed them, and a consistency proof from the checkpoint at end_seq to
             the newest checkpoint when the archive was written
    line 2…  the archived entries, each exactly the bytes that were hashed (a canonical JSON array
             whose first element is the entry's sequence number), in order

`verify_archive` recomputes the tree from the compact range through every entry and checks each
checkpoint's root and Ed25519 signature: a changed, missing, added or reordered entry, or a changed
checkpoint, fails. The compact range itself is bound by the signed checkpoint at first_seq (included
when first_seq > 0), so no part of the file can be changed unnoticed.

In the database, archiving a prefix [first_seq, end_seq) of the log inserts the entries' leaf hashes
into ArchivedLeaf and deletes the entries, in one transaction, after the file is written and synced.
`service.verify` then checks the archived part through the leaf hashes against the same signed roots
(so a changed leaf hash is found) and the remaining entries as before; inclusion and consistency
proofs of remaining entries still build. What the database no longer has is the content of archived
entries: who read what, when — that lives in the archive file only.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import connection, transaction

from custos.audit import service, signing
from custos.audit.models import Archive, ArchivedLeaf, AuditEntry, Checkpoint
from custos.domain import merkle

FORMAT = "custos-audit-archive/1"


class ArchiveError(RuntimeError):
    """The archive could not be written (nothing was removed from the database)."""


def archive_dir() -> Path:
    return Path(os.environ.get("CUSTOS_AUDIT_ARCHIVE_DIR") or settings.HOME / "audit-archive")


def _checkpoint_json(cp: Checkpoint) -> dict:
    return {
        "tree_size": cp.tree_size,
        "root_hash": bytes(cp.root_hash).hex(),
        "at_us": cp.at_us,
        "key_id": cp.key_id,
        "signature": bytes(cp.signature).hex(),
    }


def _public_keys_json() -> dict[str, str]:
    return {
        kid: key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        for kid, key in signing.public_keys().items()
    }


def plan(retention_days: int | None = None, now_us: int | None = None) -> tuple[int, int]:
    """(first_seq, end_seq) of the entries that may be archived now: older than the retention and
    covered by a signed checkpoint whose size is the end. first_seq == end_seq when there is none."""
    days = settings.CUSTOS_AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    cutoff = now_us - days * 86_400_000_000
    start = service.archived_size()
    # the first entry that must stay; entries are numbered in the order they were written
    keep = (
        AuditEntry.objects.filter(seq__gte=start, at_us__gte=cutoff)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    first_kept = keep.first()
    if first_kept is None:
        last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
        first_kept = start if last is None else last + 1
    end = (
        Checkpoint.objects.filter(tree_size__gt=start, tree_size__lte=first_kept)
        .order_by("-tree_size")
        .values_list("tree_size", flat=True)
        .first()
    )
    return start, (end or start)


def archive(
    retention_days: int | None = None, out_dir: Path | None = None, *, now_us: int | None = None, by: str = ""
) -> Archive | None:
    """Move the entries `plan` selects into a new archive file; None when there is nothing to move."""
    service.checkpoint()  # so that everything old enough is covered by a signed checkpoint
    first, end = plan(retention_days, now_us)
    if end <= first:
        return None
    out_dir = Path(out_dir) if out_dir else archive_dir()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    checkpoints = list(
        Checkpoint.objects.filter(tree_size__gte=first, tree_size__lte=end).order_by("tree_size")
    )
    if first > 0 and (not checkpoints or checkpoints[0].tree_size != first):
        raise ArchiveError(f"no signed checkpoint at {first}, where the previous archive ended")
    # the compact range before `first`: stored with the checkpoint at `first` (or empty)
    prefix = json.loads(checkpoints[0].compact_range) if first > 0 else []
    latest = Checkpoint.objects.order_by("-tree_size").first()
    leaves = service._leaf_hashes(latest.tree_size)
    consistency = {
        "first": end,
        "second": latest.tree_size,
        "second_checkpoint": _checkpoint_json(latest),
        "proof": [h.hex() for h in merkle.consistency_proof(end, leaves)] if latest.tree_size > end else [],
    }
    header = {
        "format": FORMAT,
        "first_seq": first,
        "end_seq": end,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "prefix": {"tree_size": first, "compact_range": prefix},
        "checkpoints": [_checkpoint_json(cp) for cp in checkpoints],
        "public_keys": _public_keys_json(),
        "consistency": consistency,
    }
    path = out_dir / f"audit-{first:012d}-{end - 1:012d}.jsonl.gz"
    tmp = path.with_suffix(".part")
    digest = hashlib.sha256()
    kept: list[tuple[int, bytes]] = []
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
            for rows in service._chunks(first):
                rows = [r for r in rows if r[0] < end]
                if not rows:
                    break
                for r, h in zip(rows, service._leaf_hashes_of_rows(rows), strict=True):
                    if r[0] != first + len(kept):
                        raise ArchiveError(f"audit log has a gap at entry {first + len(kept)}")
                    if h != bytes(r[11]):
                        raise ArchiveError(f"entry {r[0]} was altered after it was written: not archived")
                    gz.write(service.entry_bytes(*r[:11]) + b"\n")
                    kept.append((r[0], h))
            gz.close()
            raw.flush()
            os.fsync(raw.fileno())
        if len(kept) != end - first:
            raise ArchiveError(f"expected {end - first} entries from {first}, found {len(kept)}")
        digest.update(tmp.read_bytes())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    problems = verify_archive(path)  # read it back before removing anything
    if problems:
        path.unlink(missing_ok=True)
        raise ArchiveError(f"the archive written does not verify: {problems[0]}")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [service._ADVISORY_LOCK])
        if service.archived_size() != first:
            raise ArchiveError("another archive run moved these entries meanwhile")
        for i in range(0, len(kept), 10_000):
            ArchivedLeaf.objects.bulk_create(
                [ArchivedLeaf(seq=s, leaf_hash=h) for s, h in kept[i : i + 10_000]]
            )
        AuditEntry.objects.filter(seq__gte=first, seq__lt=end).delete()
        return Archive.objects.create(
            first_seq=first, end_seq=end, path=str(path), sha256=digest.hexdigest(), created_by=by
        )


@dataclass
class ArchiveCheck:
    first_seq: int = 0
    end_seq: int = 0
    entries: int = 0
    checkpoints: int = 0
    keys_from: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_archive(path: Path, public_keys: dict[str, Ed25519PublicKey] | None = None) -> ArchiveCheck:
    """Verify an archive file with nothing but the file and the signing public keys (by default the
    keyring's when it has any, else the keys written in the archive — compare their ids with the ids
    you trust)."""
    out = ArchiveCheck()
    try:
        f = gzip.open(path, "rb")
        header = json.loads(f.readline())
    except (OSError, EOFError, ValueError) as exc:
        out.problems.append(f"{path}: not a readable archive ({exc})")
        return out
    with f:
        try:
            if header.get("format") != FORMAT:
                raise ValueError(f"unknown format {header.get('format')!r}")
            first, end = int(header["first_seq"]), int(header["end_seq"])
            cr = merkle.CompactRange(first, [bytes.fromhex(h) for h in header["prefix"]["compact_range"]])
            cps = sorted(header["checkpoints"], key=lambda c: c["tree_size"])
        except (KeyError, TypeError, ValueError) as exc:
            out.problems.append(f"{path}: header is not valid ({exc})")
            return out
        out.first_seq, out.end_seq = first, end
        if public_keys is None:
            try:
                public_keys = signing.public_keys() or None
                out.keys_from = "keyring"
            except Exception:  # noqa: BLE001 — no keyring here: fall back to the archive's keys
                public_keys = None
        if public_keys is None:
            out.keys_from = "archive"
            public_keys = {
                kid: Ed25519PublicKey.from_public_bytes(bytes.fromhex(raw))
                for kid, raw in header.get("public_keys", {}).items()
            }

        def check_signature(cp: dict, root_hash: bytes) -> None:
            key = public_keys.get(cp.get("key_id"))
            if key is None:
                out.problems.append(
                    f"checkpoint at size {cp.get('tree_size')}: unknown signing key {cp.get('key_id')}"
                )
                return
            try:
                key.verify(
                    bytes.fromhex(cp["signature"]),
                    signing.checkpoint_statement(cp["tree_size"], root_hash, cp["at_us"]),
                )
            except (InvalidSignature, KeyError, TypeError, ValueError):
                out.problems.append(f"checkpoint at size {cp.get('tree_size')}: signature does not verify")

        def check_cp(cp: dict) -> None:
            root_hash = bytes.fromhex(cp["root_hash"])
            if cr.root() != root_hash:
                out.problems.append(
                    f"checkpoint at size {cp['tree_size']}: archived entries do not hash to its root"
                )
            check_signature(cp, root_hash)
            out.checkpoints += 1

        if first > 0 and (not cps or cps[0]["tree_size"] != first):
            out.problems.append(f"no checkpoint at {first} binds the compact range of the earlier entries")
        if not cps or cps[-1]["tree_size"] != end:
            out.problems.append(f"no checkpoint at the archive's end ({end})")
        pending = iter(c for c in cps if c["tree_size"] >= first)
        nxt = next(pending, None)
        while nxt is not None and nxt["tree_size"] == cr.size:
            check_cp(nxt)
            nxt = next(pending, None)
        for line in f:
            data = line.rstrip(b"\n")
            try:
                seq = int(data[1 : data.index(b",")])
            except ValueError:
                out.problems.append(f"line {out.entries + 2}: not an entry")
                return out
            if seq != cr.size:
                out.problems.append(f"entry sequence broken: expected {cr.size}, found {seq}")
                return out
            cr.append(merkle.leaf_hash(data))
            out.entries += 1
            while nxt is not None and nxt["tree_size"] == cr.size:
                check_cp(nxt)
                nxt = next(pending, None)
        if cr.size != end:
            out.problems.append(f"the archive holds entries up to {cr.size - 1}, its header says {end - 1}")
        if nxt is not None:
            out.problems.append(
                f"checkpoint at size {nxt['tree_size']} covers entries missing from the archive"
            )
        cons = header.get("consistency") or {}
        if cons.get("proof") and not out.problems:
            second = cons.get("second_checkpoint", {})
            ok = merkle.verify_consistency(
                end,
                int(cons["second"]),
                cr.root(),
                bytes.fromhex(second.get("root_hash", "")),
                [bytes.fromhex(h) for h in cons["proof"]],
            )
            if not ok:
                out.problems.append(f"consistency proof from {end} to {cons['second']} does not verify")
            else:
                check_signature(second, bytes.fromhex(second["root_hash"]))
    return out


def verify_archive(path: Path) -> list[str]:
    return check_archive(path).problems
