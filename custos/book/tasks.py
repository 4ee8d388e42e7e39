"""Background jobs of the book app (Huey). A page never waits on a long load: it enqueues run_load and
polls the BookLoad row, which load_book keeps up to date (status, progress, progress_note)."""

import logging
from pathlib import Path

from django.utils import timezone
from huey.contrib.djhuey import db_task

from custos.book.models import BookLoad

log = logging.getLogger(__name__)


@db_task()
def run_load(load_id: int, path: str, mode: str = "full", mapping: str | None = None) -> str:
    """Load the book stored at path into the BookLoad load_id; returns the final status."""
    load = BookLoad.objects.get(pk=load_id)
    try:
        return _run_load(load, load_id, path, mode, mapping)
    finally:
        _discard_upload(Path(path))


def _discard_upload(path: Path) -> None:
    """An uploaded book holds personal data in clear: once its load has ended (done, no-op or
    failed) it is deleted; the BookLoad keeps its name and SHA-256 (docs/security.md)."""
    import shutil

    from custos import paths

    try:
        rel = path.resolve().relative_to(paths.uploads_dir().resolve())
    except ValueError:
        return  # not an upload (a load from the command line reads the operator's own file)
    shutil.rmtree(paths.uploads_dir() / rel.parts[0], ignore_errors=True)


def _run_load(load, load_id, path, mode, mapping) -> str:
    from custos.book.services import load_book

    try:
        load = load_book(
            Path(path),
            mode=mode,
            mapping=Path(mapping) if mapping else None,
            user=load.created_by,
            load=load,
            source_name=load.source_name,
        )
    except Exception as exc:  # the loader reports expected failures itself; this is the unexpected rest
        log.exception("load %s failed", load_id)
        BookLoad.objects.filter(pk=load_id).exclude(status__in=["done", "noop"]).update(
            status=BookLoad.Status.FAILED,
            errors=[{"file": "", "row": None, "column": "", "message": f"{type(exc).__name__}: {exc}"}],
            error_count=1,
            finished_at=timezone.now(),
        )
        return BookLoad.Status.FAILED
    if load.status == BookLoad.Status.DONE:
        # Staff whose left_on has come lose access the day the staff table says so.
        from custos.access.services import deactivate_departed_staff

        try:
            deactivate_departed_staff()
        except Exception:
            log.exception("deactivating departed staff after load %s failed", load_id)
    return load.status
