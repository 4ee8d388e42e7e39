"""Background jobs of extractions (Huey): generate an approved extraction's file; expire old ones."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger(__name__)


@db_task()
def run_generate(extraction_id: int) -> str:
    """Generate the file of an approved extraction; returns the final state. A failure is recorded on
    the extraction (state failed, error) by the service."""
    from custos.extraction import services

    try:
        return services.generate(extraction_id).state
    except services.ExtractionError as exc:
        log.warning("extraction %s not generated: %s", extraction_id, exc)
        return "failed"


@db_periodic_task(crontab(minute="7"))
def expire_extractions() -> int:
    """Hourly: expire extractions past their date and delete their files."""
    from custos.extraction import services

    return services.expire()
