"""`custos bench tasks --parties N [--defective 0.04] [--page-tasks 10000] [--json OUT]`: remediation.

1. Task sync after a check run of N parties (N/2 policies, applicant and insured) of which a share is
   defective: every defective party gets 1–3 open findings, as a check run leaves them; then
   `sync_tasks` creates one task per defective party, links the findings and assigns the tasks by the
   rules (800 partner contacts, 4,500 of the 5,000 agents, a channel manager per channel for the orphans). Measured: the first sync,
   a second sync with nothing to do, and the sync after the next book closed a quarter of the
   findings. Target (issue 4): first sync ≤ 60 s at N = 1,000,000.
2. The "my tasks" page of a real user with `--page-tasks` open tasks: an agent whose portfolio holds
   those tasks' policies (scope through the access service, as in production), rendered through
   Django's full request stack (test client: session, auth, middleware, template) 20 times; the
   median is the figure. Target: ≤ 300 ms at 10,000 open tasks.

Runs in a throwaway database (Django's test database of the configured backend, created and
destroyed here; on SQLite a file in CUSTOS_HOME with the production pragmas, not in memory). CPU seconds are this process's, plus, on PostgreSQL, the server backend's (read
from /proc), since the shared machine's wall-clock figures are distorted by others' work."""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from pathlib import Path

from custos.bench import register

CHANNELS = ["agency", "bancassurance", "telemarketing", "online", "group"]
CODES = [("PH03", "mobile"), ("AD03", "address"), ("NM02", "name"), ("ID03", "id_no"), ("PH01", "mobile")]


def _policy(i: int) -> dict:
    channel = CHANNELS[i % 5]
    return {
        "policy_no": f"P{i:09d}",
        "channel": channel,
        "branch_code": f"B{i % 40:02d}",
        "agent_no": f"A{i % 5000:05d}",
        "partner_code": f"K{i % 800:04d}" if channel == "bancassurance" else "",
    }


class _Cpu:
    """CPU seconds of this process and (PostgreSQL) of the database backend serving it."""

    def __init__(self):
        from django.db import connection

        self.backend = None
        if connection.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("SELECT pg_backend_pid()")
                self.backend = Path(f"/proc/{c.fetchone()[0]}/stat")
            if not self.backend.exists():  # the server is on another machine
                self.backend = None
        self.tick = os.sysconf("SC_CLK_TCK")

    def server(self) -> float:
        if self.backend is None:
            return 0.0
        fields = self.backend.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime

    def mark(self) -> tuple[float, float, float]:
        return time.monotonic(), time.process_time(), self.server()

    def since(self, mark) -> dict:
        wall, cpu, server = self.mark()
        out = {"wall_seconds": round(wall - mark[0], 3), "cpu_seconds_custos": round(cpu - mark[1], 3)}
        if self.backend is not None:
            out["cpu_seconds_postgres_backend"] = round(server - mark[2], 3)
        return out


