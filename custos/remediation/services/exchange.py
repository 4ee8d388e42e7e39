"""Exchange with the core systems: the corrections exported as a changes table, and the
acknowledgement read back."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from pathlib import Path

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.models import Profile
from custos.domain.spreadsheet import neutralise
from custos.remediation.models import (
    Correction,
    ExportBatch,
    Task,
)
from custos.remediation.services.errors import (
    RemediationError,
)
from custos.remediation.services.states import (
    S,
    _event,
    transition,
)

# --- export to the core systems, and the acknowledgement ------------------------------------------

CHANGE_COLUMNS = ("policy_no", "role", "seq", "field", "old_value", "new_value", "changed_at", "changed_by",
                  "request_no")  # fmt: skip
ACK_COLUMNS = ("policy_no", "role", "seq", "field", "changed_at", "result", "message")


def _changed_at(c: Correction) -> str:
    return (
        timezone.localtime(c.applied_at).strftime("%Y-%m-%d %H:%M:%S%z")[:-2]
        + ":"
        + timezone.localtime(c.applied_at).strftime("%z")[-2:]
    )


def export_corrections(out: Path, *, encoding: str = "utf-8", user=None) -> ExportBatch:
    """Write the verified, not yet exported corrections as the book format's changes table (CSV) and
    mark them exported. changed_by is the proposer's staff number (the operator).

    OUT must not exist (a previous export not yet sent is never overwritten); the file is written
    whole (temporary file, then renamed). With nothing to export the file holds the header only and
    no batch is recorded (the returned batch is unsaved, rows 0)."""
    if encoding not in ("gbk", "utf-8"):
        raise RemediationError(_("编码须为 gbk 或 utf-8。"))
    out = Path(out)
    if out.exists():
        raise RemediationError(_("%(path)s 已存在，未覆盖。") % {"path": out})
    with transaction.atomic():
        rows = list(
            Correction.objects.select_for_update()
            .filter(status=Correction.Status.VERIFIED, export_batch__isnull=True)
            .order_by("id")
        )
        staff = dict(Profile.objects.filter(user_id__in={c.proposed_by_id for c in rows})
                     .values_list("user_id", "staff_no"))  # fmt: skip
        data = bytearray()
        for c in [None, *rows]:
            buf = io.StringIO()
            cells = CHANGE_COLUMNS if c is None else (
                c.policy_no, c.role, c.seq, c.field, c.old_value, c.new_value, _changed_at(c),
                staff.get(c.proposed_by_id, ""), c.request_no)  # fmt: skip
            csv.writer(buf, lineterminator="\r\n").writerow([neutralise(v) for v in cells])
            try:
                data += buf.getvalue().encode(encoding)
            except UnicodeEncodeError as exc:
                bad = exc.object[exc.start : exc.end]
                raise RemediationError(
                    _(
                        "更正 #%(pk)s（%(party)s %(field)s）含 %(encoding)s 无法表示的字符 %(char)s，请改用 utf-8；未导出任何更正。"
                    )
                    % {
                        "pk": c.pk,
                        "party": f"{c.policy_no}/{c.role}/{c.seq}",
                        "field": c.field,
                        "encoding": encoding,
                        "char": repr(bad),
                    }  # fmt: skip
                ) from exc
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
        tmp.write_bytes(bytes(data))
        tmp.replace(out)
        now = timezone.now()
        batch = ExportBatch(
            created_at=now, created_by=getattr(user, "username", "") or "", path=str(out), encoding=encoding,
            rows=len(rows), sha256=hashlib.sha256(data).hexdigest(),
        )  # fmt: skip
        if rows:
            batch.save()
            Correction.objects.filter(pk__in=[c.pk for c in rows]).update(export_batch=batch, exported_at=now)
    return batch


def acknowledge(path: Path) -> dict:
    """Read the core systems' acknowledgement (CSV: policy_no, role, seq, field, changed_at, result
    accepted|rejected, message; UTF-8 or GBK) and record it on the exported corrections.

    All or nothing: a row that names no exported correction, a result other than accepted/rejected,
    or a result contradicting an earlier acknowledgement refuses the whole file with the file, row and
    field named. A row acknowledged before with the same result is counted as "already" (the same
    file read twice changes nothing). A rejection is a task event and sends a verified task back to
    contacting: the core systems did not take the value, so the next book will not pass."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gbk")
        except UnicodeDecodeError as exc:
            raise RemediationError(
                _("%(path)s：既不是 UTF-8 也不是 GBK 编码（第 %(byte)s 字节）。")
                % {"path": path, "byte": exc.start}
            ) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = set(ACK_COLUMNS[:6]) - set(reader.fieldnames or ())
    if missing:
        raise RemediationError(
            _("%(path)s：回执缺少列 %(columns)s。") % {"path": path, "columns": ", ".join(sorted(missing))}
        )
    exported = {
        (c.policy_no, c.role, str(c.seq), c.field, _changed_at(c)): c
        for c in Correction.objects.filter(export_batch__isnull=False).select_related("task")
    }
    counts = {"accepted": 0, "rejected": 0, "already": 0}
    todo, errors = [], []
    for lineno, row in enumerate(reader, start=2):
        key = tuple((row.get(k) or "").strip() for k in ("policy_no", "role", "seq", "field", "changed_at"))
        result = (row.get("result") or "").strip().lower()
        c = exported.get(key)
        if result not in ("accepted", "rejected"):
            errors.append(f"{path} row {lineno} result: {result!r} is not accepted or rejected")
        elif c is None:
            errors.append(
                f"{path} row {lineno}: no exported correction {'/'.join(key[:3])} {key[3]} at {key[4]}"
            )
        elif c.ack_status and c.ack_status != result:
            errors.append(
                f"{path} row {lineno} result: {result}, but it was acknowledged {c.ack_status} before"
            )
        elif c.ack_status == result:
            counts["already"] += 1
        else:
            todo.append((c, result, (row.get("message") or "")[:500]))
    if errors:
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        raise RemediationError(
            _("回执有误，未记录任何一行：%(errors)s。") % {"errors": "; ".join(errors[:3]) + more}
        )
    now = timezone.now()
    batches = set()
    with transaction.atomic():
        for c, result, message in todo:
            Correction.objects.filter(pk=c.pk).update(ack_status=result, ack_message=message)
            counts[result] += 1
            batches.add(c.export_batch_id)
            if result == "rejected":
                task = Task.objects.select_for_update().get(pk=c.task_id)
                why = f"core system rejected {c.field}: {message}"
                if task.status == S.VERIFIED:
                    transition(task, S.CONTACTING, None, why)
                else:
                    _event(task.pk, None, "ack_rejected", task.status, task.status, why)
        for b in batches:
            agg = Correction.objects.filter(export_batch_id=b).aggregate(
                a=Count("id", filter=Q(ack_status="accepted")), r=Count("id", filter=Q(ack_status="rejected"))
            )
            ExportBatch.objects.filter(pk=b).update(acked_at=now, accepted=agg["a"], rejected=agg["r"])
    return counts
