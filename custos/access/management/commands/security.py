"""custos security check: the deployment's own security state, one line per finding, exit 1 if any."""

from django.core.management.base import BaseCommand, CommandError

from custos.access import posture


class Command(BaseCommand):
    help = "Security self-check: debug, keyring mode, secret key, sessions, CSP, audit chain, key age."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="report what is wrong; exit non-zero when anything is")
        check.add_argument("--no-verify", action="store_true", help="skip verifying the audit log")

    def handle(self, *args, action, **opts):
        problems = posture.findings(verify_audit=not opts.get("no_verify"))
        for line in problems:
            self.stdout.write(f"FAIL {line}")
        if problems:
            raise CommandError(f"security check: {len(problems)} finding(s)")
        self.stdout.write("security check: all good")
