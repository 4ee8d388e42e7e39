"""`custos bench watch [--staff N] [--days D] [--scenarios S] [--ingest-rows R] [--json OUT]`: issue 21's
figures in one run, none of it in the configured database or history.

1. Alerts: a synthetic world of N staff (default 10,000: agents in teams under sales managers,
   customer service, operations and back office, partner outlets' users, two nightly reporting
   accounts) works D days (default 90) with insiders harvesting in six styles (`custos watch
   simulate`, docs/watch.md); the logs are ingested into a temporary history and the alerts computed
   with the default thresholds: ``insider_recall`` (an insider counts when alerted between their
   first harvesting day and a week after the last) and ``alert_rate`` (alerts / active staff-days).
2. Ingest: R rows (default 100 M) of access logs written by DuckDB as one CSV per day, ingested by
   the same pipeline as `custos watch ingest` (checks, staging, encrypted day files, the move into
   the history — only the registry row and the audit record, one per file, are left out):
   ``ingest_rows_per_s`` (wall) and the CPU seconds.
3. Leak tracing: `custos.watch.tracing.bench.run_scenarios` (``scenarios``, ``top1``, ``top3``,
   ``trace_seconds``); null when that module is not installed.

Targets (issue 21): insider_recall ≥ 0.80 at alert_rate ≤ 0.01; 100 M rows ingested ≤ 10 minutes
(≥ 166,667 rows/s); top1 ≥ 0.95, top3 ≥ 0.99; trace over 100 M history rows ≤ 60 s.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from custos.bench import register


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def alerts_figures(staff: int, days: int, seed: int, work: Path, out) -> dict:
    from custos.watch import ingest, signals, simulate, store

    t0 = time.monotonic()
    world = simulate.synthetic_world(staff, seed)
    sim = simulate.Simulation(world, days, seed, dt.date(2026, 1, 5))
    truth = sim.write(work / "logs")
    t_sim = time.monotonic() - t0
    out.write(
        f"simulated {truth['rows']:,} reads by {truth['staff']:,} staff, {len(truth['insiders'])} insiders"
    )
    known = ingest.KnownOperators(
        staff={p.staff_no for p in world.people if p.position != "partner"},
        partners=set(world.partners),
        partner_users={p.staff_no for p in world.people if p.position == "partner"},
    )
    root = work / "alerts-history" / "history"
    t1 = time.monotonic()
    with store.use_root(root):
        pipe = ingest.Pipeline(known, root)
        try:
            errors: list[str] = []
            srcs = [pipe.check(p, errors) for p in sorted((work / "logs").glob("access-*.csv"))]
            if errors:
                raise SystemExit(f"simulated logs rejected: {errors[:3]}")
            for src in srcs:
                pipe.write(src, src.name.removeprefix("access-").removesuffix(".csv"))
            pipe.commit()
        except BaseException:
            pipe.discard()
            raise
        t2 = time.monotonic()
        found, active = signals.compute(world=world)
    t3 = time.monotonic()
    m = simulate.measure(truth, [a.as_json() for a in found], active)
    by_style: dict[str, list[int]] = {}
    missed = {x["staff_no"] for x in m["missed"]}
    for i in truth["insiders"]:
        s = by_style.setdefault(i["style"], [0, 0])
        s[0] += i["staff_no"] not in missed
        s[1] += 1
    return {
        "staff": truth["staff"],
        "days": days,
        "reads": truth["rows"],
        "insiders": m["insiders"],
        "insider_recall": round(m["insider_recall"], 4) if m["insider_recall"] is not None else None,
        "recall_by_style": {k: f"{a}/{b}" for k, (a, b) in sorted(by_style.items())},
        "alerts": m["alerts"],
        "false_alerts": m["false_alerts"],
        "active_staff_days": active,
        "alert_rate": round(m["alert_rate"], 5),
        "simulate_seconds": round(t_sim, 1),
        "ingest_seconds": round(t2 - t1, 1),
        "signals_seconds": round(t3 - t2, 1),
    }


def write_logs(folder: Path, rows: int, days: int = 90, staff: int = 10_000) -> list[Path]:
    """``rows`` reads over ``days`` days as one access-log CSV per day, written by DuckDB."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    per = max(1, rows // days)
    files = []
    try:
        for d in range(days):
            n = per if d < days - 1 else rows - per * (days - 1)
            if n <= 0:
                break
            day = dt.date(2026, 1, 5) + dt.timedelta(days=d)
            path = folder / f"access-{day.isoformat()}.csv"
            con.execute(
                f"""COPY (
                SELECT strftime(TIMESTAMP '{day} 07:00:00' + to_microseconds(i * 50400000000 // {n}), '%Y-%m-%d %H:%M:%S') AS "at",
                  ['core', 'cs', 'sales_app', 'partner_portal'][1 + i % 4] AS system,
                  'A' || lpad((hash(i, {d}) % {staff})::VARCHAR, 7, '0') AS staff_no, '' AS partner_code,
                  CASE WHEN i % 10 = 0 THEN 'search' ELSE 'view' END AS action,
                  'P' || lpad((hash(i, {d}, 1) % 5000000)::VARCHAR, 10, '0') AS policy_no,
                  CASE WHEN i % 10 = 0 THEN '13' || lpad((hash(i, 2) % 1000000000)::VARCHAR, 9, '0') ELSE '' END AS query,
                  1 AS "rows", '10.0.' || (i % 250)::VARCHAR || '.7' AS terminal
                FROM range({n}) t(i)) TO '{path}' (HEADER, DELIMITER ',')"""
            )
            files.append(path)
    finally:
        con.close()
    return files


