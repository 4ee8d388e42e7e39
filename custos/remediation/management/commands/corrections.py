"""`custos corrections export OUT [--encoding gbk|utf-8]` and `custos corrections ack FILE`: the
correction file for the core systems (the book format's changes table) and its acknowledgement."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Export verified corrections for the core systems, or read their acknowledgement"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ex = sub.add_parser("export", help="write verified, not yet exported corrections as changes.csv")
        ex.add_argument("out")
        ex.add_argument("--encoding", choices=["gbk", "utf-8"], default="utf-8")
        ack = sub.add_parser("ack", help="read the core systems' acknowledgement file")
        ack.add_argument("file")

    def handle(self, *args, action, **opts):
        from custos.remediation import services as svc

        try:
            if action == "export":
                batch = svc.export_corrections(Path(opts["out"]), encoding=opts["encoding"])
                self.stdout.write(
                    f"{batch.rows} corrections written to {batch.path} ({batch.encoding})"
                    + (f", batch #{batch.pk}" if batch.pk else "")
                )
            else:
                path = Path(opts["file"])
                if not path.exists():
                    raise CommandError(f"{path} does not exist")
                c = svc.acknowledge(path)
                self.stdout.write(
                    f"{c['accepted']} accepted, {c['rejected']} rejected, {c['already']} acknowledged before"
                )
        except svc.RemediationError as exc:
            raise CommandError(str(exc)) from exc
