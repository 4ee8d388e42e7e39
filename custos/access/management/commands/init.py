"""custos init: create CUSTOS_HOME, the keyring (mode 600), the database schema and the first admin.

Idempotent: values already in the keyring are never replaced, an existing admin keeps its password."""

import datetime as dt
import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos import paths
from custos.access.models import Profile, Role
from custos.crypto import keyring


def prepare_keyring(path) -> bool:
    """Give the keyring what custos needs, never replacing a value it already holds; the file ends up
    with mode 600 either way. Returns True when the keyring was created."""
    created = not path.exists()
    with keyring.editing(path) as data:
        if not data.get("django_secret_key"):
            data["django_secret_key"] = secrets.token_urlsafe(50)
        keyring.ensure_data_keys(data)  # first data key and blind-index key; `custos keys rotate` adds keys
        data.setdefault("created_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    return created


class Command(BaseCommand):
    help = "Create CUSTOS_HOME, the keyring, the database schema and the first admin user."

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin", help="username of the first admin (default admin)")
        parser.add_argument(
            "--password",
            help="its password (default: env CUSTOS_ADMIN_PASSWORD, else one is generated and printed)",
        )

    def handle(self, *args, admin, password, **options):
        home = paths.home()
        try:
            home.mkdir(parents=True, exist_ok=True)
            home.chmod(0o700)
            path = paths.keyring_path()
            created = prepare_keyring(path)
        except OSError as exc:
            raise CommandError(f"cannot prepare {home}: {exc}")
        self.stdout.write(f"keyring {path}: {'created' if created else 'kept (already exists)'}, mode 600")

        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database: migrated")

        User = get_user_model()
        if User.objects.filter(username=admin).exists():
            self.stdout.write(f"admin {admin}: exists, unchanged")
            return
        password = password or os.environ.get("CUSTOS_ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_superuser(username=admin, password=password, email="")
            Profile.objects.create(user=user, role=Role.IT_SECURITY)
        self.stdout.write(f"admin {admin}: created" + (f", password {password}" if generated else ""))
