"""`custos bench api --seconds 60 --json OUT`: masked customer look-ups through the API (gunicorn,
4 sync workers by default) driven by wrk, then `custos audit verify` over the whole log.

Against the database of CUSTOS_DATABASE_URL (a loaded book, e.g. the 1 M-policy synthetic book on
PostgreSQL), it creates a compliance user `bench-api` with an API token (revoked at the end), picks
policy numbers and ID numbers that exist, and has wrk POST /api/v1/customers/lookup in turn by policy
number and by ID number (a Lua script rotating through them, so requests differ). Then it counts the
audit entries the run appended (action "api" by bench-api, between the entry sequence numbers before
and after) and compares them with the successful look-ups: every 2xx and every 404 (an empty,
audited read) must have exactly one entry.

`verify_entries_per_s` is `custos audit verify` over the whole log (after signing a checkpoint);
with `--pad-audit N` the log is first filled up to N entries with synthetic "bench" entries (hashed
and appended like any other) so that the rate is taken over a log of a realistic size.

Only the bench user, its token and audit entries are written; the book is read only.
"""

from __future__ import annotations

import os
import platform
import resource
import time

from custos.bench import register


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pad_audit_log(target: int, batch: int = 50_000) -> int:
    """Append synthetic entries (action "bench") until the log holds `target` entries; returns how many
    were added. Hashed exactly as `audit.service.append` hashes, under the same lock, in bulk."""
    from django.db import connection, transaction

    from custos.audit import service
    from custos.audit.models import AuditEntry
    from custos.domain import merkle

    added = 0
    table = AuditEntry._meta.db_table
    cols = [c.strip() for c in service._COLUMNS.split(",")] + ["leaf_hash"]
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [service._ADVISORY_LOCK])
            last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
            start = service.archived_size() if last is None else last + 1
            n = min(batch, target - start)
            if n <= 0:
                return added
            at = time.time_ns() // 1000
            rows = []
            for seq in range(start, start + n):
                values = (
                    seq,
                    at,
                    "bench",
                    "",
                    "bench",
                    "party",
                    f"[{seq % 1_000_003}]",
                    '["id_no","mobile","name"]',
                    "audit verify benchmark",
                    "127.0.0.1",
                    "ok",
                )
                rows.append((*values, merkle.leaf_hash(service.entry_bytes(*values))))
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    with cur.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            else:
                with connection.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                        rows,
                    )
            added += n


