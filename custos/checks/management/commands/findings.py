"""`custos findings export OUT.csv [--status open|closed|all]`: the findings as CSV.

Columns, exactly: check,policy_no,role,seq,field,category,severity,status — no personal data (the
value is left out). UTF-8, RFC 4180 quoting. A cell that a spreadsheet would read as a formula (it
starts with = + - @, or a tab or carriage return) gets a leading apostrophe: every cell passes through
`custos.domain.spreadsheet.neutralise`, the guard every export of custos shares.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from custos.access import readlog
from custos.checks.services import CSV_COLUMNS, csv_rows, findings_for_export
from custos.domain.spreadsheet import neutralise


class Command(BaseCommand):
    help = "Work with findings: export them as CSV."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")
        exp = sub.add_parser("export", help="write findings to a CSV file")
        exp.add_argument("out", help="output file (.csv)")
        exp.add_argument("--status", choices=["open", "closed", "all"], default="open")

    def handle(self, *args, **options):
        if options["action"] == "export":
            return self._export(options)
        raise CommandError(f"unknown action {options['action']}")

    def _export(self, options):
        out = Path(options["out"])
        qs = findings_for_export(options["status"])
        try:
            readlog.append(
                user=None,
                staff_no="",
                action="export",
                model="finding",
                record_ids=[],
                fields=list(CSV_COLUMNS),
                client="cli",
                purpose=f"findings export --status {options['status']}",
            )
        except readlog.ReadLogUnavailable as exc:
            raise CommandError(str(exc)) from exc
        try:
            with out.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow([neutralise(c) for c in CSV_COLUMNS])
                n = 0
                for row in csv_rows(qs):
                    writer.writerow(row)
                    n += 1
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from exc
        self.stdout.write(f"{n} findings ({options['status']}) written to {out}")
