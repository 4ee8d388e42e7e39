from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Violations and fines: propose cases from the facts (SC01 operators, agents' own contact data, "
        "refused reads, rejected extractions, leak culprits; idempotent), list cases, and write the "
        "monthly fines list for payroll (fines --month YYYY-MM OUT.xlsx|OUT.csv)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("propose", help="propose cases from the facts; a fact already proposed is skipped")
        ls = sub.add_parser("list", help="the register, one line per case")
        ls.add_argument("--status", help="only cases in this status (proposed, notified, appealed, …)")
        fines = sub.add_parser(
            "fines", help="the month's fines list for payroll, one row per person per case"
        )
        fines.add_argument("--month", required=True, help="YYYY-MM (cases decided in that month)")
        fines.add_argument("out", type=Path, help="OUT.xlsx or OUT.csv")

    def handle(self, *args, action, **opts):
        from custos.audit.record import acting_cli
        from custos.discipline import services
        from custos.discipline.models import Violation
        from custos.discipline.services import fines

        try:
            if action == "propose":
                with acting_cli("custos discipline propose"):
                    report = services.propose_from_facts()
                self.stdout.write(report.line())
            elif action == "list":
                qs = Violation.objects.order_by("id")
                if opts.get("status"):
                    if opts["status"] not in Violation.Status.values:
                        raise CommandError(
                            f"--status {opts['status']!r}: one of {', '.join(Violation.Status.values)}"
                        )
                    qs = qs.filter(status=opts["status"])
                for v in qs.iterator():
                    fine = "" if v.offender_fine is None else f" fine {v.offender_fine}"
                    if v.supervisor_fine is not None:
                        fine += f" + {v.supervisor_no} {v.supervisor_fine}"
                    self.stdout.write(
                        f"#{v.pk} {v.kind} {v.staff_no} {v.source}:{v.subject} {v.status}{fine}"
                    )
            elif action == "fines":
                out = opts["out"]
                if not out.parent.is_dir():
                    raise CommandError(f"{out}: the directory {out.parent} does not exist")
                n = fines.export(opts["month"], out)
                self.stdout.write(f"wrote {out}: {n:,} rows")
        except services.DisciplineError as exc:
            raise CommandError(str(exc)) from exc
