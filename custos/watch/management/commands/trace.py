"""`custos trace LEAKED_FILE [--json OUT] [--note TEXT]`: who could have leaked this file?

Reads the file (CSV in UTF-8 or GB18030, or XLSX; any column names and order, masked values),
matches its rows to the book's parties and ranks every possible source — staff by what they read,
partner outlets by what they sold, extraction recipients by what they received (a canary names its
recipient outright). Writes {"matched", "rows", "suspects": [{"kind", "id", "score", "evidence"}]},
best first; keeps the case (the leak-case page shows it) and audits the trace. docs/watch.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Trace a leaked file (CSV/XLSX) to the staff, partner outlets and extractions that could have leaked it."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the leaked file: CSV (UTF-8 or GB18030) or XLSX")
        parser.add_argument("--json", dest="json_out", help="write the result as JSON to this file")
        parser.add_argument("--note", default="", help="the case: where the file was found, a reference")
        parser.add_argument("--top", type=int, default=10, help="suspects printed (default 10)")

    def handle(self, *args, **options):
        from custos.audit.record import acting_cli
        from custos.audit.service import AuditWriteError
        from custos.watch.tracing.service import LeakFileError, trace_file

        path = Path(options["file"])
        try:
            with acting_cli("custos trace"):
                case = trace_file(path, note=options["note"])
        except LeakFileError as exc:
            raise CommandError(str(exc)) from None
        except AuditWriteError as exc:
            raise CommandError(f"audit log unavailable, nothing kept: {exc}") from None
        result = case.result
        out = {"matched": result["matched"], "rows": result["rows"], "suspects": result["suspects"]}
        if options["json_out"]:
            Path(options["json_out"]).write_text(
                json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        self.stdout.write(
            f"leak case #{case.pk}: {result['rows']} rows, {result['matched']} matched "
            f"({result.get('objects', 0)} people), {len(result['suspects'])} possible sources"
        )
        for i, s in enumerate(result["suspects"][: options["top"]], 1):
            ev = s["evidence"]
            self.stdout.write(
                f"{i:>3}. {s['kind']:<10} {s['id']:<16} score {s['score']:.4f}  "
                f"holds {ev.get('held', 0)}, {ev.get('hits', 0)} of the leak"
                + (f", canaries {len(ev['canaries'])}" if ev.get("canaries") else "")
            )
