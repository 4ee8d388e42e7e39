"""Background jobs of the access app (Huey): data-key rotation's re-encryption."""

import logging

from huey.contrib.djhuey import db_task

log = logging.getLogger(__name__)


@db_task()
def reencrypt_task() -> dict:
    """Re-seal every encrypted value under the primary data key, batch by batch, while the app
    serves; then retire keys no value uses (custos.crypto.rotate)."""
    from custos.crypto import rotate

    try:
        return rotate.reencrypt()
    except Exception as exc:
        log.exception("re-encryption failed")
        status = rotate.read_status()
        status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        rotate._write_status(status)
        raise
