"""`custos bench integrity --book DIR`: the cost of the customer rows' integrity tags.

In one run, on the current database (emptied first: benchmark databases only): the book loaded
without tags (the baseline), emptied again, loaded with tags, then `verify` over every row — wall
and CPU seconds of each. Target (issue 17): verify of a 1 M-policy book ≤ 60 s on 2 cores.
"""

import os
import platform
import resource
import time
from pathlib import Path

from custos.bench import register


def _cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _empty() -> None:
    from django.db import connection, transaction

    from custos.book.models import MODELS, BookLoad, PartyHistory

    tables = [PartyHistory, *reversed(list(MODELS.values())), BookLoad]
    with transaction.atomic(), connection.cursor() as cur:
        for model in tables:
            t = connection.ops.quote_name(model._meta.db_table)
            cur.execute(f"TRUNCATE {t} CASCADE" if connection.vendor == "postgresql" else f"DELETE FROM {t}")


@register("integrity")
class IntegrityBench:
    help = "load a book without and with integrity tags, then verify every row"

    def add_arguments(self, parser):
        parser.add_argument("--book", type=Path, required=True, help="a book (custos synth --policies N DIR)")
        parser.add_argument("--policies", type=int, default=0, help="the book's policies (for the report)")
        parser.add_argument("--no-baseline", action="store_true", help="skip the load without tags")
        parser.add_argument(
            "--reset", action="store_true", help="empty the book tables first (required if any)"
        )

    def run(self, options: dict, out) -> dict:
        from django.core.management import call_command
        from django.db import connection

        from custos.book.models import BookLoad
        from custos.book.services import load_book
        from custos.integrity import loading, services

        call_command("migrate", verbosity=0)
        if BookLoad.objects.exists() and not options["reset"]:
            raise SystemExit("the database already holds loads; use an empty database or --reset")

        def load(tagged: bool) -> dict:
            _empty()
            loading.ENABLED = tagged
            try:
                t0, c0 = time.monotonic(), _cpu()
                marks = {}

                def progress(pct, note):
                    for phase, at in (("validate", 45), ("write", 85)):
                        if pct >= at and phase not in marks:
                            marks[phase] = time.monotonic() - t0

                done = load_book(options["book"], progress=progress)
                if done.status != BookLoad.Status.DONE:
                    raise SystemExit(f"load {done.status}: {done.errors[:3]}")
                seconds, cpu = time.monotonic() - t0, _cpu() - c0
            finally:
                loading.ENABLED = True
            fig = {
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "write_seconds": round(marks.get("write", 0) - marks.get("validate", 0), 2),
                "rows": sum(done.row_counts.values()),
            }
            out.write(
                f"load {'with' if tagged else 'without'} tags: {seconds:.1f} s wall, {cpu:.1f} CPU s "
                f"(write phase {fig['write_seconds']} s)"
            )
            return fig

        figures = {
            "benchmark": "integrity",
            "database": connection.vendor,
            "policies": options["policies"],
            "book": str(options["book"]),
        }
        if not options["no_baseline"]:
            figures["load_without_tags"] = load(False)
        figures["load_with_tags"] = load(True)
        res = services.verify()
        rows = sum(res.checked.values())
        figures["verify"] = {
            "rows": rows,
            "checked": res.checked,
            "failures": res.failure_count,
            "seconds": round(res.seconds, 2),
            "cpu_seconds": round(res.cpu_seconds, 2),
            "rows_per_second": round(rows / res.seconds) if res.seconds else 0,
        }
        figures.update(
            load_average_1m=round(os.getloadavg()[0], 1),
            python=platform.python_version(),
            cpus=os.cpu_count(),
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        )
        out.write(
            f"verify: {rows:,} rows in {res.seconds:.1f} s wall, {res.cpu_seconds:.1f} CPU s "
            f"({figures['verify']['rows_per_second']:,} rows/s), {res.failure_count} failures; "
            f"load average {figures['load_average_1m']}"
        )
        if res.failure_count:
            raise SystemExit(f"verify found {res.failure_count} failures on a clean load")
        return figures
