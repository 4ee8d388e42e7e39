"""`custos tasks sync|assign|remind|sample`: remediation tasks from the command line (cron-friendly)."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Remediation tasks: sync with the open findings, assign by the rules, send reminders/escalations"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["sync", "assign", "remind", "sample"])
        parser.add_argument("--run", type=int, help="check run to sync with (default: the latest finished)")
        parser.add_argument("--share", type=float, help="sample: share of closed tasks to draw")
        parser.add_argument(
            "--today", type=lambda v: __import__("datetime").date.fromisoformat(v),
            help="remind: the day to remind/escalate as of (YYYY-MM-DD; default today)",
        )  # fmt: skip

    def handle(self, *args, action, run=None, share=None, today=None, **opts):
        from custos.remediation import services as svc

        try:
            if action == "sync":
                c = svc.sync_tasks(run)
                inv = svc.invariants()
                self.stdout.write(
                    f"run #{c.run}: {c.created} created, {c.linked} findings linked, {c.closed} closed, "
                    f"{c.assigned} assigned; {c.open_tasks} open tasks, {c.open_findings} open findings "
                    f"({c.seconds} s); " + ", ".join(f"{k}={v}" for k, v in inv.items())
                )
                if any(inv.values()):
                    raise CommandError("invariants violated: " + repr(inv))
            elif action == "assign":
                self.stdout.write(f"{svc.assign_tasks()} tasks assigned")
            elif action == "remind":
                out = svc.remind(today=today)
                self.stdout.write(", ".join(f"{k}: {v}" for k, v in out.items()))
            else:
                self.stdout.write(f"{len(svc.draw_samples(share=share))} closed tasks drawn for re-check")
        except svc.RemediationError as exc:
            raise CommandError(str(exc)) from exc