@register("tasks")
class TasksBench:
    help = "remediation: task sync for N parties (4 % defective) and the my-tasks page with 10,000 tasks"

    def add_arguments(self, parser):
        parser.add_argument("--parties", type=int, default=1_000_000)
        parser.add_argument("--defective", type=float, default=0.04)
        parser.add_argument("--page-tasks", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=1)

    def run(self, options: dict, out) -> dict:
        from django.db import connection
        from django.test.utils import setup_test_environment

        from custos.crypto import keyring

        with keyring.editing() as data:  # sealed columns (book rows, contacts) need the data keys
            keyring.ensure_data_keys(data)  # as `custos init` does; nothing changes when they exist
        setup_test_environment()
        old_name = connection.settings_dict["NAME"]
        if (
            connection.vendor == "sqlite"
        ):  # a file with the production pragmas (WAL), not Django's in-memory test db
            from custos import paths

            connection.settings_dict.setdefault("TEST", {})["NAME"] = str(
                paths.home() / "bench-tasks.sqlite3"
            )
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        try:
            return self._run(options, out)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _run(self, options: dict, out) -> dict:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.utils import timezone

        from custos.access.models import Profile
        from custos.book.models import BookLoad, Policy
        from custos.checks.models import CheckRun, Finding
        from custos.remediation import services as svc

        cpu = _Cpu()
        rng = random.Random(options["seed"])
        n, share = options["parties"], options["defective"]
        defective = int(n * share)
        out.write(f"preparing {n:,} parties ({n // 2:,} policies), {defective:,} defective …\n")
        mark = cpu.mark()
        load = BookLoad.objects.create(source_name="bench", sha256="0" * 64, status="done")
        run = CheckRun.objects.create(load=load, status="running")
        now = timezone.now()
        batch = []
        for i in range(n // 2):
            batch.append(Policy(**_policy(i), status="in_force", first_load=load, last_load=load))
            if len(batch) >= 10_000:
                Policy.objects.bulk_create(batch)
                batch = []
        Policy.objects.bulk_create(batch)
        batch = []
        for party in rng.sample(range(n // 2 * 2), defective):
            pol = _policy(party // 2)
            for code, field in rng.sample(CODES, rng.choice((1, 1, 2, 3))):
                batch.append(
                    Finding(
                        check_code=code,
                        policy_no=pol["policy_no"],
                        role="applicant" if party % 2 else "insured",
                        seq=1,
                        field=field,
                        category="false",
                        severity="high",
                        value="x",
                        opened_run=run,
                        last_seen_run=run,
                        opened_at=now,
                        channel=pol["channel"],
                        branch_code=pol["branch_code"],
                        agent_no=pol["agent_no"],
                        partner_code=pol["partner_code"],
                    )
                )
            if len(batch) >= 10_000:
                Finding.objects.bulk_create(batch)
                batch = []
        Finding.objects.bulk_create(batch)
        findings = Finding.objects.count()
        CheckRun.objects.filter(pk=run.pk).update(status="done")
        User = get_user_model()  # noqa: N806
        people = [("partner_staff", {"partner_code": f"K{k:04d}"}) for k in range(800)]
        # 4,500 of the 5,000 agents have a user: the others' policies are orphans → channel managers
        people += [("agent", {"staff_no": f"A{a:05d}"}) for a in range(4500)]
        people += [("channel_manager", {"channel": ch}) for ch in CHANNELS]
        users = User.objects.bulk_create([User(username=f"bench{i}") for i in range(len(people))])
        Profile.objects.bulk_create(
            [Profile(user=u, role=role, **kw) for u, (role, kw) in zip(users, people, strict=True)]
        )
        prepare = cpu.since(mark)

        load_before = os.getloadavg()
        mark = cpu.mark()
        first = svc.sync_tasks(run)
        sync = cpu.since(mark)
        inv = svc.invariants()
        mark = cpu.mark()
        again = svc.sync_tasks(run)
        resync = cpu.since(mark)
        # the next book: a quarter of the findings pass
        run2 = CheckRun.objects.create(load=load, status="running")
        ids = list(Finding.objects.order_by("id").values_list("id", flat=True)[: findings // 4])
        for k in range(0, len(ids), 10_000):
            Finding.objects.filter(pk__in=ids[k : k + 10_000]).update(
                status="closed", closed_run=run2, closed_at=now
            )
        CheckRun.objects.filter(pk=run2.pk).update(status="done")
        mark = cpu.mark()
        third = svc.sync_tasks(run2)
        after_close = cpu.since(mark)
        inv_after = svc.invariants()

        page = self._page(options["page_tasks"], load, cpu, out)
        figures = {
            "when_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
            "machine": f"{os.uname().nodename}, {os.cpu_count()} cores (shared)",
            "database": connection.vendor + (" (file, WAL)" if connection.vendor == "sqlite" else ""),
            "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()],
            "parties": n,
            "policies": n // 2,
            "defective_parties": defective,
            "open_findings": findings,
            "prepare_book_and_findings": prepare,
            "first_sync": {
                **sync,
                "target_wall_seconds": 60,
                "tasks_created": first.created,
                "findings_linked": first.linked,
                "tasks_assigned": first.assigned,
                "seconds_per_step": first.steps,
            },
            "second_sync_nothing_to_do": {**resync, "tasks_created": again.created},
            "sync_after_next_book_closed_a_quarter_of_findings": {
                **after_close,
                "findings_closed": len(ids),
                "tasks_closed": third.closed,
                "seconds_per_step": third.steps,
            },
            "invariants_after_first_sync": inv,
            "invariants_after_next_book": inv_after,
            "my_tasks_page": page,
        }
        self._print(figures, out)
        return figures

    def _page(self, k: int, load, cpu: _Cpu, out) -> dict:
        """An agent with k open tasks in scope and assigned to them; GET /remediation/ 20 times."""
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from custos.access.models import Profile
        from custos.book.models import Policy
        from custos.remediation.models import Task

        viewer = get_user_model().objects.create(username="bench-viewer")
        Profile.objects.create(user=viewer, role="agent", staff_no="A99999")
        open_tasks = list(
            Task.objects.exclude(status="closed").order_by("id").values_list("id", "policy_no")[:k]
        )
        ids, policies = [t for t, _ in open_tasks], sorted({p for _, p in open_tasks})
        for i in range(0, len(policies), 10_000):
            chunk = policies[i : i + 10_000]
            Policy.objects.filter(policy_no__in=chunk).update(agent_no="A99999", partner_code="")
            Task.objects.filter(policy_no__in=chunk).update(agent_no="A99999", partner_code="")
        for i in range(0, len(ids), 10_000):
            Task.objects.filter(pk__in=ids[i : i + 10_000]).update(assignee=viewer, assign_rule="agent")
        client = Client()
        client.force_login(viewer)
        with CaptureQueriesContext(connection) as queries:
            r = client.get("/remediation/")
        n_queries = len(queries)  # now: the next request resets the connection's query log
        assert r.status_code == 200, r.status_code
        shown = r.content.decode().count('href="/remediation/tasks/')
        times, cpus = [], []
        for _ in range(20):
            mark = cpu.mark()
            r = client.get("/remediation/")
            s = cpu.since(mark)
            times.append(s["wall_seconds"])
            cpus.append(s["cpu_seconds_custos"] + s.get("cpu_seconds_postgres_backend", 0))
        assert r.status_code == 200
        return {
            "open_tasks_of_viewer": len(ids),
            "rows_on_first_page": shown,
            "queries_per_request": n_queries,
            "requests": len(times),
            "median_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "median_cpu_ms_custos_plus_db": round(statistics.median(cpus) * 1000, 1),
            "target_ms": 300,
        }

    def _print(self, figures: dict, out, indent: str = "") -> None:
        for key, value in figures.items():
            if isinstance(value, dict) and key != "invariants_after_first_sync":
                out.write(f"{indent}{key}:\n")
                self._print(value, out, indent + "  ")
            else:
                out.write(f"{indent}{key:44} {value}\n")
