"""`custos bench commission --policies N [--database sqlite|postgres] [--month YYYY-MM] [--json OUT]`.

One settlement run over a book of N policies with about 5 N commission items and open findings at
the synthetic book's rate (4.02 % of policies untrue, 0.6 % suspicious), then a second run of the
same month (it must write nothing), then `reconcile`. Target (issue 19): 1 M policies / ~5 M items
≤ 60 s on 2 cores, peak RSS ≤ 4 GB, on SQLite and PostgreSQL.

The fixture is written with set-based INSERT … SELECT (a series of N policy numbers, no Python row
objects): a 1 M-policy book through `custos load` takes most of an hour on this machine, and the
settlement reads only policies, commission items and findings. It is cached: SQLite in
CUSTOS_HOME/bench-commission-<N>/bench.sqlite3, PostgreSQL in the database <name>_bench_commission_<N>
beside the configured one; a later run reuses it and only empties the ledger. The timed part runs
in a forked child, so its peak RSS is the settlement's own, not the fixture builder's.

The fixture (i = 0 … N−1): 60 % bank outlets (800 per million policies), the rest agents (5,000 per
million); issued over the 120 months 2016-01 … 2025-12; 1–9 items per policy (mean 5): first year,
then renewals twelve months apart (wrapping round the 120 months); every item of a month before the
last two is paid."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import shutil
import time
from pathlib import Path

from custos.bench import register

MONTHS = 120  # 2016-01 … 2025-12
FIRST_YEAR = 2016
UNTRUE = 4020  # per 100,000 policies: the synthetic book's 4.02 %
MISSING = 3200  # of which missing (the rest false)
SUSPICIOUS = 600


def _month_sql(p: str, pg: bool) -> str:
    if pg:
        return f"(({FIRST_YEAR} + ({p}) / 12)::text || '-' || lpad((({p}) % 12 + 1)::text, 2, '0'))"
    return f"printf('%04d-%02d', {FIRST_YEAR} + ({p}) / 12, ({p}) % 12 + 1)"


def _date_sql(p: str, day: int, pg: bool) -> str:
    if pg:
        return f"make_date(({FIRST_YEAR} + ({p}) / 12)::int, (({p}) % 12 + 1)::int, {day})"
    return f"printf('%04d-%02d-{day:02d}', {FIRST_YEAR} + ({p}) / 12, ({p}) % 12 + 1)"


def _pad(expr: str, prefix: str, width: int, pg: bool) -> str:
    if pg:
        return f"('{prefix}' || lpad(({expr})::text, {width}, '0'))"
    return f"printf('{prefix}%0{width}d', {expr})"


def _series(n: int, pg: bool, name: str = "s", col: str = "i") -> tuple[str, str]:
    """(WITH prefix, FROM item) of the integers 0 … n−1."""
    if pg:
        return "", f"generate_series(0::bigint, {n - 1}) AS {name}({col})"
    return (
        f"WITH RECURSIVE {name}({col}) AS (SELECT 0 UNION ALL SELECT {col} + 1 FROM {name} WHERE {col} < {n - 1}) ",
        name,
    )


def build_fixture(n: int, out) -> dict:
    """Write the bench book into the current (empty) database; its row counts."""
    from django.db import connection, transaction

    from custos.book.models import BookLoad, CommissionItem, Policy
    from custos.checks.models import CheckRun, Finding

    pg = connection.vendor == "postgresql"
    q = connection.ops.quote_name
    partners, agents = max(1, n // 1250), max(1, n // 200)
    load = BookLoad.objects.create(source_name=f"bench-commission-{n}", sha256="0" * 64, status="done")
    run = CheckRun.objects.create(load=load, status="done")
    L = load.pk  # noqa: N806
    bank = "(s.i % 10) < 6"
    m0 = f"((s.i / 10) % {MONTHS})"
    fen0 = "(1000 + (s.i * 7919) % 500000)"
    partner = _pad(f"s.i % {partners}", "K", 4, pg)
    agent = _pad(f"(s.i * 7) % {agents}", "A", 5, pg)
    yuan = (lambda fen: f"(({fen})::numeric / 100)") if pg else (lambda fen: f"(({fen}) / 100.0)")
    t0 = time.monotonic()
    with transaction.atomic(), connection.cursor() as cur:
        with_, from_ = _series(n, pg)
        cur.execute(
            f"""{with_}INSERT INTO {q(Policy._meta.db_table)} (first_load_id, last_load_id, gone_load_id,
                    original, extra, policy_no, product_code, product_name, channel, branch_code,
                    agent_no, partner_code, applied_on, issued_on, status, term_years, premium, commission)
                SELECT {L}, {L}, NULL, NULL, NULL, {_pad("s.i", "P", 9, pg)}, 'BX101', '',
                       CASE WHEN {bank} THEN 'bancassurance' ELSE 'agency' END, 'B01', {agent},
                       CASE WHEN {bank} THEN {partner} ELSE '' END, {_date_sql(m0, 1, pg)},
                       {_date_sql(m0, 15, pg)}, 'in_force', 10, {yuan(fen0 + " * 10")}, {yuan(fen0)}
                FROM {from_}"""
        )
        out.write(f"  policies: {time.monotonic() - t0:.1f} s\n")
        # items: 1 + (4 i mod 9) per policy, the j-th twelve months after the (j−1)-th
        if pg:
            with_, from_ = (
                "",
                f"generate_series(0::bigint, {n - 1}) AS s(i) CROSS JOIN generate_series(0, 8) AS js(j)",
            )
        else:
            with_ = (
                f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}), "
                "js(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM js WHERE j < 8) "
            )
            from_ = "s CROSS JOIN js"
        p = f"(({m0} + 12 * js.j) % {MONTHS})"
        pct = "CASE js.j WHEN 0 THEN 100 WHEN 1 THEN 30 WHEN 2 THEN 20 ELSE 10 END"
        cur.execute(
            f"""{with_}INSERT INTO {q(CommissionItem._meta.db_table)} (first_load_id, last_load_id,
                    gone_load_id, original, extra, item_no, policy_no, payee_kind, payee, kind, period,
                    amount, paid_on, derived)
                SELECT {L}, {L}, NULL, NULL, NULL, {_pad("s.i", "P", 9, pg)} || '-' || js.j,
                       {_pad("s.i", "P", 9, pg)},
                       CASE WHEN {bank} THEN 'partner' ELSE 'agent' END,
                       CASE WHEN {bank} THEN {partner} ELSE {agent} END,
                       CASE WHEN js.j = 0 THEN 'first_year' ELSE 'renewal' END, {_month_sql(p, pg)},
                       {yuan(f"{fen0} * {pct} / 100")},
                       CASE WHEN {p} < {MONTHS - 2} THEN {_date_sql(p + " + 1", 10, pg)} END,
                       {"false" if pg else "0"}
                FROM {from_}
                WHERE js.j < 1 + (s.i * 4) % 9"""
        )
        out.write(f"  items: {time.monotonic() - t0:.1f} s\n")
        h = "((s.i * 2654435761) % 100000)"
        now = "'2025-12-01 00:00:00+00'" if pg else "'2025-12-01 00:00:00'"
        for code, field, category, cond in (
            ("ID01", "id_no", "missing", f"{h} < {MISSING}"),
            ("ID03", "id_no", "false", f"{h} >= {MISSING} AND {h} < {UNTRUE}"),
            ("PH01", "mobile", "missing", f"{h} < {UNTRUE} AND {h} % 3 = 0"),
            ("PH06", "mobile", "suspicious", f"{h} >= {UNTRUE} AND {h} < {UNTRUE + SUSPICIOUS}"),
        ):
            with_, from_ = _series(n, pg)
            cur.execute(
                f"""{with_}INSERT INTO {q(Finding._meta.db_table)} (check_code, policy_no, role, seq,
                        field, category, severity, status, close_reason, value, proposed, detail,
                        opened_run_id, last_seen_run_id, opened_at, settings_fingerprint, channel,
                        branch_code, agent_no, partner_code)
                    SELECT '{code}', {_pad("s.i", "P", 9, pg)}, 'applicant', 1, '{field}', '{category}',
                           'high', 'open', '', '', '', '', {run.pk}, {run.pk}, {now}, '',
                           CASE WHEN {bank} THEN 'bancassurance' ELSE 'agency' END, 'B01', {agent},
                           CASE WHEN {bank} THEN {partner} ELSE '' END
                    FROM {from_} WHERE {cond}"""
            )
        cur.execute("ANALYZE")
    out.write(f"  findings, analyse: {time.monotonic() - t0:.1f} s\n")
    counts = {
        "policies": Policy.objects.count(),
        "commission_items": CommissionItem.objects.count(),
        "open_findings": Finding.objects.filter(status="open").count(),
        "open_holding_findings": Finding.objects.filter(
            status="open", category__in=("missing", "false")
        ).count(),
        "policies_with_holding_findings": Finding.objects.filter(
            status="open", category__in=("missing", "false")
        )
        .values("policy_no")
        .distinct()
        .count(),
    }
    BookLoad.objects.filter(pk=load.pk).update(row_counts=counts)
    return {**counts, "build_seconds": round(time.monotonic() - t0, 1)}


def _empty_ledger() -> None:
    from django.db import connection, transaction

    from custos.commission.models import Entry, ItemState, SettlementRun, Statement

    tables = [
        connection.ops.quote_name(m._meta.db_table) for m in (Entry, ItemState, Statement, SettlementRun)
    ]
    with transaction.atomic(), connection.cursor() as cur:  # benchmark database only
        if connection.vendor == "postgresql":  # no dead rows left behind: the ledger as new
            cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for t in tables:
                cur.execute(f"DELETE FROM {t}")


def _counts() -> dict:
    from custos.commission.models import Entry, ItemState, SettlementRun, Statement

    return {m.__name__: m.objects.count() for m in (SettlementRun, Statement, Entry, ItemState)}


def _measure(month: str, conn) -> None:
    """In the forked child: the settlement, the second run and reconcile; figures to the pipe."""
    from django.db import connection

    from custos.bench.tasks import _Cpu
    from custos.commission import services
    from custos.commission.models import Entry, Statement

    try:
        connection.close()
        cpu = _Cpu()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        load_before = os.getloadavg()
        mark = cpu.mark()
        run = services.settle(month, by="bench")
        first = cpu.since(mark)
        first["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        lines = dict.fromkeys(("due", "hold", "release", "deduct"), 0)
        for kind in lines:
            lines[kind] = Entry.objects.filter(run=run, kind=kind).count()
        sums = {
            f: sum(Statement.objects.filter(run=run).values_list(f, flat=True))
            for f in ("due", "held", "deducted")
        }
        before = _counts()
        mark = cpu.mark()
        again = services.settle(month, by="bench")
        second = {**cpu.since(mark), "wrote": again is not None or _counts() != before}
        mark = cpu.mark()
        problems = services.reconcile()
        rec = {**cpu.since(mark), "problems": len(problems), "first_problems": problems[:5]}
        conn.send(
            {
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "settle": {
                    **first,
                    "run": str(run) if run else None,
                    "statements": before["Statement"],
                    "entries": lines,
                    "fen": sums,
                    "item_states": before["ItemState"],
                },
                "second_run_same_month": second,
                "reconcile": rec,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "rss_at_fork_mb": round(rss0 / 1024),
            }
        )
    except BaseException as exc:  # noqa: BLE001 - reported by the parent as one line
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()
        connection.close()


@register("commission")
class CommissionBench:
    help = "commission: one settlement run over N policies (~5 N items), a second run, reconcile"

    def add_arguments(self, parser):
        parser.add_argument("--policies", type=int, default=1_000_000)
        parser.add_argument("--month", default="2025-12", help="the month settled (default the last)")
        parser.add_argument(
            "--database",
            choices=("sqlite", "postgres"),
            help="sqlite: a file under CUSTOS_HOME; postgres: needs CUSTOS_DATABASE_URL (default: its kind)",
        )
        parser.add_argument("--rebuild", action="store_true", help="build the fixture again")
        parser.add_argument("--discard", action="store_true", help="drop the fixture afterwards")
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="build in the configured database as it is, which must hold no book (tests)",
        )

    def run(self, options: dict, out) -> dict:
        import multiprocessing

        from django.core.management import call_command
        from django.db import connection

        from custos import paths
        from custos.book.models import BookLoad, CommissionItem

        n = options["policies"]
        if n < 10:
            raise SystemExit("--policies must be at least 10")
        cache = paths.home() / f"bench-commission-{n}"
        if not options["in_place"]:
            cache.mkdir(parents=True, exist_ok=True)
        vendor = connection.vendor
        wanted = {"sqlite": "sqlite", "postgres": "postgresql"}.get(options.get("database") or "", vendor)
        if wanted != vendor:
            raise SystemExit(
                f"--database {options['database']}: CUSTOS_DATABASE_URL names a {vendor} database "
                "(set it to a postgres:// URL for PostgreSQL, unset it for SQLite)"
            )
        if options["in_place"]:
            where = connection.settings_dict["NAME"]
            if BookLoad.objects.exists():
                raise SystemExit("--in-place: the database already holds a book")
            options["discard"] = False
        else:
            where = self._switch(cache, n)
        try:
            fixture = None
            if not options["in_place"]:
                call_command("migrate", verbosity=0)
                load = BookLoad.objects.filter(source_name=f"bench-commission-{n}", status="done").first()
                if load is not None and not options["rebuild"] and load.row_counts.get("commission_items"):
                    if CommissionItem.objects.count() == load.row_counts["commission_items"]:
                        fixture = {**load.row_counts, "reused": True}
                if fixture is None:
                    self._wipe(cache, n)
                    call_command("migrate", verbosity=0)
            if fixture is None:
                out.write(f"building the fixture: {n:,} policies in {where} …\n")
                fixture = {**build_fixture(n, out), "reused": False}
            _empty_ledger()
            connection.close()
            ctx = multiprocessing.get_context("fork")
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_measure, args=(options["month"], child))
            proc.start()
            child.close()
            got = parent.recv()
            proc.join()
            if "error" in got:
                raise SystemExit(f"settlement failed: {got['error']}")
        finally:
            if options["discard"]:
                self._wipe(cache, n, drop=True)
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        figures = {
            "benchmark": "commission",
            "when_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
            "machine": f"{os.cpu_count()} cores, {mem / 2**30:.0f} GiB (shared)",
            "python": platform.python_version(),
            "database": vendor,
            "fixture_database": where,
            "month": options["month"],
            "policies": n,
            "fixture": fixture,
            **got,
            "target": {"wall_seconds": 60, "peak_rss_mb": 4096},
        }
        s = got["settle"]
        out.write(
            f"{vendor}: settle {options['month']} over {fixture['commission_items']:,} items: "
            f"{s['wall_seconds']:.2f} s wall, {s['cpu_seconds_custos']:.2f} CPU s"
            + (
                f" + {s['cpu_seconds_postgres_backend']:.2f} s PostgreSQL"
                if "cpu_seconds_postgres_backend" in s
                else ""
            )
            + f", peak RSS {got['peak_rss_mb']} MB; entries {s['entries']}; second run wrote "
            f"{'something' if got['second_run_same_month']['wrote'] else 'nothing'} "
            f"({got['second_run_same_month']['wall_seconds']:.2f} s); reconcile "
            f"{got['reconcile']['wall_seconds']:.2f} s, {got['reconcile']['problems']} problems; "
            f"load average {got['load_average_before'][0]}\n"
        )
        if got["reconcile"]["problems"] or got["second_run_same_month"]["wrote"]:
            raise SystemExit(f"the ledger does not hold: {got['reconcile']['first_problems']}")
        return figures

    def _pg_name(self, n: int) -> str:
        from django.db import connection

        return f"{connection.settings_dict['NAME']}_bench_commission_{n}"

    def _switch(self, cache: Path, n: int) -> str:
        """Point the default connection at the bench database (created when missing)."""
        from django.db import connection

        if connection.vendor == "sqlite":
            name = str(cache / "bench.sqlite3")
        else:
            name = self._pg_name(n)
            with connection.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cur.fetchone() is None:
                    cur.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
        connection.close()
        connection.settings_dict["NAME"] = name
        return name

    def _wipe(self, cache: Path, n: int, drop: bool = False) -> None:
        """Empty the bench database (and with `drop`, remove it)."""
        from django.db import connection

        if connection.vendor == "sqlite":
            connection.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{cache / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
            if drop:
                shutil.rmtree(cache, ignore_errors=True)
            return
        name = connection.settings_dict["NAME"]
        connection.close()
        connection.settings_dict["NAME"] = "postgres"
        with connection.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)} WITH (FORCE)")
            if not drop:
                cur.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
        connection.close()
        connection.settings_dict["NAME"] = name
        if drop:
            shutil.rmtree(cache, ignore_errors=True)
