"""Background job: staff still pending (the association was away at their load) are checked again."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/15"))
def retry_pending() -> None:
    from custos.blacklist import conf
    from custos.blacklist.models import StaffCheck
    from custos.blacklist.services import member

    if conf.is_association() or not conf.url():
        return
    if not StaffCheck.objects.filter(status=StaffCheck.Status.PENDING).exists():
        return
    try:
        summary = member.check_staff()
        member.refresh_snapshot()
    except Exception:  # noqa: BLE001 - logged; the next run tries again
        log.exception("blacklist: retrying pending staff checks failed")
        return
    if summary.error:
        log.warning("blacklist: %s staff still pending: %s", summary.pending, summary.error)
