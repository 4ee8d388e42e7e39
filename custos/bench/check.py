"""`custos bench check --parties N [--engine duckdb|spark] [--json OUT]`: the full check catalogue
over a snapshot of N parties, against a row-at-a-time Python baseline on the same rows.

The snapshot is a synthetic book (custos.synth.generate_book) of up to ``--base-policies``
policies, replicated in DuckDB with new policy numbers (and a replica-numbered address, so that
distinct addresses grow with the book) up to N parties. The baseline calls python-stdnum's
``cn.ric.validate``, phonenumbers' ``is_valid_number`` and a few regexes per party, on a sample of
``--baseline-sample`` parties (its rate does not depend on N).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import re
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from custos.bench import register


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _native_available() -> bool:
    from custos.checks import native

    return native.available()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def build_snapshot(out: Path, parties: int, base_policies: int, seed: int) -> int:
    """A snapshot of about ``parties`` parties in ``out``; returns the exact number of parties."""

    from custos.checks.engine import snapshot_from_csv_folder
    from custos.synth import generate_book

    base = out.parent / "base"
    policies = max(50, min(base_policies, math.ceil(parties / 2.6)))
    generate_book(base / "book", policies, seed)
    from custos.crypto import snapshot as esnap

    snapshot_from_csv_folder(base / "book", base / "snap")
    con = esnap.writer_connection()  # the replica is encrypted like the source
    con.execute("SET memory_limit = '3GB'")  # the replication's own buffers; the loader keeps 512 MB
    src = base / "snap"
    n_base = con.execute(f"SELECT count(*) FROM {esnap.source(con, src, 'parties')}").fetchone()[0]
    k = max(1, math.ceil(parties / n_base))
    out.mkdir(parents=True, exist_ok=True)
    key = esnap.begin(out, con)
    assert esnap.key_id(out) == esnap.key_id(src)  # the copied files open with the same key
    con.execute(f"CREATE TABLE r AS SELECT range AS r FROM range({k})")
    for name in ("branches", "staff", "partners", "blacklist"):
        if (src / f"{name}.parquet").exists():
            shutil.copy(src / f"{name}.parquet", out / f"{name}.parquet")
    suffix = "CASE WHEN r = 0 THEN '' ELSE '-' || CAST(r AS VARCHAR) END"
    for name in ("policies", "parties", "changes", "visits"):
        if not (src / f"{name}.parquet").exists():
            continue
        cols = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {esnap.source(con, src, name)}").fetchall()
        ]
        exprs = []
        for c in cols:
            if c == "policy_no":
                exprs.append(f"policy_no || {suffix} AS policy_no")
            elif c == "address" and name == "parties":
                exprs.append(
                    "CASE WHEN r = 0 OR address IS NULL THEN address ELSE address || CAST(r AS VARCHAR) || '室' END AS address"
                )
            else:
                exprs.append(c)
        con.execute(
            f"COPY (SELECT {', '.join(exprs)} FROM {esnap.source(con, src, name)}, r{esnap.cluster_clause(name)}) "
            # row groups of DuckDB's default size, as the loader writes them: the scan is parallel by
            # row group (1,000,000-row groups left a 1 M-party book to one thread)
            f"TO '{out}/{name}.parquet' {esnap.copy_options(key)}"
        )
    total = con.execute(f"SELECT count(*) FROM {esnap.source(con, out, 'parties')}").fetchone()[0]
    con.close()
    shutil.rmtree(base)
    return total


def baseline(snapshot: Path, sample: int) -> tuple[int, float]:
    """Row-at-a-time Python: stdnum + phonenumbers + regexes per party. Returns (rows, seconds)."""
    import duckdb
    import phonenumbers
    from stdnum.cn import ric

    from custos.crypto import snapshot as esnap

    con = duckdb.connect()
    rows = con.execute(
        f"SELECT id_no, mobile, name, email, postcode FROM {esnap.source(con, Path(snapshot), 'parties')} "
        f"LIMIT {sample}"
    ).fetchall()
    con.close()
    name_re = re.compile(r"[\u4e00-\u9fff·]{2,6}")
    email_re = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
    post_re = re.compile(r"\d{6}")
    bad = 0
    t0 = time.perf_counter()
    for id_no, mobile, name, email, postcode in rows:
        try:
            ric.validate(id_no or "")
        except Exception:  # noqa: BLE001 - any validation error counts as a finding
            bad += 1
        try:
            if not phonenumbers.is_valid_number(phonenumbers.parse(mobile or "", "CN")):
                bad += 1
        except phonenumbers.NumberParseException:
            bad += 1
        bad += not name_re.fullmatch(name or "")
        bad += bool(email) and not email_re.fullmatch(email)
        bad += bool(postcode) and not post_re.fullmatch(postcode)
    return len(rows), time.perf_counter() - t0


@register("check")
class CheckBench:
    help = "run the full check catalogue over N parties (DuckDB or Spark) against a Python baseline"

    def add_arguments(self, parser):
        parser.add_argument("--parties", type=int, default=1_000_000)
        parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
        parser.add_argument(
            "--spark-master",
            default=None,
            help="Spark master (default: CUSTOS_SPARK_MASTER, else local[2]); CPU and RSS of a "
            "`custos spark up` cluster's JVMs are counted",
        )
        parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
        parser.add_argument("--base-policies", type=int, default=40_000)
        parser.add_argument("--baseline-sample", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--snapshot", type=Path, help="use this snapshot directory instead of building one"
        )
        parser.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="run engine and baseline alternately N times; report the medians (and each run)",
        )
        parser.add_argument(
            "--no-sql-only",
            action="store_true",
            help="skip the DuckDB run with the SQL alone (CUSTOS_NATIVE=0) that is reported beside the native one",
        )

    @staticmethod
    def _measure(snap: Path, parties: int, options: dict) -> dict:
        """One run: the engine over the whole snapshot, then the baseline right after it."""
        from custos.checks.catalogue import CheckSettings
        from custos.checks.engine import run_checks
        from custos.spark.probe import SparkProbe

        probe = SparkProbe() if options["engine"] == "spark" else None
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        cpu0 = _cpu_s()
        if probe:
            probe.start()
        findings = run_checks(
            snap,
            engine=options["engine"],
            settings=CheckSettings(as_of=dt.date(2026, 11, 25)),
            spark_master=options["spark_master"],
            threads=options.get("threads"),
        )
        seconds = time.perf_counter() - t0
        cpu = _cpu_s() - cpu0
        spark_figures = probe.stop() if probe else {}
        load1 = os.getloadavg()[0]
        b_rows, b_sec = baseline(snap, options["baseline_sample"])
        rate, b_rate = parties / seconds, b_rows / b_sec
        return {
            "seconds": round(seconds, 3),
            "parties_per_s": round(rate),
            "baseline_parties_per_s": round(b_rate),
            "baseline_sample": b_rows,
            "ratio": round(rate / b_rate, 1),
            "cpu_seconds": round(cpu, 2),
            "findings": findings.num_rows,
            "load_avg_1m_before": round(load0, 2),
            "load_avg_1m_after": round(load1, 2),
            **spark_figures,
        }

    @classmethod
    def _measure_sql_only(cls, snap: Path, parties: int, options: dict) -> dict:
        """The same DuckDB run with the compiled functions turned off: the SQL alone, as on Spark or
        where there is no C compiler. Reported beside the native figure so its worth stays visible."""
        before = os.environ.get("CUSTOS_NATIVE")
        os.environ["CUSTOS_NATIVE"] = "0"
        try:
            return cls._measure(snap, parties, options)
        finally:
            if before is None:
                os.environ.pop("CUSTOS_NATIVE", None)
            else:
                os.environ["CUSTOS_NATIVE"] = before

    def run(self, options: dict, out) -> dict:
        from custos.checks.catalogue import CATALOGUE

        tmp = Path(tempfile.mkdtemp(prefix="custos-bench-check-"))
        try:
            snap = options.get("snapshot")
            t0 = time.perf_counter()
            if snap is None:
                snap = tmp / "snap"
                parties = build_snapshot(snap, options["parties"], options["base_policies"], options["seed"])
            else:
                import duckdb

                from custos.crypto import snapshot as esnap

                con = duckdb.connect()
                parties = con.execute(
                    f"SELECT count(*) FROM {esnap.source(con, Path(snap), 'parties')}"
                ).fetchone()[0]
                con.close()
            build_s = time.perf_counter() - t0
            out.write(f"snapshot of {parties:,} parties in {build_s:.1f}s")
            rss_before = _rss_mb()
            runs = [self._measure(snap, parties, options) for _ in range(max(1, options["repeat"]))]
            median = {
                k: statistics.median(r[k] for r in runs)
                for k in ("seconds", "parties_per_s", "baseline_parties_per_s", "ratio", "cpu_seconds")
            }
            rss = _rss_mb()
            native = options["engine"] == "duckdb" and _native_available()
            figures = {
                "benchmark": "check",
                "engine": options["engine"],
                # DuckDB with the compiled check functions (custos.checks.native), or SQL alone
                "native": native,
                "parties": parties,
                "checks": len(CATALOGUE),
                "findings": runs[-1]["findings"],
                # with --repeat N: the median of the N runs (each run: the engine, then the baseline)
                "seconds": round(median["seconds"], 3),
                "parties_per_s": round(median["parties_per_s"]),
                "baseline_parties_per_s": round(median["baseline_parties_per_s"]),
                "baseline_sample": runs[-1]["baseline_sample"],
                "ratio": round(median["ratio"], 1),
                "ratio_min": min(r["ratio"] for r in runs),
                "ratio_max": max(r["ratio"] for r in runs),
                "peak_rss_mb": round(rss),
                "rss_before_run_mb": round(rss_before),
                "snapshot_build_seconds": round(build_s, 1),
                "cpus": os.cpu_count(),
                "cpu_model": _cpu_model(),
                "machine": platform.platform(),
                "cpu_seconds": round(median["cpu_seconds"], 2),  # this process (a Spark JVM is not counted)
                "load_avg_1m_before": runs[0]["load_avg_1m_before"],
                "load_avg_1m_after": runs[-1]["load_avg_1m_after"],
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),  # UTC, not Django TZ
                "runs": runs,
            }
            if native and not options.get("no_sql_only"):
                sql = self._measure_sql_only(snap, parties, options)
                if sql["findings"] != runs[-1]["findings"]:
                    raise RuntimeError(
                        f"the SQL alone found {sql['findings']} findings, the native engine {runs[-1]['findings']}"
                    )
                figures["sql_only"] = sql
                figures["native_speedup"] = round(sql["seconds"] / figures["seconds"], 2)
            if len({r["findings"] for r in runs}) != 1:
                raise RuntimeError(
                    f"runs found different numbers of findings: {[r['findings'] for r in runs]}"
                )
            out.write(
                f"{options['engine']}: {parties:,} parties, {figures['findings']:,} findings in "
                f"{figures['seconds']:.2f}s = {figures['parties_per_s']:,} parties/s; baseline "
                f"{figures['baseline_parties_per_s']:,}/s; ratio {figures['ratio']:.1f}x"
                + (
                    f" (median of {len(runs)}: {figures['ratio_min']}–{figures['ratio_max']}x)"
                    if len(runs) > 1
                    else ""
                )
                + f"; peak RSS {rss:,.0f} MB"
            )
            if "sql_only" in figures:
                sql = figures["sql_only"]
                out.write(
                    f"duckdb, SQL alone (CUSTOS_NATIVE=0): {sql['seconds']:.2f}s = {sql['parties_per_s']:,} "
                    f"parties/s, ratio {sql['ratio']:.1f}x; speed-up of the compiled functions "
                    f"{figures['native_speedup']:.2f}x"
                )
            return figures
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
