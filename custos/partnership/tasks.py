"""The daily review (Huey, run by `custos serve`'s job runner): partners whose campaign deadline
passed yesterday get their termination recommendation in the morning, without anyone pressing the
button. Idempotent like `custos partnership review`: a recommendation is made once."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="6", minute="41"))
def periodic_review() -> int:
    from custos.audit.record import acting
    from custos.partnership import services

    with acting(None, client="huey", reason="daily partnership review"):
        made = services.review(by="huey")
    if made:
        log.info("partnership review: %d new termination recommendation(s)", len(made))
    return len(made)
