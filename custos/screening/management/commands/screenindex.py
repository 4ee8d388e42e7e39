"""`custos screenindex [--load ID | --snapshot DIR]`: (re)build the screening context store from a
book load's snapshot (done automatically after each load) — sealed rows, blind-index keys."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Rebuild the online screening's context store from the latest (or a given) book load."

    def add_arguments(self, parser):
        parser.add_argument("--load", type=int, help="book load id (default: the latest done)")
        parser.add_argument("--snapshot", type=Path, help="a snapshot directory instead of a load")
        parser.add_argument(
            "--refs-only",
            action="store_true",
            help="only staff, branches, partners and blacklist (not the parties)",
        )

    def handle(self, *args, load=None, snapshot=None, refs_only=False, **options):
        from custos.screening.context import build_from_snapshot

        if snapshot is not None:
            if not snapshot.is_dir():
                raise CommandError(f"{snapshot}: not a directory")
            state = build_from_snapshot(snapshot, refs_only=refs_only)
        else:
            from custos.checks.services import CheckError, _resolve_load

            try:
                found = _resolve_load(load)
            except CheckError as exc:
                raise CommandError(str(exc))
            state = build_from_snapshot(Path(found.snapshot_path), load_id=found.pk, refs_only=refs_only)
        self.stdout.write(
            f"context store: {state.parties} parties, {state.refs} staff/outlet/blacklist rows in {state.seconds} s"
        )
