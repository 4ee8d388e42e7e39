"""What the auditor's verification page reads: the background verification runs, the signed
checkpoints, and proofs (RFC 9162) checked here as a client would check them. Read-only: nothing here
signs a checkpoint or starts a run (`custos.audit.service.prove` would sign one when none covers the
entry; this module says so instead)."""

from __future__ import annotations

import datetime as dt

from custos.audit import service
from custos.audit.models import AuditEntry, Checkpoint, VerifyRun
from custos.domain import merkle


def _at(at_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(at_us / 1_000_000, tz=dt.UTC)


def overview(checkpoints: int = 20, runs: int = 20) -> dict:
    cps = list(Checkpoint.objects.order_by("-tree_size")[:checkpoints])
    return {
        "entries": AuditEntry.objects.count(),
        "runs": list(VerifyRun.objects.order_by("-created_at")[:runs]),
        "checkpoints": [
            {"size": c.tree_size, "at": _at(c.at_us), "key_id": c.key_id, "root": bytes(c.root_hash).hex()}
            for c in cps
        ],
    }


class NoProof(LookupError):
    """No proof can be given (yet): the message says why."""


def inclusion(seq: int) -> dict:
    """The inclusion proof of entry `seq` in the latest checkpoint covering it, and whether it verifies
    (leaf, path, root and the checkpoint's signature: service.check_proof)."""
    if not Checkpoint.objects.filter(tree_size__gt=seq).exists():
        raise NoProof("not yet covered by a signed checkpoint")
    try:
        proof = service.prove(seq)
    except LookupError as exc:
        raise NoProof(str(exc)) from exc
    return {"proof": proof, "verified": service.check_proof(proof)}


def consistency(first: int, second: int) -> dict:
    """The consistency proof between two checkpoints (the older log is a prefix of the newer one)."""
    if first > second:
        first, second = second, first
    try:
        proof = service.consistency(first, second)
    except LookupError as exc:
        raise NoProof(str(exc)) from exc
    verified = merkle.verify_consistency(
        first,
        second,
        bytes.fromhex(proof["first_root"]),
        bytes.fromhex(proof["second_root"]),
        [bytes.fromhex(h) for h in proof["proof"]],
    )
    return {"proof": proof, "verified": verified}
