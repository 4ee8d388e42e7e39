"""The one place a read of personal data is recorded.

Today the record is a row of the append-only ReadLog table; a later version replaces it with the
tamper-evident (Merkle tree) audit log. Callers only ever call `append`, which either records the read
or raises ReadLogUnavailable, in which case the caller must return nothing (fail closed).
"""

from django.db import DatabaseError, transaction

from custos.access.models import ReadLog


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
) -> ReadLog:
    try:
        # A savepoint, so that a failed insert leaves the caller's transaction usable (PostgreSQL).
        with transaction.atomic():
            return ReadLog.objects.create(
                user=user if getattr(user, "pk", None) else None,
                username=getattr(user, "username", "") or "",
                staff_no=staff_no or "",
                action=action,
                model=model,
                record_ids=list(record_ids),
                fields=list(fields),
                client=(client or "")[:64],
                purpose=(purpose or "")[:500],
                outcome=outcome,
            )
    except DatabaseError as exc:
        raise ReadLogUnavailable(f"read log write failed: {exc}") from exc
