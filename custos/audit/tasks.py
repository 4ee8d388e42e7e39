"""Background jobs of the audit log (Huey): a signed checkpoint every few minutes, and verification
of the whole log off the request path (the key status page queues it)."""

import logging

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from custos.audit import service
from custos.audit.models import VerifyRun

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute=f"*/{max(1, settings.CUSTOS_AUDIT_CHECKPOINT_MINUTES)}"))
def periodic_checkpoint():
    """Sign the current tree head (a no-op when nothing was appended since the last checkpoint)."""
    cp = service.checkpoint()
    return cp.tree_size if cp else 0


def run_verify(run_id: int) -> VerifyRun:
    VerifyRun.objects.filter(pk=run_id).update(status=VerifyRun.Status.RUNNING)
    try:
        from custos.audit.record import verify_changes

        service.checkpoint()
        result = service.verify()
        problems, entries, checkpoints, seconds = (
            result.problems + verify_changes(),
            result.entries,
            result.checkpoints,
            result.seconds,
        )
    except Exception as exc:  # a broken log must show as failed, never as still running
        log.exception("audit verify failed")
        problems, entries, checkpoints, seconds = [f"{type(exc).__name__}: {exc}"], 0, 0, 0.0
    status = VerifyRun.Status.PASSED if not problems else VerifyRun.Status.FAILED
    VerifyRun.objects.filter(pk=run_id).update(
        status=status,
        problems=problems[:50],
        entries=entries,
        checkpoints=checkpoints,
        seconds=seconds,
        finished_at=timezone.now(),
    )
    if problems:
        from custos.watch.models import SecurityAlert
        from custos.watch.services import raise_alert

        raise_alert(SecurityAlert.Kind.AUDIT_VERIFY, None, "; ".join(problems[:3]))
    return VerifyRun.objects.get(pk=run_id)


@db_task()
def verify_task(run_id: int) -> str:
    return run_verify(run_id).status


def queue_verify(requested_by: str = "") -> VerifyRun:
    run = VerifyRun.objects.create(requested_by=requested_by)
    verify_task(run.pk)
    return run