def ingest_figures(rows: int, work: Path, out) -> dict:
    from custos.watch import ingest, store

    t0 = time.monotonic()
    files = write_logs(work / "ingest-logs", rows)
    gen = time.monotonic() - t0
    size = sum(f.stat().st_size for f in files)
    out.write(
        f"wrote {rows:,} rows in {len(files)} CSV files ({size / 1e9:.1f} GB) in {gen:.0f} s; ingesting"
    )
    root = work / "ingest-history" / "history"
    known = ingest.KnownOperators(staff={f"A{i:07d}" for i in range(10_000)})
    load0 = _load()
    t1, c1 = time.monotonic(), _cpu()
    with store.use_root(root):
        pipe = ingest.Pipeline(known, root)
        try:
            errors: list[str] = []
            srcs = []
            for f in files:
                ingest.digest(f)  # as `ingest` does (the registry's key)
                srcs.append(pipe.check(f, errors))
            if errors:
                raise SystemExit(f"generated logs rejected: {errors[:3]}")
            added = sum(pipe.write(s, s.name[7:17]) for s in srcs)
            pipe.commit()
        except BaseException:
            pipe.discard()
            raise
    wall, cpu = time.monotonic() - t1, _cpu() - c1
    stored = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    return {
        "ingest_rows": rows,
        "ingest_added": added,
        "ingest_seconds": round(wall, 1),
        "ingest_cpu_seconds": round(cpu, 1),
        "ingest_rows_per_s": int(rows / wall) if wall else None,
        "ingest_rows_per_cpu_s": int(rows / cpu) if cpu else None,
        "ingest_csv_gb": round(size / 1e9, 2),
        "ingest_history_gb": round(stored / 1e9, 2),
        "ingest_load_before": load0,
        "ingest_load_after": _load(),
    }


def trace_figures(scenarios: int, seed: int, history_rows: int) -> dict:
    try:
        from custos.watch.tracing.bench import run_scenarios
    except ImportError:
        return {
            "scenarios": None,
            "top1": None,
            "top3": None,
            "trace_seconds": None,
            "trace": "not installed",
        }
    return run_scenarios(scenarios, seed, history_rows)


@register("watch")
class WatchBench:
    help = "unusual-access alerts (recall, alert rate), ingest rate and leak tracing on simulations"

    def add_arguments(self, parser):
        parser.add_argument("--staff", type=int, default=10_000)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--scenarios", type=int, default=100, help="leak-tracing scenarios (0: skip)")
        parser.add_argument(
            "--trace-history-rows", type=int, default=100_000_000, help="reads in the tracing history"
        )
        parser.add_argument(
            "--ingest-rows", type=int, default=100_000_000, help="rows for the ingest rate (0: skip)"
        )
        parser.add_argument("--skip-alerts", action="store_true", help="only ingest and tracing")
        parser.add_argument("--work", type=Path, help="a scratch directory (default: a temporary one)")

    def run(self, options: dict, out) -> dict:
        work = options["work"] or Path(tempfile.mkdtemp(prefix="custos-bench-watch-"))
        work.mkdir(parents=True, exist_ok=True)
        fig: dict = {
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
            "cpus": os.cpu_count(),
            "load_average": _load(),
            "seed": options["seed"],
        }
        try:
            if not options["skip_alerts"]:
                fig.update(alerts_figures(options["staff"], options["days"], options["seed"], work, out))
                out.write(
                    f"alerts: recall {fig['insider_recall']} ({fig['recall_by_style']}), "
                    f"alert rate {fig['alert_rate']:.4%} of {fig['active_staff_days']:,} active staff-days"
                )
            if options["ingest_rows"]:
                fig.update(ingest_figures(options["ingest_rows"], work, out))
                out.write(
                    f"ingest: {fig['ingest_rows']:,} rows in {fig['ingest_seconds']} s = "
                    f"{fig['ingest_rows_per_s']:,} rows/s ({fig['ingest_cpu_seconds']} CPU s)"
                )
            if options["scenarios"]:
                tr = trace_figures(options["scenarios"], options["seed"], options["trace_history_rows"])
                fig.update({k: tr.get(k) for k in ("scenarios", "top1", "top3", "trace_seconds")})
                fig["trace"] = tr  # the tracing benchmark's own figures (its world, by style)
                out.write(f"tracing: {tr}")
            else:
                fig.update({"scenarios": None, "top1": None, "top3": None, "trace_seconds": None})
        finally:
            if not options["work"]:
                shutil.rmtree(work, ignore_errors=True)
        fig.setdefault("insider_recall", None)
        fig.setdefault("alert_rate", None)
        fig.setdefault("ingest_rows_per_s", None)
        return fig
