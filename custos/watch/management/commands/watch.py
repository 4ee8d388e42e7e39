"""`custos watch …`: the access history and its alerts from the command line.

custos watch ingest FILE…                 # access logs (CSV UTF-8/GB18030, Parquet): all or nothing
custos watch export-audit                 # custos's own reads (audit log) into the history
custos watch simulate --days D --out DIR [--staff N] [--seed S] [--synthetic [--install]]
custos watch alerts [--from DATE] [--to DATE] [--json OUT]
custos watch status                       # files, days and rows of the history
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def _date(s: str) -> dt.date:
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {s!r}") from None


class Command(BaseCommand):
    help = "Access history: ingest core systems' access logs, simulate, compute alerts of unusual access."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="actions")
        ing = sub.add_parser(
            "ingest", help="ingest access-log files (all or nothing; a file seen before is skipped)"
        )
        ing.add_argument("files", nargs="+")
        sub.add_parser("export-audit", help="append custos's own reads from the audit log to the history")
        sim = sub.add_parser("simulate", help="write simulated access logs and truth.json (deterministic)")
        sim.add_argument("--days", type=int, required=True)
        sim.add_argument("--out", required=True)
        sim.add_argument(
            "--staff", type=int, default=None, help="number of staff (synthetic) or the first N of the book"
        )
        sim.add_argument("--seed", type=int, default=1)
        sim.add_argument("--start", type=_date, default=dt.date(2026, 1, 5))
        sim.add_argument("--insiders", type=int, default=None)
        sim.add_argument(
            "--synthetic", action="store_true", help="a world of its own instead of the current book"
        )
        sim.add_argument(
            "--install", action="store_true", help="with --synthetic: write that world into the (empty) book"
        )
        al = sub.add_parser("alerts", help="compute and store the alerts of a period; --json writes them")
        al.add_argument("--from", dest="day_from", type=_date)
        al.add_argument("--to", dest="day_to", type=_date)
        al.add_argument("--json", dest="json_out")
        sub.add_parser("status", help="the history: files ingested, days, rows")
        me = sub.add_parser(
            "measure", help="recall and alert rate of an alerts JSON against a simulation's truth"
        )
        me.add_argument("--truth", required=True)
        me.add_argument("--alerts", required=True)

    def handle(self, *args, **options):
        from custos.audit.record import acting_cli

        with acting_cli():
            return getattr(self, "_" + options["action"].replace("-", "_"))(options)

    def _ingest(self, options):
        from custos.watch.ingest import IngestError, ingest

        for f in options["files"]:
            if not Path(f).is_file():
                raise CommandError(f"{f}: no such file")
        try:
            result = ingest([Path(f) for f in options["files"]])
        except IngestError as e:
            for line in e.errors:
                self.stderr.write(line)
            raise CommandError(f"nothing ingested: {e}") from None
        for f in result.files:
            if f["skipped"]:
                self.stdout.write(f"{f['name']}: ingested before, skipped")
            else:
                unknown = f", {f['unknown_staff']} by operators not in the book" if f["unknown_staff"] else ""
                self.stdout.write(f"{f['name']}: {f['rows']} rows, {f['added']} new{unknown}")

    def _export_audit(self, options):
        from custos.watch.audit_export import export_audit

        r = export_audit()
        self.stdout.write(f"{r['entries']} audit entries, {r['rows']} reads, {r['added']} new")

    def _simulate(self, options):
        from custos.watch import simulate as sim

        if options["install"]:
            if not options["synthetic"]:
                raise CommandError("--install needs --synthetic")
            from custos.book.models import Staff

            if Staff.objects.exists():
                raise CommandError(
                    "the book is not empty: --install writes a synthetic world into an empty book"
                )
            sim.install_world(sim.synthetic_world(options["staff"] or 300, options["seed"]))
        try:
            truth = sim.simulate(
                Path(options["out"]),
                days=options["days"],
                seed=options["seed"],
                staff=options["staff"],
                synthetic=options["synthetic"],
                start=options["start"],
                insiders=options["insiders"],
            )
        except ValueError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(
            f"{truth['rows']} reads by {truth['staff']} staff over {truth['days']} days, "
            f"{len(truth['insiders'])} insiders -> {options['out']}"
        )

    def _alerts(self, options):
        from custos.watch import alerts

        if options["day_from"] and options["day_to"] and options["day_to"] < options["day_from"]:
            raise CommandError("--to is before --from")
        r = alerts.run(options["day_from"], options["day_to"])
        found, active = r["alerts"], r["active_staff_days"]
        rate = len(found) / active if active else 0.0
        self.stdout.write(f"{len(found)} alerts over {active} active staff-days ({rate:.2%})")
        if options["json_out"]:
            doc = {
                "alerts": [a.as_json() for a in found],
                "active_staff_days": active,
                "alert_rate": round(rate, 6),
                "threshold_factors": r["factors"],
            }
            Path(options["json_out"]).write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str))

    def _measure(self, options):
        from custos.watch.simulate import measure

        try:
            truth = json.loads(Path(options["truth"]).read_text())
            doc = json.loads(Path(options["alerts"]).read_text())
            result = measure(truth, doc["alerts"], doc["active_staff_days"])
        except (OSError, ValueError, KeyError) as e:
            raise CommandError(f"cannot measure: {e}") from None
        self.stdout.write(json.dumps(result, ensure_ascii=False))

    def _status(self, options):
        from custos.watch import store
        from custos.watch.models import IngestedFile

        days = store.days()
        con = store.connect()
        try:
            n = con.execute(f"SELECT count(*) FROM {store.source(con)}").fetchone()[0]
        finally:
            con.close()
        span = f"{days[0]} – {days[-1]}" if days else "empty"
        self.stdout.write(f"{IngestedFile.objects.count()} files, {len(days)} days ({span}), {n} reads")
