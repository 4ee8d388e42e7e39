"""`custos persons export OUT.csv`: the person of every party (policy_no,role,seq,person_id)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from custos.identity.services.export import export_csv


class Command(BaseCommand):
    help = "Persons: export which person every party is."
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ex = sub.add_parser("export", help="write OUT.csv with columns policy_no,role,seq,person_id")
        ex.add_argument("out", help="the CSV file to write")

    def handle(self, *args, **options):
        if options["action"] == "export":
            try:
                n = export_csv(Path(options["out"]))
            except OSError as exc:
                raise CommandError(f"cannot write {options['out']}: {exc}") from exc
            self.stdout.write(f"{n} parties written to {options['out']}")
