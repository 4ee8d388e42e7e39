"""Background jobs of extractions (Huey): generate an approved extraction's file, trace a leaked file,
expire old extractions. Imports the workers' modules; services imports this one to enqueue (never the
other way round)."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from custos.extraction import generation, leaks, workflow

log = logging.getLogger(__name__)


@db_task()
def run_generate(extraction_id: int) -> str:
    """Generate the file of an approved extraction; returns the final state. A failure is recorded on
    the extraction (state failed, error) by generation.generate."""
    try:
        return generation.generate(extraction_id).state
    except workflow.ExtractionError as exc:
        log.warning("extraction %s not generated: %s", extraction_id, exc)
        return "failed"


@db_task()
def run_trace(trace_id: int) -> str:
    """Trace the leaked file of a queued LeakTrace; returns its final status (done or failed)."""
    return leaks.run(trace_id)


@db_periodic_task(crontab(minute="7"))
def expire_extractions() -> int:
    """Hourly: expire extractions past their date and delete their files; delete leaked-file uploads
    whose trace never ran."""
    leaks.discard_stale_uploads()
    return workflow.expire()
