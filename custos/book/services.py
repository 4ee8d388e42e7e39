"""Services of the book: loading a book and finding the current snapshot.

Views, API endpoints, jobs and commands call these; they hold the transactions.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection, connections, transaction
from django.dispatch import Signal
from django.utils import timezone

from custos.audit.record import record
from custos.book.loader.errors import Issues, LoadFailure
from custos.book.loader.mapping import load_mapping
from custos.book.loader.snapshot import write_snapshot
from custos.book.loader.sources import open_book, sha256_of
from custos.book.loader.validate import validate
from custos.book.loader.write import write
from custos.book.models import BookLoad

log = logging.getLogger(__name__)
# Sent (load=BookLoad) after a load that changed the book, once its snapshot is written: the
# blacklist check of new and changed staff (custos.blacklist). A receiver's failure is logged and
# never fails the load.
book_loaded = Signal()
DB_PROGRESS_INTERVAL = 0.5  # seconds between progress writes to the BookLoad row
CALLBACK_INTERVAL = 0.1


class _Progress:
    """Feeds the caller's callback and the BookLoad row (throttled, short separate UPDATEs)."""

    def __init__(self, load: BookLoad, callback: Callable[[int, str], None] | None):
        self.load = load
        self.callback = callback
        self.last_db = 0.0
        self.last_cb = 0.0
        self.last_pct = -1
        self.side = None  # a second connection while the main one is inside the write transaction
        self.in_transaction = False

    def __call__(self, pct: float, note: str, force: bool = False) -> None:
        pct_i = max(0, min(100, int(pct)))
        now = time.monotonic()
        if self.callback and (force or pct_i != self.last_pct or now - self.last_cb >= CALLBACK_INTERVAL):
            self.last_cb = now
            self.last_pct = pct_i
            self.callback(pct_i, note)
        if force or now - self.last_db >= DB_PROGRESS_INTERVAL:
            self.last_db = now
            self.load.progress, self.load.progress_note = pct_i, note[:200]
            self._store(pct_i, note[:200])

    def _store(self, pct: int, note: str) -> None:
        table = connection.ops.quote_name(BookLoad._meta.db_table)
        sql = f"UPDATE {table} SET progress = %s, progress_note = %s WHERE id = %s"
        if not self.in_transaction:
            BookLoad.objects.filter(pk=self.load.pk).update(progress=pct, progress_note=note)
            return
        if connection.vendor != "postgresql":
            return  # SQLite has one writer: the load itself; the page sees the last committed state
        try:
            if self.side is None:
                self.side = connections.create_connection("default")
            with self.side.cursor() as cur:
                cur.execute(sql, [pct, note, self.load.pk])
        except Exception:  # progress is best effort
            log.debug("progress update failed", exc_info=True)

    def span(self, start: float, end: float) -> Callable[[float, str], None]:
        return lambda frac, note: self(start + (end - start) * frac, note)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None


def _finish(load: BookLoad, status: str, **fields) -> BookLoad:
    load.status = status
    load.finished_at = timezone.now()
    for k, v in fields.items():
        setattr(load, k, v)
    load.save()
    return load


