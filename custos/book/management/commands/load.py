"""`custos load PATH [--full|--delta] [--mapping FILE]`: load a book.

Exit status 0 when loaded (or the same file was loaded before), 2 when the book has errors (each
printed as `file:row:column: message`), 1 with a one-line reason on any other failure.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from custos.book.loader.errors import LoadFailure
from custos.book.loader.mapping import load_mapping
from custos.book.models import BookLoad
from custos.book.services import load_book

MAX_PRINTED = 200


class Command(BaseCommand):
    help = "Load a book (folder, .zip, .xlsx, .csv or .parquet) into custos."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--full", dest="mode", action="store_const", const="full", help="(default)")
        mode.add_argument("--delta", dest="mode", action="store_const", const="delta")
        parser.add_argument("--mapping", type=Path, help="YAML mapping of column names and codes")
        parser.add_argument("--quiet", action="store_true", help="no progress output")

    def handle(self, *args, path: Path, mode: str | None, mapping: Path | None, quiet: bool, **opts):
        if not path.exists():
            raise CommandError(f"{path}: no such file or directory")
        try:
            load_mapping(mapping)
        except LoadFailure as e:
            raise CommandError(str(e))
        with progress_display(self.stdout, quiet) as progress:
            try:
                load = load_book(path, mode=mode or "full", mapping=mapping, progress=progress)
            except Exception as e:
                raise CommandError(f"load failed: {(str(e).splitlines() or [type(e).__name__])[0]}")
        for w in load.warnings[:MAX_PRINTED]:
            self.stderr.write(f"warning: {_line(w)}")
        if load.status == BookLoad.Status.NOOP:
            self.stdout.write(f"load #{load.pk}: same file as load #{load.duplicate_of_id}, nothing changed")
            return
        if load.status == BookLoad.Status.FAILED:
            for e in load.errors[:MAX_PRINTED]:
                self.stderr.write(_line(e))
            rest = load.error_count - min(len(load.errors), MAX_PRINTED)
            if rest > 0:
                self.stderr.write(f"… and {rest} more error(s)")
            raise CommandError(
                f"load #{load.pk}: {load.error_count} error(s), nothing was loaded", returncode=2
            )
        summary = ", ".join(
            f"{t} {c.get('new', 0)} new/{c.get('updated', 0)} updated/{c.get('gone', 0)} gone"
            for t, c in load.change_counts.items()
        )
        self.stdout.write(f"load #{load.pk} done: {summary}")
        if load.snapshot_path:
            self.stdout.write(f"snapshot: {load.snapshot_path}")


def _line(d: dict) -> str:
    row = d.get("row")
    return f"{d.get('file', '')}:{row if row is not None else '-'}:{d.get('column') or '-'}: {d.get('message', '')}"


class progress_display:
    """A rich progress bar on a terminal, plain lines otherwise; yields the progress callback."""

    def __init__(self, out, quiet: bool):
        self.out = out
        self.quiet = quiet
        self.bar = None
        self.task = None
        self.last = -10

    def __enter__(self):
        if self.quiet:
            return None
        if sys.stdout.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
            )
            self.bar.start()
            self.task = self.bar.add_task("loading", total=100)
        return self

    def __call__(self, pct: int, note: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=pct, description=note[:60])
        elif pct >= self.last + 5 or pct == 100:
            self.last = pct
            self.out.write(f"{pct:3d}% {note}")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
