import getpass
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

SHOWN = 200  # failure lines printed (all of them are counted)


class Command(BaseCommand):
    help = "Integrity tags of customer rows: verify [--json OUT] checks every party, history, staff and partner row."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser(
            "verify",
            help="check every customer row against its keyed integrity tag; exit 1 naming each row that "
            "fails (table and key)",
        )
        verify.add_argument("--json", metavar="OUT", help="also write the result as JSON to OUT")

    def handle(self, *args, action, **opts):
        from custos.integrity import services

        if action != "verify":  # pragma: no cover - argparse refuses other actions
            raise CommandError(f"unknown action {action}")
        try:
            by = f"cli:{getpass.getuser()}"
        except (KeyError, OSError):  # pragma: no cover - no user name in a bare container
            by = "cli:"
        run = services.run_verify(by=by)
        rows = sum(run.checked.values())
        rate = rows / run.seconds if run.seconds else 0
        self.stdout.write(
            ", ".join(f"{t} {n:,}" for t, n in run.checked.items())
            + f": {rows:,} rows in {run.seconds:.2f} s ({run.cpu_seconds:.2f} CPU s, {rate:,.0f} rows/s)"
        )
        if opts.get("json"):
            out = {
                "run": run.pk,
                "ok": run.ok,
                "checked": run.checked,
                "failure_count": run.failure_count,
                "failures": run.failures,
                "seconds": run.seconds,
                "cpu_seconds": run.cpu_seconds,
            }
            Path(opts["json"]).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        if run.ok:
            self.stdout.write("integrity verified: every customer row matches its tag")
            return
        from custos.integrity.rows import REASONS

        for f in run.failures[:SHOWN]:
            self.stderr.write(f"FAIL {f['table']} {f['key']} (id {f['id']}): {REASONS[f['reason']]}")
        if run.failure_count > SHOWN:
            self.stderr.write(f"… and {run.failure_count - SHOWN:,} more")
        raise CommandError(
            f"integrity verification FAILED: {run.failure_count:,} rows do not match their tags"
        )
