"""The one place a read of personal data is recorded: an entry of the tamper-evident audit log
(`custos.audit.service.append`, an RFC 9162 Merkle tree with signed checkpoints).

Callers only ever call `append`, which either records the read or raises ReadLogUnavailable, in which
case the caller must return nothing (fail closed).
"""

from custos.audit import service as audit


class ReadLogUnavailable(RuntimeError):
    """The read could not be recorded; the data must not be returned."""


def append(
    *,
    user,
    staff_no: str,
    action: str,
    model: str,
    record_ids: list,
    fields: list[str],
    client: str = "",
    purpose: str = "",
    outcome: str = "ok",
):
    try:
        return audit.append(
            username=getattr(user, "username", "") or "",
            staff_no=staff_no or "",
            action=action,
            model=model,
            record_ids=list(record_ids),
            fields=list(fields),
            client=client or "",
            purpose=purpose or "",
            outcome=outcome,
        )
    except audit.AuditWriteError as exc:
        raise ReadLogUnavailable(f"read log write failed: {exc}") from exc
