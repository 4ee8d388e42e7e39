"""custos init: create CUSTOS_HOME, the keyring (mode 600), the database schema and the first admin.

Idempotent: an existing keyring is never overwritten, an existing admin keeps its password."""

import datetime as dt
import json
import os
import secrets
import stat

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos import paths
from custos.access.models import Profile, Role


def write_keyring(path) -> bool:
    """Create the keyring file with mode 600; returns False (and leaves it alone) when it exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "django_secret_key": secrets.token_urlsafe(50),
        "data_keys": [],  # encryption keys of personal data, added by a later version
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(content, f, indent=2)
    os.chmod(path, 0o600)
    return True


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
            keyring = paths.keyring_path()
            created = write_keyring(keyring)
            mode = stat.S_IMODE(keyring.stat().st_mode)
            if mode != 0o600:
                keyring.chmod(0o600)
                self.stdout.write(f"keyring {keyring}: mode {mode:o} tightened to 600")
        except OSError as exc:
            raise CommandError(f"cannot prepare {home}: {exc}")
        self.stdout.write(f"keyring {keyring}: {'created' if created else 'kept (already exists)'}")

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
