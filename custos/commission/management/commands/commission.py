import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def _cli_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user name in a bare container
        return "cli:"


class Command(BaseCommand):
    help = (
        "Commission gates: run --month YYYY-MM settles a month (holds commission on policies with "
        "missing or false customer information, releases what was corrected, claws back what was "
        "paid); reconcile proves the ledger; approve and export for the payment system."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="settle a month (a second run with no new facts writes nothing)")
        run.add_argument("--month", required=True, help="YYYY-MM")
        rec = sub.add_parser("reconcile", help="prove the ledger balances; exit 1 naming what does not")
        rec.add_argument("--month", help="only this month's statements (YYYY-MM)")
        app = sub.add_parser("approve", help="approve a month's prepared runs as a finance user (four eyes)")
        app.add_argument("--month", required=True, help="YYYY-MM")
        app.add_argument("--user", required=True, help="the approving user (holds commission.approve)")
        exp = sub.add_parser("export", help="the month's approved statements for the payment system")
        exp.add_argument("--month", required=True, help="YYYY-MM")
        exp.add_argument("out", type=Path, help="OUT.csv or OUT.xlsx")

    def handle(self, *args, action, **opts):
        from custos.commission import services
        from custos.commission.services import exports

        try:
            if action == "run":
                run = services.settle(opts["month"], by=_cli_name())
                if run is None:
                    self.stdout.write(f"{opts['month']}: nothing new to settle")
                    return
                self.stdout.write(exports.summary_line(run))
            elif action == "reconcile":
                problems = services.reconcile(opts.get("month"))
                for p in problems[:200]:
                    self.stderr.write(f"FAIL {p}")
                if problems:
                    raise CommandError(f"commission ledger does NOT reconcile: {len(problems):,} problems")
                self.stdout.write("commission ledger reconciles: every statement, balance and item state")
            elif action == "approve":
                from django.contrib.auth import get_user_model

                user = get_user_model().objects.filter(username=opts["user"]).first()
                if user is None:
                    raise CommandError(f"no user {opts['user']!r}")
                runs = services.prepared_runs(opts["month"])
                if not runs:
                    raise CommandError(f"{opts['month']}: no prepared settlement to approve")
                for run in runs:
                    services.approve(run, user)
                    self.stdout.write(f"approved {run}")
            elif action == "export":
                n = exports.export(opts["month"], opts["out"])
                self.stdout.write(f"wrote {opts['out']}: {n:,} payees")
        except services.CommissionError as exc:
            raise CommandError(str(exc)) from exc
