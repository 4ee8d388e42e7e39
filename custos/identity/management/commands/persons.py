"""`custos persons export OUT.csv`: the person of every party (policy_no,role,seq,person_id).
`custos persons reverse EVENT --user NAME --note TEXT`: undo a merge or split of a link run, as a
user who holds identity.review; the next runs keep the records as the reversal left them."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from custos.identity.services.export import export_csv


class Command(BaseCommand):
    help = "Persons: export which person every party is."
    requires_system_checks = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ex = sub.add_parser("export", help="write OUT.csv with columns policy_no,role,seq,person_id")
        ex.add_argument("out", help="the CSV file to write")
        rv = sub.add_parser("reverse", help="undo a merge or split (the person page lists them by number)")
        rv.add_argument("event", type=int, help="the merge or split's number")
        rv.add_argument("--user", required=True, help="the reviewing user (holds identity.review)")
        rv.add_argument("--note", required=True, help="why: kept with the reversal and in the audit log")

    def handle(self, *args, **options):
        if options["action"] == "export":
            try:
                n = export_csv(Path(options["out"]))
            except OSError as exc:
                raise CommandError(f"cannot write {options['out']}: {exc}") from exc
            self.stdout.write(f"{n} parties written to {options['out']}")
        elif options["action"] == "reverse":
            self._reverse(options["event"], options["user"], options["note"])

    def _reverse(self, event_id: int, username: str, note: str) -> None:
        from django.contrib.auth import get_user_model

        from custos.access.capabilities import can
        from custos.identity.models import LinkEvent
        from custos.identity.services.review import ReviewError, reverse_event

        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None or not can(user, "identity.review"):
            raise CommandError(f"{username!r} is not an active user who may review persons (identity.review)")
        if not note.strip():
            raise CommandError("--note must say why the merge or split is reversed")
        event = LinkEvent.objects.filter(pk=event_id).select_related("from_person", "to_person").first()
        if event is None:
            raise CommandError(f"no merge or split #{event_id}")
        try:
            decision = reverse_event(event, user, note.strip())
        except ReviewError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{event.kind} #{event.pk} reversed: {len(event.records)} record(s) back with "
            f"{event.from_person.pid}; later runs keep them {decision.kind}"
        )
