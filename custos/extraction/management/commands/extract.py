"""`custos extract …`: the extraction life cycle from the command line.

    custos extract list [--state STATE]
    custos extract generate ID        # run the generation now (normally the task queue does)
    custos extract expire             # expire extractions past their date, delete their files
    custos extract trace LEAKED_FILE  # which extraction(s) and recipient(s) a leaked CSV/XLSX came from

Requests, approvals and downloads happen on the pages and the API, where the people are known.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from custos.extraction import services
from custos.extraction.models import Extraction


class Command(BaseCommand):
    help = "Extractions: list, generate, expire, trace a leaked file."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")
        ls = sub.add_parser("list", help="list extractions")
        ls.add_argument("--state", choices=Extraction.State.values)
        gen = sub.add_parser("generate", help="generate the file of an approved extraction now")
        gen.add_argument("id", type=int)
        sub.add_parser("expire", help="expire extractions past their date and delete their files")
        tr = sub.add_parser("trace", help="name the extraction(s) a leaked CSV/XLSX file came from")
        tr.add_argument("file")

    def handle(self, *args, **options):
        try:
            return getattr(self, "_" + options["action"])(options)
        except services.ExtractionError as exc:
            raise CommandError(str(exc)) from exc
        except Extraction.DoesNotExist:
            raise CommandError("no such extraction")

    def _list(self, options):
        qs = Extraction.objects.select_related("requester", "approver", "recipient_user")
        if options.get("state"):
            qs = qs.filter(state=options["state"])
        for e in qs:
            self.stdout.write(
                f"#{e.pk}\t{e.state}\t{e.created_at:%Y-%m-%d}\t{e.requester.username}\t"
                f"{e.approver.username if e.approver else '-'}\t{e.recipient_label}\t"
                f"{e.row_count} rows\t{e.canary_count} canaries\t{e.purpose[:40]}"
            )

    def _generate(self, options):
        ext = services.generate(options["id"])
        self.stdout.write(f"#{ext.pk} generated: {ext.row_count} rows, {ext.canary_count} canaries")

    def _expire(self, options):
        n = services.expire()
        self.stdout.write(f"{n} extraction(s) expired")

    def _progress(self, percent: int, note: str) -> None:
        self.stderr.write(f"\r{percent:3d}% {note}", ending="")

    def _trace(self, options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            result = services.trace(path, progress=self._progress)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        self.stderr.write("")
        self.stdout.write(f"{path.name}: {result.rows} rows read")
        if not result.candidates:
            self.stdout.write("no extraction matches this file (no canary, no known rows)")
            return
        for c in result.candidates:
            self.stdout.write(f"[{c.confidence}] {c.statement()}")
