"""Scheduled remediation jobs (Huey, run by `custos serve`'s job runner or `custos run_huey`).

Reminders and escalations every hour at :17 — idempotent (a task is reminded once per assignment,
escalated once per level), so the hourly run only sends what became due; `custos tasks remind` from
cron does the same and the two never send twice."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="17"))
def periodic_remind() -> dict:
    from custos.remediation import services

    out = services.remind()
    if any(out.values()):
        log.info("remediation reminders: %s", out)
    return out
