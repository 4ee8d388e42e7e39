"""`custos synth --policies N --seed S [--rates FILE.yaml] [--encoding gb18030] OUT`: write a
synthetic book with its ground truth (docs/synth.md)."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Generate a synthetic book (realistic customers, injected defects, truth/ files) into OUT."

    def add_arguments(self, parser):
        parser.add_argument("out", help="output folder (created; existing book files are overwritten)")
        parser.add_argument("--policies", type=int, required=True, help="number of policies")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
        parser.add_argument("--rates", help="YAML file overriding the defect rates (DefectRates fields)")
        parser.add_argument("--encoding", default="utf-8", choices=("utf-8", "gb18030", "gbk"))
        parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")

    def handle(self, *args, **options):
        from custos.synth import DefectRates, generate_book

        if options["policies"] < 1:
            raise CommandError("--policies must be at least 1")
        rates = None
        if options["rates"]:
            try:
                rates = DefectRates.from_yaml(options["rates"])
            except FileNotFoundError:
                raise CommandError(f"rates file not found: {options['rates']}")
            except Exception as exc:  # noqa: BLE001 - any bad YAML is the user's one-line error
                raise CommandError(f"bad rates file {options['rates']}: {exc}")
        out = Path(options["out"])
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a folder")
        started = time.monotonic()
        tty = sys.stdout.isatty() and options.get("verbosity", 1) > 0
        try:
            if tty:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

                with Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                ) as bar:
                    task = bar.add_task("policies", total=options["policies"])
                    summary = generate_book(
                        out,
                        options["policies"],
                        options["seed"],
                        rates,
                        progress=lambda done, total: bar.update(task, completed=done),
                        encoding=options["encoding"],
                        workers=options["workers"],
                    )
            else:
                summary = generate_book(
                    out,
                    options["policies"],
                    options["seed"],
                    rates,
                    encoding=options["encoding"],
                    workers=options["workers"],
                )
        except Exception as exc:  # noqa: BLE001 - one line, no traceback, non-zero exit
            raise CommandError(f"synth failed: {type(exc).__name__}: {exc}")
        rows = summary["rows"]
        n_defects = sum(summary["defects"].values())
        self.stdout.write(
            f"wrote {out}: {rows['policies']} policies, {rows['parties']} parties, {rows['staff']} staff, "
            f"{n_defects} injected defects in {len(summary['defects'])} checks "
            f"({time.monotonic() - started:.1f} s)"
        )
