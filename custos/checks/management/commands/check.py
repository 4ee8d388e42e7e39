"""`custos check`: check the latest (or a given) loaded book and reconcile its findings.

    custos check [--engine duckdb|spark] [--master URL] [--load ID] [--disable CODE,CODE]

Shows a progress bar on a terminal and plain lines otherwise, then a summary of the open findings by
category and channel. Exit status 0, or 1 with a one-line reason (no load yet, engine failure…).

This command replaces Django's system-check command of the same name; `custos check --system [--deploy]`
still runs Django's system checks.
"""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from custos.checks import services
from custos.checks.models import CheckRun, Finding
from custos.checks.services import ENGINES, CheckError, run_check

CATEGORIES = ["missing", "false", "suspicious"]


class Command(BaseCommand):
    help = "Check a loaded book and open, keep or close findings."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--engine", choices=ENGINES, default="duckdb", help="bulk engine (default duckdb)"
        )
        parser.add_argument(
            "--master", default="local[2]", help="Spark master URL when --engine spark (default local[2])"
        )
        parser.add_argument("--load", type=int, help="BookLoad id (default: the latest successful load)")
        parser.add_argument(
            "--disable",
            default="",
            metavar="CODES",
            help="comma-separated check codes to switch off for this run (their findings stay open)",
        )
        parser.add_argument("--system", action="store_true", help="run Django's system checks instead")
        parser.add_argument("--deploy", action="store_true", help="with --system: deployment checks too")
        # Django's test runner calls `check` with these; they route to the system checks.
        parser.add_argument("--databases", nargs="*", help=argparse.SUPPRESS)
        parser.add_argument("--tag", "-t", action="append", dest="tags", help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        if options["system"] or options.get("databases") is not None or options.get("tags"):
            return self._system_checks(options)
        interactive = getattr(self.stdout._out, "isatty", lambda: False)()
        try:
            if interactive:
                run = self._with_bar(options)
            else:
                run = self._with_lines(options)
        except CheckError as exc:
            raise CommandError(str(exc)) from exc
        self._summary(run, interactive)

    # --- progress -------------------------------------------------------------------------------

    def _run(self, options, progress):
        settings = None
        disabled = {c.strip().upper() for c in options["disable"].split(",") if c.strip()}
        if disabled:
            known = {c.code for c in services.catalogue()}
            unknown = sorted(disabled - known)
            if unknown:
                raise CheckError(f"unknown check code(s): {', '.join(unknown)}")
            settings = services.default_settings()
            settings.enabled = frozenset(settings.enabled) - disabled
        return run_check(
            options["load"],
            engine=options["engine"],
            settings=settings,
            progress=progress,
            spark_master=options["master"],
        )

    def _with_bar(self, options) -> CheckRun:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(file=self.stdout._out)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("checking", total=100)

            def progress(fraction: float, note: str) -> None:
                bar.update(task, completed=round(100 * fraction), description=note)

            return self._run(options, progress)

    def _with_lines(self, options) -> CheckRun:
        last = {"note": None, "pct": -10}

        def progress(fraction: float, note: str) -> None:
            pct = int(100 * fraction)
            if note != last["note"] or pct >= last["pct"] + 10:
                self.stdout.write(f"{pct:3d}% {note}")
                last.update(note=note, pct=pct)

        return self._run(options, progress)

    # --- summary --------------------------------------------------------------------------------

    def _summary(self, run: CheckRun, interactive: bool) -> None:
        rows = (
            Finding.objects.filter(status="open")
            .values("category", "channel")
            .annotate(n=Count("id"))
            .order_by()
        )
        table: dict[str, dict[str, int]] = {c: {} for c in CATEGORIES}
        channels: set[str] = set()
        for r in rows:
            table.setdefault(r["category"], {})[r["channel"] or "-"] = r["n"]
            channels.add(r["channel"] or "-")
        channels_sorted = sorted(channels)
        head = (
            f"check run #{run.pk} of load #{run.load_id} ({run.engine}, {run.duration_seconds:.1f}s): "
            f"{run.policies_checked} policies, {run.parties_checked} parties; "
            f"opened {run.findings_opened}, kept {run.findings_kept}, closed {run.findings_closed}, "
            f"open {run.findings_open}"
        )
        from rich.console import Console
        from rich.table import Table

        console = Console(
            file=self.stdout._out, force_terminal=interactive, width=None if interactive else 200
        )
        t = Table(title="open findings by category × channel", title_justify="left")
        t.add_column("category")
        for ch in channels_sorted:
            t.add_column(ch, justify="right")
        t.add_column("total", justify="right")
        for cat, by_channel in table.items():
            t.add_row(
                cat, *[str(by_channel.get(ch, 0)) for ch in channels_sorted], str(sum(by_channel.values()))
            )
        t.add_row(
            "total",
            *[str(sum(table[c].get(ch, 0) for c in table)) for ch in channels_sorted],
            str(sum(sum(v.values()) for v in table.values())),
        )
        console.print(head, soft_wrap=True)
        console.print(t)
        if run.policies_checked:
            console.print(
                f"untrue rate {run.policies_untrue / run.policies_checked:.2%} "
                f"(missing {run.policies_missing / run.policies_checked:.2%}, "
                f"false {run.policies_false / run.policies_checked:.2%})",
                soft_wrap=True,
            )

    # --- Django's own system checks -------------------------------------------------------------

    def _system_checks(self, options):
        from django.core.management.commands.check import Command as SystemCheck

        cmd = SystemCheck(stdout=self.stdout, stderr=self.stderr)
        sys_opts = {
            "deploy": options["deploy"],
            "databases": options.get("databases"),
            "tags": options.get("tags"),
            "list_tags": False,
            "fail_level": "ERROR",
        }
        return cmd.handle(**sys_opts)
