"""`custos screen FILE [--out RESULT.csv] [--client NAME]`: screen a partner's batch file (book format:
a folder, .zip or .xlsx with policies and parties, or one flat CSV/XLSX with a row per party) and write
one verdict per application. Exit 0 when the file was screened (whatever the verdicts), 1 with a
one-line reason when it could not be read."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Screen a batch file of applications (book format) and write the verdicts as CSV."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--out", type=Path, help="result CSV (application_id, policy_no, verdict, codes…)"
        )
        parser.add_argument(
            "--client", default="batch", help="calling system recorded with each screening (default: batch)"
        )

    def handle(self, *args, file, out, client: str, **options):
        file, out = Path(file), (Path(out) if out else None)
        from custos.screening.batch import BatchError, screen_file
        from custos.screening.models import Client

        if not file.exists():
            raise CommandError(f"{file}: no such file or directory")
        if out is not None and not out.parent.exists():
            raise CommandError(f"{out.parent}: no such directory")
        found = Client.objects.filter(name=client).first()
        if found is None:
            found = Client.issue(client)[0]  # a batch caller never uses its key
        elif not found.active:
            raise CommandError(f"client {client!r} is deactivated")
        try:
            summary = screen_file(file, found, out)
        except BatchError as exc:
            raise CommandError(str(exc))
        self.stdout.write(
            f"{summary['applications']} applications: {summary['pass']} pass, {summary['refer']} refer, "
            f"{summary['reject']} reject, {summary['error']} with input errors"
            + (f"; verdicts written to {out}" if out else "")
        )
        if out is None:
            for r in summary["rows"]:
                self.stdout.write("\t".join(str(x) for x in r[:4]))
