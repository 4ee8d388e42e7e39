"""custos token create USER [--name N] | custos token revoke PREFIX | custos token list [USER]."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos.api.models import ApiToken
from custos.audit.record import acting_cli


class Command(BaseCommand):
    help = "Create (printed once), list or revoke API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token for USER and print it once")
        create.add_argument("user")
        create.add_argument("--name", default="cli")
        revoke = sub.add_parser("revoke", help="revoke the token whose prefix is PREFIX")
        revoke.add_argument("prefix")
        lst = sub.add_parser("list", help="list tokens (prefix, user, name, created, last used)")
        lst.add_argument("user", nargs="?")

    def handle(self, *args, action, **opts):
        if action == "create":
            user = get_user_model().objects.filter(username=opts["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {opts['user']}")
            with transaction.atomic(), acting_cli("custos token create"):  # recorded: token.created
                _, secret = ApiToken.issue(user, opts["name"])
            self.stdout.write(secret)
        elif action == "revoke":
            n = 0
            with transaction.atomic(), acting_cli("custos token revoke"):
                for token in ApiToken.objects.select_for_update().filter(
                    prefix=opts["prefix"], revoked=False
                ):
                    token.revoked = True
                    token.save(update_fields=["revoked"])  # save(), not update(): recorded, token.revoked
                    n += 1
            if not n:
                raise CommandError(f"no active token with prefix {opts['prefix']}")
            self.stdout.write(f"revoked {n} token(s)")
        else:
            qs = ApiToken.objects.select_related("user").order_by("created_at")
            if opts.get("user"):
                qs = qs.filter(user__username=opts["user"])
            for t in qs:
                state = "revoked" if t.revoked else "active"
                self.stdout.write(
                    f"{t.prefix}  {t.user.username}  {t.name}  {t.created_at:%Y-%m-%d}  {state}"
                )
