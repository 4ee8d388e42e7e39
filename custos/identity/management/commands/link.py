"""`custos link`: link every party of the latest (or a given) load into persons with ids that last.

    custos link [--engine duckdb|spark] [--load ID] [--full] [--no-check]

Incremental by default once a run has left a trained model and persons: only the parties new or
changed since are scored, against the stored records; ``--full`` retrains and relinks everything.
The first line of the summary says which it did.

Then runs the checks (unless --no-check), so that the cross-channel findings XC01–XC03 open and
close with the ordinary life cycle. Exit status 0, or 1 with a one-line reason.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from custos.identity.services.link import ENGINES, LinkError, run_link


class Command(BaseCommand):
    help = "Link the parties of a loaded book into persons (Splink, Fellegi-Sunter) and check them."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--engine", choices=ENGINES, default="duckdb", help="linking engine (default duckdb)"
        )
        parser.add_argument("--load", type=int, help="BookLoad id (default: the latest successful load)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="retrain the model and relink every party (default: incremental when persons exist)",
        )
        parser.add_argument(
            "--no-check", action="store_true", help="do not run the checks afterwards (XC findings wait)"
        )

    def handle(self, *args, **options):
        from custos.audit.record import acting_cli

        def progress(fraction: float, note: str) -> None:
            self.stdout.write(f"{int(fraction * 100):3d}% {note}")

        try:
            with acting_cli("custos link"):
                run = run_link(
                    options["load"], engine=options["engine"], progress=progress, full=options["full"]
                )
        except LinkError as exc:
            raise CommandError(str(exc)) from exc
        st = run.settings
        if st.get("mode") == "incremental":
            how = (
                f"incremental on run #{st['base_run']}: {st['new']} new, {st['changed']} changed, "
                f"{st['unchanged']} unchanged parties"
            )
        else:
            how = "full: model trained, every party linked"
        self.stdout.write(f"link run #{run.pk} ({run.engine}), {how}")
        self.stdout.write(
            f"link run #{run.pk}: {run.records} records, {run.persons} persons "
            f"({run.persons_created} new), {run.links} links, {run.merges} merges, {run.splits} splits, "
            f"{run.review_pairs} pairs to review, {run.seconds:.1f} s; model and chart in {run.artefacts}"
        )
        if options["no_check"]:
            return
        from custos.checks.services import CheckError, run_check

        try:
            check = run_check(run.load)
        except CheckError as exc:
            raise CommandError(str(exc)) from exc
        xc = {k: v for k, v in check.by_check.items() if k.startswith("XC")}
        self.stdout.write(f"check run #{check.pk}: cross-channel findings {xc or 'none'}")