def load_book(
    source: Path,
    *,
    mode: str = "full",
    mapping: Path | None = None,
    user=None,
    load: BookLoad | None = None,
    source_name: str | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> BookLoad:
    """Load a book synchronously; returns the BookLoad with status done, failed or noop."""
    if mode not in (BookLoad.Mode.FULL, BookLoad.Mode.DELTA):
        raise ValueError(f"mode must be full or delta, not {mode!r}")
    source = Path(source)
    if load is None:
        load = BookLoad.objects.create(
            source_name=(source_name or source.name)[:500], sha256="", mode=mode, created_by=user
        )
    else:
        load.mode = mode
        if source_name:
            load.source_name = source_name[:500]
        if user is not None and load.created_by_id is None:
            load.created_by = user
    load.status = BookLoad.Status.VALIDATING
    load.save()
    report = _Progress(load, progress)
    report(0, "reading the book", force=True)
    issues = Issues()
    try:
        the_mapping = load_mapping(Path(mapping) if mapping else None)
        if not source.exists():
            raise LoadFailure(f"{source}: no such file or directory")
        load.sha256 = sha256_of(source)
        load.save(update_fields=["sha256", "mode", "source_name", "created_by"])
        # The same bytes in the same mode as the latest load that changed the book: nothing to do.
        # (An older book loaded again after a newer one is a real change and is loaded.)
        dup = BookLoad.objects.filter(status=BookLoad.Status.DONE).exclude(pk=load.pk).order_by("-id").first()
        if dup is not None and dup.sha256 == load.sha256 and dup.mode == mode:
            report(100, f"same file as load #{dup.pk}: nothing to do", force=True)
            return _finish(load, BookLoad.Status.NOOP, duplicate_of=dup, progress=100)
        book = open_book(source, the_mapping.files, issues)
        validated = None
        try:
            validated = validate(book, the_mapping, mode, issues, report.span(0, 45))
            load.row_counts = validated.row_counts
            if issues:
                return _failed(load, issues, report)
            BookLoad.objects.filter(pk=load.pk).update(status=BookLoad.Status.WRITING)
            load.status = BookLoad.Status.WRITING
            report(45, "writing", force=True)
            report.in_transaction = True
            try:
                with transaction.atomic():  # the book and its audit record commit together
                    counts = write(validated, load.pk, mode, report.span(45, 85))
                    _record_load(load, user, counts)
            finally:
                report.in_transaction = False
                report.close()
        finally:
            book.close()
            if validated is not None:
                validated.close()
    except LoadFailure as e:
        issues.error(source.name, None, None, str(e))
        return _failed(load, issues, report)
    except Exception as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        _finish(load, BookLoad.Status.FAILED, progress_note=reason)
        raise
    load.change_counts = counts
    load.warnings = [w.as_dict() for w in issues.warnings]
    load.status = BookLoad.Status.DONE
    load.save(update_fields=["change_counts", "warnings", "status", "row_counts"])
    try:
        snap = write_snapshot(load.pk, report.span(85, 100))
        load.snapshot_path = str(snap)
    except Exception as e:  # the book is loaded; the snapshot can be rebuilt
        log.exception("snapshot of load %s failed", load.pk)
        load.warnings = [
            *load.warnings,
            {"file": "", "row": None, "column": None, "message": f"snapshot: {e}"},
        ]
    report(100, "done", force=True)
    load = _finish(load, BookLoad.Status.DONE, progress=100)
    for receiver, outcome in book_loaded.send_robust(sender=BookLoad, load=load):
        if isinstance(outcome, Exception):
            log.error(
                "after load %s: %s failed: %s", load.pk, getattr(receiver, "__name__", receiver), outcome
            )
    return load


def _record_load(load: BookLoad, user, counts: dict) -> None:
    """One entry in the tamper-evident log per load that changes the book: the file's hash and the
    counts (sealed in the event row, custos.audit.record), not a row each. Last in the load's
    transaction: if it cannot be written, nothing is loaded."""
    after = {
        "sha256": load.sha256,
        "mode": load.mode,
        "source_name": load.source_name,
        "row_counts": load.row_counts,
        "change_counts": counts,
    }
    record(user, "book.loaded", load, None, after, f"load #{load.pk}", model="book_load")


def _failed(load: BookLoad, issues: Issues, report: _Progress) -> BookLoad:
    report(100, f"{issues.error_count} error(s): nothing was loaded", force=True)
    return _finish(
        load,
        BookLoad.Status.FAILED,
        errors=[e.as_dict() for e in issues.errors],
        error_count=issues.error_count,
        warnings=[w.as_dict() for w in issues.warnings],
        progress=100,
    )


def current_snapshot() -> Path | None:
    """Directory of the latest snapshot of the book, or None when there is none yet."""
    for path in (
        BookLoad.objects.filter(status=BookLoad.Status.DONE)
        .exclude(snapshot_path="")
        .values_list("snapshot_path", flat=True)[:5]
    ):
        p = Path(path)
        if p.is_dir():
            return p
    return None
