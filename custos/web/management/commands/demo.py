"""custos demo: a working custos on this machine in one command.

init (CUSTOS_HOME, default ./var) → a synthetic 20,000-policy book in CUSTOS_HOME/demo-book (unless
present) → loaded (unless already loaded) → checked → one demo user per role (passwords printed) →
a walk through remediation, extraction, screening and the audit log (custos.web.demo_tour) → serve
on http://127.0.0.1:8000 (unless --no-serve)."""

import shutil
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count

from custos import paths
from custos.access.models import Profile, Role
from custos.book.models import BookLoad, Partner, Policy

DEMO_SOURCE = "demo-book"
DEMO_SEED = 42
ADMIN_PASSWORD = "demo-admin-2013"  # noqa: S105 (demo only, printed on the console)


def demo_password(role: str) -> str:
    return f"demo-{role.replace('_', '-')}-2013"


def demo_scopes() -> dict[str, dict]:
    """A sensible scope per role, taken from the loaded book."""
    busiest = (
        Policy.objects.exclude(agent_no="")
        .values("agent_no")
        .annotate(n=Count("id"))
        .order_by("-n", "agent_no")
        .first()
    )
    busiest_agent = busiest["agent_no"] if busiest else ""
    partner = Partner.objects.order_by("partner_code").values_list("partner_code", flat=True).first() or ""
    return {
        Role.COMPLIANCE: {},
        Role.CUSTOMER_SERVICE: {},
        Role.CHANNEL_MANAGER: {"channel": "bancassurance"},
        Role.AGENT: {"staff_no": busiest_agent},
        Role.PARTNER_STAFF: {"partner_code": partner},
        Role.OPERATIONS: {},
        Role.FINANCE: {},
        Role.EXECUTIVE: {},
        Role.IT_SECURITY: {},
        Role.AUDITOR: {},
    }


class Command(BaseCommand):
    help = "Initialise, generate and load a synthetic book, create demo users, and serve."

    def add_arguments(self, parser):
        parser.add_argument("--policies", type=int, default=20_000, help="size of the synthetic book")
        parser.add_argument("--seed", type=int, default=DEMO_SEED, help="seed of the synthetic book")
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="prepare everything, then exit")

    def handle(self, *args, policies, seed, bind, no_serve, **options):
        call_command("init", admin="admin", password=ADMIN_PASSWORD, stdout=self.stdout)
        admin = get_user_model().objects.get(username="admin")

        book_dir = paths.home() / DEMO_SOURCE
        if book_dir.is_dir():
            self.stdout.write(f"synthetic book: {book_dir} (exists)")
        else:
            self._generate(book_dir, policies, seed)

        if BookLoad.objects.filter(source_name=DEMO_SOURCE, status=BookLoad.Status.DONE).exists():
            self.stdout.write("book: already loaded")
        else:
            self._load(book_dir, admin)
        self._check(admin)

        self.stdout.write("\ndemo users (username / password / scope):")
        self.stdout.write(f"  admin / {ADMIN_PASSWORD} / Django admin, IT security")
        with transaction.atomic():
            for role, scope in demo_scopes().items():
                username = f"demo_{role}"
                user, _ = get_user_model().objects.get_or_create(username=username)
                user.set_password(demo_password(role))
                user.save()
                Profile.objects.update_or_create(
                    user=user,
                    defaults={
                        "role": role,
                        "staff_no": scope.get("staff_no", ""),
                        "branch_code": "",
                        "channel": scope.get("channel", ""),
                        "partner_code": scope.get("partner_code", ""),
                    },
                )
                shown = ", ".join(f"{k}={v}" for k, v in scope.items()) or "whole book"
                self.stdout.write(f"  {username} / {demo_password(role)} / {Role(role).label}: {shown}")

        self.stdout.write("\nwalking through every capability with the demo users:")
        from custos.web import demo_tour

        try:
            demo_tour.run(lambda line: self.stdout.write(f"  {line}"), book_dir)
        except Exception as exc:  # a broken step must be seen, not hidden behind a serving app
            raise CommandError(f"demo walk-through failed: {type(exc).__name__}: {exc}")

        self.stdout.write(f"\nopen http://{bind}/ and log in as one of the users above")
        if not no_serve:
            call_command("serve", bind=bind, stdout=self.stdout)

    def _generate(self, book_dir: Path, policies: int, seed: int) -> None:
        """Generate into a scratch folder and rename it, so that an interrupted run leaves no half book."""
        from custos.synth import generate_book

        self.stdout.write(f"generating a synthetic book of {policies:,} policies in {book_dir} …")
        scratch = book_dir.with_name(book_dir.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            generate_book(scratch, policies=policies, seed=seed)
        except Exception as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            raise CommandError(f"generating the synthetic book failed: {type(exc).__name__}: {exc}")
        scratch.rename(book_dir)

    def _check(self, admin) -> None:
        from custos.checks.models import CheckRun
        from custos.checks.services import CheckError, run_check

        load = BookLoad.objects.filter(source_name=DEMO_SOURCE, status=BookLoad.Status.DONE).first()
        if CheckRun.objects.filter(load=load, status=CheckRun.Status.DONE).exists():
            self.stdout.write("check: already run on this book")
            return
        self.stdout.write("checking the book against the whole catalogue …")
        try:
            run = run_check(load=load, user=admin)
        except CheckError as exc:
            raise CommandError(f"checking the demo book failed: {exc}")
        self.stdout.write(f"check run #{run.pk}: {run.findings_opened:,} findings opened")

    def _load(self, book_dir: Path, admin) -> None:
        from custos.book.services import load_book

        last = {"pct": -1}

        def progress(*args, **kwargs):
            pct = next((a for a in args if isinstance(a, int)), kwargs.get("percent"))
            if pct is not None and pct >= last["pct"] + 10:
                last["pct"] = pct
                self.stdout.write(f"  loading … {pct}%")

        self.stdout.write(f"loading {book_dir} …")
        load = load_book(book_dir, mode="full", user=admin, source_name=DEMO_SOURCE, progress=progress)
        if load.status not in (BookLoad.Status.DONE, BookLoad.Status.NOOP):
            first = load.errors[0]["message"] if load.errors else load.progress_note
            raise CommandError(f"demo book did not load ({load.status}, {load.error_count} errors): {first}")
        counts = ", ".join(f"{k} {v:,}" for k, v in (load.row_counts or {}).items())
        self.stdout.write(f"book loaded: {counts}")
