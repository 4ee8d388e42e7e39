"""`custos bench link --parties N [--incremental M] [--engine duckdb|spark] [--json OUT]`: link a
synthetic book of N parties into persons, then M more parties incrementally, scored against the
book's truth (truth/persons.csv).

One synthetic book of about N + M parties is generated (custos.synth.generate_book) and written as
an encrypted snapshot; a second snapshot holds the policies whose parties make the first N. A
`BookLoad` is recorded for each (no ORM load of the book: linking reads the snapshot), then
`run_link(full=True)` links the N parties (train, predict, cluster, persons written to the
configured database) and `run_link()` links the remaining M incrementally (predict_between against
the N stored records). Use an empty database (a private CUSTOS_HOME): the persons are kept.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from custos.bench import register

PARTIES_PER_POLICY = 2.62  # of a default synthetic book (applicant, insured, beneficiaries)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _subset(snap: Path, out: Path, parties: int) -> int:
    """A snapshot of the first policies (by policy_no) whose parties number at most ``parties``;
    returns its number of parties."""
    from custos.crypto import snapshot as esnap

    con = esnap.writer_connection()
    con.execute("SET memory_limit = '2GB'")
    try:
        key = esnap.begin(out, con)
        con.execute(
            f"""CREATE TEMP TABLE keep AS
            SELECT policy_no FROM (
                SELECT policy_no, sum(count(*)) OVER (ORDER BY policy_no) AS upto
                FROM {esnap.source(con, snap, "parties")} GROUP BY policy_no)
            WHERE upto <= {int(parties)}"""
        )
        for name in ("policies", "parties"):
            con.execute(
                f"COPY (SELECT t.* FROM {esnap.source(con, snap, name)} t SEMI JOIN keep USING (policy_no)"
                f"{esnap.cluster_clause(name)}) TO '{out / f'{name}.parquet'}' {esnap.copy_options(key)}"
            )
        return con.execute(f"SELECT count(*) FROM {esnap.source(con, out, 'parties')}").fetchone()[0]
    finally:
        con.close()


def _found() -> dict:
    from custos.identity.models import PersonRecord

    return {
        (p, r, s): num
        for p, r, s, num in PersonRecord.objects.values_list(
            "policy_no", "role", "seq", "person__number"
        ).iterator(chunk_size=20000)
    }


def _load(snap: Path, parties: int):
    from custos.book.models import BookLoad

    return BookLoad.objects.create(
        source_name=f"bench link ({parties} parties)",
        sha256="0" * 64,
        status=BookLoad.Status.DONE,
        snapshot_path=str(snap),
    )


@register("link")
class LinkBench:
    help = "link N synthetic parties into persons (Splink), then M more incrementally; against the truth"
    needs_database = True

    def add_arguments(self, parser):
        parser.add_argument("--parties", type=int, default=1_000_000)
        parser.add_argument(
            "--incremental", type=int, default=10_000, help="parties linked incrementally after"
        )
        parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--book", type=Path, help="use this synthetic book (with truth/) instead of generating"
        )

    def run(self, options: dict, out) -> dict:
        from django.core.management import call_command

        from custos.checks.engine import snapshot_from_csv_folder
        from custos.identity.models import Person
        from custos.identity.services.evaluate import read_assignment, scores
        from custos.identity.services.link import run_link

        call_command("migrate", verbosity=0)
        if Person.objects.exists():
            raise SystemExit("the database already holds persons: run the benchmark on an empty one")
        n, m = options["parties"], options["incremental"]
        tmp = Path(tempfile.mkdtemp(prefix="custos-bench-link-"))
        try:
            t0 = time.monotonic()
            book = options["book"]
            if book is None:
                book = tmp / "book"
                from custos.synth import generate_book

                generate_book(book, math.ceil((n + m) / PARTIES_PER_POLICY * 1.01), options["seed"])
            snap_all = snapshot_from_csv_folder(book, tmp / "snap-all")
            base_parties = _subset(snap_all, tmp / "snap-base", n)
            truth = read_assignment(book / "truth" / "persons.csv")
            out.write(
                f"book of {len(truth):,} parties ready in {time.monotonic() - t0:.1f}s; "
                f"linking {base_parties:,} then the rest incrementally"
            )
            marks: list[tuple[str, float]] = []

            def progress(fraction: float, note: str) -> None:
                marks.append((note, time.monotonic()))

            t1, c1 = time.monotonic(), _cpu()
            run = run_link(
                _load(tmp / "snap-base", base_parties), engine=options["engine"], full=True, progress=progress
            )
            seconds, cpu_seconds = time.monotonic() - t1, _cpu() - c1
            phases = _phases(marks)
            found = _found()
            s_full = scores(found, truth)
            out.write(
                f"full: {base_parties:,} parties in {seconds:.1f}s (CPU {cpu_seconds:.1f}s) ({phases}); precision {s_full['precision']:.4f}"
                f" recall {s_full['recall']:.4f}; peak RSS {_rss_mb():.0f} MB"
            )
            inc_parties = _subset(snap_all, tmp / "snap-inc", n + m)
            marks.clear()
            t2, c2 = time.monotonic(), _cpu()
            inc = run_link(_load(tmp / "snap-inc", inc_parties), engine=options["engine"], progress=progress)
            inc_seconds, inc_cpu = time.monotonic() - t2, _cpu() - c2
            inc_phases = _phases(marks)
            assert inc.settings.get("mode") == "incremental", inc.settings
            s_inc = scores(_found(), truth)
            out.write(
                f"incremental: {inc.settings['new']:,} new parties against {base_parties:,} in {inc_seconds:.1f}s (CPU {inc_cpu:.1f}s); "
                f"({inc_phases}); precision {s_inc['precision']:.4f} recall {s_inc['recall']:.4f}"
            )
            return {
                "benchmark": "link",
                "engine": options["engine"],
                "parties": base_parties,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu_seconds, 2),
                "phases": phases,
                "pairs_scored": run.pairs_scored,
                "links": run.links,
                "persons": run.persons,
                "precision": round(s_full["precision"], 5),
                "recall": round(s_full["recall"], 5),
                "bcubed_precision": round(s_full["bcubed_precision"], 5),
                "bcubed_recall": round(s_full["bcubed_recall"], 5),
                "true_pairs": s_full["true_pairs"],
                "incremental_parties": inc.settings["new"],
                "incremental_seconds": round(inc_seconds, 2),
                "incremental_cpu_seconds": round(inc_cpu, 2),
                "incremental_phases": inc_phases,
                "incremental_pairs_scored": inc.pairs_scored,
                "incremental_precision": round(s_inc["precision"], 5),
                "incremental_recall": round(s_inc["recall"], 5),
                "incremental_bcubed_precision": round(s_inc["bcubed_precision"], 5),
                "incremental_bcubed_recall": round(s_inc["bcubed_recall"], 5),
                "peak_rss_mb": round(_rss_mb()),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "machine": platform.platform(),
            }
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _phases(marks: list[tuple[str, float]]) -> dict:
    """Seconds from each progress note of a run to the next."""
    return {note.split(" (")[0]: round(marks[i + 1][1] - t, 2) for i, (note, t) in enumerate(marks[:-1])}