def _sample(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Up to n policy numbers and n ID numbers that exist in the book (ID numbers read through the
    model, so decrypted where the column is encrypted)."""
    import random

    from custos.book.models import Party, Policy

    total = Policy.objects.count()
    if total == 0:
        raise SystemExit("the database holds no book: load one first (custos load / custos bench load)")
    rng = random.Random(seed)
    ids = Policy.objects.order_by("pk").values_list("pk", flat=True)
    lo, hi = ids.first(), ids.last()
    picks = sorted({rng.randint(lo, hi) for _ in range(n * 2)})
    policies = list(Policy.objects.filter(pk__in=picks).values_list("policy_no", flat=True)[:n])
    id_nos = [
        x
        for x in Party.objects.filter(policy_no__in=policies, role="applicant").values_list(
            "id_no", flat=True
        )
        if x
    ][:n]
    return policies, id_nos


def _backend_cpu() -> float | None:
    """CPU seconds of this connection's PostgreSQL backend process (same machine), else None."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    import psutil

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        t = psutil.Process(pid).cpu_times()
    except (psutil.Error, OSError):
        return None
    return t.user + t.system


def _database_backends_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL backend connected to this database (the server's workers keep
    theirs: CONN_MAX_AGE), by pid; empty elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    import psutil

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [r[0] for r in cur.fetchall()]
    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except (psutil.Error, OSError):
            continue
        out[pid] = t.user + t.system
    return out


class BackendSampler:
    """CPU seconds of this database's PostgreSQL backends over a run, sampled every `every` seconds in
    a thread: backends that come and go (Django reconnects after CONN_MAX_AGE) are counted from their
    first sample to their last (up to `every` seconds of each may be missed)."""

    def __init__(self, every: float = 0.5):
        import threading

        self.every, self.first, self.last = every, {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.is_set():
                for pid, cpu in _database_backends_cpu().items():
                    self.first.setdefault(pid, cpu)
                    self.last[pid] = cpu
                self._stop.wait(self.every)
        finally:
            connection.close()

    def __enter__(self):
        for pid, cpu in _database_backends_cpu().items():
            self.first[pid] = self.last[pid] = cpu
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def measure_verify() -> dict:
    """`custos audit verify` as the command runs it (checkpoint, then verify), timed."""
    from custos.audit import service

    service.checkpoint()
    db0, cpu0, t0 = _backend_cpu(), _cpu_self(), time.perf_counter()
    result = service.verify()
    wall = time.perf_counter() - t0
    cpu, db1 = _cpu_self() - cpu0, _backend_cpu()
    return {
        "verify_entries": result.entries,
        "verify_checkpoints": result.checkpoints,
        "verify_ok": result.ok,
        "verify_problems": result.problems[:5],
        "verify_s": round(wall, 3),
        "verify_entries_per_s": round(result.entries / wall) if wall else 0,
        "verify_cpu_s": round(cpu, 2),
        "verify_db_cpu_s": None if db0 is None or db1 is None else round(db1 - db0, 2),
    }


@register("api")
class ApiBench:
    needs_database = True  # reads the book of CUSTOS_DATABASE_URL (custos bench checks the schema first)

    help = "masked customer look-ups through the API under wrk (gunicorn), audit completeness, verify speed"

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
        parser.add_argument("--connections", type=int, default=8, help="wrk connections")
        parser.add_argument("--wrk-threads", type=int, default=2)
        parser.add_argument("--sample", type=int, default=2000, help="distinct policies / ID numbers asked")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--pad-audit",
            type=int,
            default=0,
            help="before measuring verify, append synthetic entries until the log holds this many",
        )
        parser.add_argument(
            "--by",
            default="policy_no,id_no",
            help="look up by policy_no, id_no or both in turn (id_no needs the blind index to be fast)",
        )
        parser.add_argument("--skip-verify", action="store_true")

    def run(self, options: dict, out) -> dict:
        import json

        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import connection

        from custos.access.models import Profile, Role
        from custos.api.models import ApiToken
        from custos.audit.models import AuditEntry
        from custos.bench.http import Request, gunicorn_server, run_wrk

        policies, id_nos = _sample(options["sample"], options["seed"])
        by = {x.strip() for x in options["by"].split(",") if x.strip()}
        if not by or by - {"policy_no", "id_no"}:
            raise SystemExit("--by takes policy_no, id_no or both (comma-separated)")
        policies = policies if "policy_no" in by else []
        id_nos = id_nos if "id_no" in by else []
        out.write(f"asking for {len(policies)} policies and {len(id_nos)} ID numbers in turn")
        user, _ = get_user_model().objects.get_or_create(username="bench-api", defaults={"is_active": True})
        Profile.objects.update_or_create(user=user, defaults={"role": Role.COMPLIANCE, "staff_no": "BENCH"})
        token, secret = ApiToken.issue(user, "custos bench api")
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        reqs = []
        for i in range(max(len(policies), len(id_nos))):
            if i < len(policies):
                reqs.append(
                    Request(
                        "/api/v1/customers/lookup", "POST", json.dumps({"policy_no": policies[i]}), headers
                    )
                )
            if i < len(id_nos):
                reqs.append(
                    Request("/api/v1/customers/lookup", "POST", json.dumps({"id_no": id_nos[i]}), headers)
                )

        def last_seq() -> int:
            return AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or -1

        env = {
            "CUSTOS_DATABASE_URL": os.environ.get("CUSTOS_DATABASE_URL", ""),
            "CUSTOS_HOME": str(settings.HOME),
        }
        env = {k: v for k, v in env.items() if v}
        load0 = os.getloadavg()
        try:
            with gunicorn_server(workers=options["workers"], env=env) as srv:
                # warm every worker (imports, connections, key cache) before measuring
                run_wrk(srv.url, reqs[:50], seconds=2, connections=options["connections"], threads=1)
                time.sleep(1.0)  # requests still in flight when wrk stopped are answered (and audited)
                seq0 = last_seq()
                cpu_srv0 = srv.cpu_seconds()
                with BackendSampler() as db_cpu:
                    figures = run_wrk(
                        srv.url,
                        reqs,
                        seconds=options["seconds"],
                        connections=options["connections"],
                        threads=options["wrk_threads"],
                    )
                server_cpu = srv.cpu_seconds() - cpu_srv0
            # the server has stopped: every request it took is either answered or abandoned
            seq1 = last_seq()
        finally:
            ApiToken.objects.filter(pk=token.pk).update(revoked=True)
        load1 = os.getloadavg()
        run = AuditEntry.objects.filter(seq__gt=seq0, seq__lte=seq1, username="bench-api", action="api")
        audit_entries = run.count()
        audit_ok = run.filter(outcome="ok").count()
        wrk_output = figures.pop("wrk_output")
        result = {
            "benchmark": "api",
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
            "database": connection.vendor,
            "workers": options["workers"],
            "lookups_by": sorted(by),
            "seconds": options["seconds"],
            **figures,
            "lookups_ok": figures["ok"],
            "audit_entries": audit_entries,
            "audit_entries_ok": audit_ok,
            # a 2xx without its audit entry would be an unaudited read (must be 0); entries beyond the
            # 2xx counted are requests the server finished after wrk stopped counting (≤ connections)
            "unaudited_reads": max(0, figures["ok"] - audit_ok),
            "audited_after_wrk_stopped": audit_entries - figures["ok"],
            "server_cpu_s": round(server_cpu, 2),
            # the PostgreSQL backends of this database, sampled (None on SQLite)
            "db_cpu_s": round(db_cpu.seconds, 2) if connection.vendor == "postgresql" else None,
            "server_cpu_ms_per_request": round(1000 * server_cpu / figures["requests"], 2)
            if figures["requests"]
            else None,
            "loadavg_before": [round(x, 2) for x in load0],
            "loadavg_after": [round(x, 2) for x in load1],
        }
        out.write(wrk_output)
        out.write(
            f"{result['rps']:,.0f} requests/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
            f"{result['requests']:,} requests ({result['non_2xx']} non-2xx, {result['errors']} errors); "
            f"{audit_entries:,} audit entries, {result['unaudited_reads']} unaudited reads; "
            f"CPU: gunicorn {server_cpu:.1f} s, database {result['db_cpu_s']} s; load {load0[0]:.2f} -> {load1[0]:.2f}"
        )
        if not options["skip_verify"]:
            if options["pad_audit"]:
                t0 = time.perf_counter()
                added = pad_audit_log(options["pad_audit"])
                result["audit_padded"] = added
                out.write(f"padded the audit log with {added:,} entries in {time.perf_counter() - t0:.1f} s")
            v = measure_verify()
            result.update(v)
            out.write(
                f"audit verify: {v['verify_entries']:,} entries in {v['verify_s']:.2f} s "
                f"({v['verify_entries_per_s']:,} entries/s; CPU {v['verify_cpu_s']} s here, "
                f"{v['verify_db_cpu_s']} s in the database) {'OK' if v['verify_ok'] else 'FAILED'}"
            )
        result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        return result
