"""custos blacklist …: the industry blacklist exchange (docs/blacklist.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Industry blacklist exchange: as the association (CUSTOS_BLACKLIST_ROLE=association) add, "
        "remove, rotate, nominations, accept; as a member check FILE.csv --json OUT, check-staff, "
        "send-nominations, status."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="association: list everyone in FILE.csv (all or nothing)")
        add.add_argument("file", type=Path, help="columns id_no,name,company,reason,dismissed_on")
        rm = sub.add_parser("remove", help="association: remove one ID number or every id_no of a file")
        rm.add_argument("what", help="an ID number, or FILE.csv with an id_no column")
        sub.add_parser("rotate", help="association: a new PSI key for the same list")
        sub.add_parser("nominations", help="association: the nominations members sent, waiting")
        acc = sub.add_parser("accept", help="association: list received nominations")
        acc.add_argument("ids", nargs="+", type=int)
        chk = sub.add_parser("check", help="member: which candidates of FILE.csv the list names")
        chk.add_argument("file", type=Path, help="column id_no (name optional)")
        chk.add_argument("--json", dest="out", type=Path, required=True, help='OUT.json: {"hits": […]}')
        cs = sub.add_parser("check-staff", help="member: check new, changed and pending staff now")
        cs.add_argument("--all", action="store_true", help="every staff member of the book")
        sub.add_parser("send-nominations", help="member: send the nominations compliance approved")
        sub.add_parser("status", help="the list (association) or the staff checks and hits (member)")

    def handle(self, *args, action, **opts):
        from custos.audit.record import acting_cli
        from custos.blacklist.services import association, member
        from custos.blacklist.services.files import FileError

        try:
            with acting_cli():
                getattr(self, "_" + action.replace("-", "_"))(association, member, opts)
        except FileError as exc:
            raise CommandError(str(exc)) from exc
        except association.NotAssociation as exc:
            raise CommandError(str(exc)) from exc
        except (member.Unreachable, member.ExchangeError) as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, association, member, opts):
        version, n = association.add_file(opts["file"])
        self.stdout.write(
            f"listed {n} from {opts['file'].name}: version {version.number}, {version.entries} listed"
        )

    def _remove(self, association, member, opts):
        version, n = association.remove(opts["what"])
        self.stdout.write(f"removed {n}: version {version.number}, {version.entries} listed")

    def _rotate(self, association, member, opts):
        version = association.rotate()
        self.stdout.write(f"new key: version {version.number}, {version.entries} listed")

    def _nominations(self, association, member, opts):
        from custos.blacklist.models import Received
        from custos.domain import masking

        waiting = Received.objects.filter(status=Received.Status.RECEIVED).select_related("member")
        for r in waiting.order_by("pk"):
            self.stdout.write(
                f"#{r.pk} {r.member.username} {r.reference} {masking.name(r.name)} "
                f"{masking.id_no(r.id_no)} {r.dismissed_on}"
            )
        self.stdout.write(f"{waiting.count()} waiting")

    def _accept(self, association, member, opts):
        version, n = association.accept(opts["ids"])
        self.stdout.write(f"listed {n} nominations: version {version.number}, {version.entries} listed")

    def _check(self, association, member, opts):
        if association.conf.is_association():
            raise CommandError("this custos is the association: check runs on a member")
        result = member.check_file(opts["file"], opts["out"])
        self.stdout.write(
            f"{len(result.hits)} hit(s) against list version {result.version}: wrote {opts['out']}"
        )

    def _check_staff(self, association, member, opts):
        if not association.conf.url():
            raise CommandError("CUSTOS_BLACKLIST_URL is not set: no association to check against")
        summary = member.check_staff(everyone=opts["all"])
        member.refresh_snapshot()
        if summary.error:
            raise CommandError(f"{summary.pending} staff still pending: {summary.error}")
        self.stdout.write(
            f"checked {summary.checked} staff: {summary.hits} on the list"
            + (f" (new: {', '.join(summary.new_hits)})" if summary.new_hits else "")
            + (f"; {summary.no_id} without a valid ID number" if summary.no_id else "")
        )

    def _send_nominations(self, association, member, opts):
        sent, error = member.send_nominations()
        if error:
            raise CommandError(f"sent {sent}; then: {error}")
        self.stdout.write(f"sent {sent} nomination(s)")

    def _status(self, association, member, opts):
        from custos.blacklist.models import Hit, StaffCheck

        if association.conf.is_association():
            v = association.current()
            self.stdout.write(f"association: version {v.number if v else 0}, {v.entries if v else 0} listed")
            return
        counts = {s: StaffCheck.objects.filter(status=s).count() for s in StaffCheck.Status.values}
        hits = Hit.objects.filter(active=True).count()
        self.stdout.write(
            f"member of {association.conf.url() or '(no association set)'}: {counts}, {hits} hit(s)"
        )
