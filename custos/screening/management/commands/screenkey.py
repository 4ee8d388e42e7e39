"""`custos screenkey create NAME [--partner CODE …] [--channel C …] [--branch B …] [--rate N]`: a key
for a calling system (printed once); `custos screenkey list`; `custos screenkey revoke NAME`."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos.audit.record import acting_cli


class Command(BaseCommand):
    help = "Manage the keys of systems that call POST /api/v1/screen."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create")
        c.add_argument("name")
        c.add_argument("--partner", action="append", default=[], help="only applications of this outlet")
        c.add_argument("--channel", action="append", default=[])
        c.add_argument("--branch", action="append", default=[])
        c.add_argument("--rate", type=int, default=60000, help="screenings a minute (default 60000)")
        sub.add_parser("list")
        r = sub.add_parser("revoke")
        r.add_argument("name")

    def handle(self, *args, action: str, **o):
        from custos.screening.models import Client

        if action == "create":
            if Client.objects.filter(name=o["name"]).exists():
                raise CommandError(f"a client named {o['name']!r} exists")
            if o["rate"] < 1:
                raise CommandError("--rate must be at least 1")
            with transaction.atomic(), acting_cli("custos screenkey create"):  # screening_key.created
                _, secret = Client.issue(
                    o["name"],
                    partner_codes=o["partner"],
                    channels=o["channel"],
                    branch_codes=o["branch"],
                    rate_per_minute=o["rate"],
                )
            self.stdout.write(secret)
        elif action == "list":
            for c in Client.objects.order_by("name"):
                scope = ",".join(c.partner_codes + c.channels + c.branch_codes) or "any"
                state = "active" if c.active else "revoked"
                self.stdout.write(f"{c.name}\t{c.prefix}…\t{scope}\t{c.rate_per_minute}/min\t{state}")
        else:
            with transaction.atomic(), acting_cli("custos screenkey revoke"):
                found = Client.objects.select_for_update().filter(name=o["name"]).first()
                if found is None:
                    raise CommandError(f"no client named {o['name']!r}")
                found.active = False
                found.save(update_fields=["active"])  # save(), not update(): screening_key.revoked
            self.stdout.write(f"revoked {o['name']}")
