"""Background job: rebuild the context store after a book load."""

import logging

from django.conf import settings
from huey.contrib.djhuey import db_task

log = logging.getLogger(__name__)


@db_task()
def index_book(load_id: int) -> None:
    if not settings.CUSTOS_SCREEN_AUTO_INDEX:
        return
    from custos.screening.context import build_from_load

    try:
        build_from_load(load_id)
    except Exception:  # noqa: BLE001 - logged; the store keeps the previous book until the next load
        log.exception("screening: indexing load #%s failed", load_id)
