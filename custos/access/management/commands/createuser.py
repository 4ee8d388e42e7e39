"""custos createuser USERNAME --role ROLE [scope] [--password | env CUSTOS_USER_PASSWORD] [--token]."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos.access.models import Profile, Role
from custos.api.models import ApiToken
from custos.audit.record import acting_cli
from custos.domain.codes import CHANNEL


class Command(BaseCommand):
    help = "Create a custos user with a role and scope; optionally print an API token (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--staff-no", default="", help="employee / agent number (工号)")
        parser.add_argument("--branch", default="", help="branch code: the user sees this branch's subtree")
        parser.add_argument("--channel", default="", choices=["", *CHANNEL], help="limit to one channel")
        parser.add_argument("--partner", default="", help="partner code (partner staff)")
        parser.add_argument(
            "--password", help="default: env CUSTOS_USER_PASSWORD, else one is generated and printed"
        )
        parser.add_argument("--token", action="store_true", help="also create an API token and print it")
        parser.add_argument("--superuser", action="store_true", help="may use the Django admin")

    def handle(self, *args, username, role, staff_no, branch, channel, partner, password, token, **opts):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username} already exists")
        if role == Role.AGENT and not staff_no:
            raise CommandError(
                "an agent needs --staff-no (their own portfolio is policies with that agent_no)"
            )
        if role == Role.PARTNER_STAFF and not partner:
            raise CommandError("partner staff need --partner")
        if role == Role.CHANNEL_MANAGER and not channel:
            raise CommandError("a channel manager needs --channel")
        password = password or os.environ.get("CUSTOS_USER_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError("password rejected: " + " ".join(exc.messages))
        with transaction.atomic(), acting_cli("custos createuser"):  # recorded by the models' signals
            user = User(username=username, is_staff=opts["superuser"], is_superuser=opts["superuser"])
            user.set_password(password)
            user.save()
            Profile.objects.create(
                user=user,
                role=role,
                staff_no=staff_no,
                branch_code=branch,
                channel=channel,
                partner_code=partner,
            )
            secret = ApiToken.issue(user, "createuser")[1] if token else None
        self.stdout.write(
            f"user {username} ({role}) created" + (f", password {password}" if generated else "")
        )
        if secret:
            self.stdout.write(f"API token (shown once): {secret}")
