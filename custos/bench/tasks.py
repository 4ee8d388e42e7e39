"""`custos bench tasks --parties N [--defective 0.04] [--json OUT]`: remediation task sync after a check
run of N parties of which a share is defective, and the "my tasks" page with 10,000 open tasks.

Runs in a throwaway test database (Django's test database of the configured backend, created and
destroyed here). Findings are synthesised directly (1–3 per defective party, as a check run would
leave them), since the sync reads only findings: the book's party rows are not needed."""

from __future__ import annotations

import datetime as dt
import os
import random
import time

from custos.bench import register


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

        setup_test_environment()
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        try:
            return self._run(options, out)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _run(self, options: dict, out) -> dict:
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.utils import timezone

        from custos.access.models import Profile
        from custos.book.models import BookLoad
        from custos.checks.models import CheckRun, Finding
        from custos.remediation import services as svc
        from custos.remediation.models import Task

        rng = random.Random(options["seed"])
        n, share = options["parties"], options["defective"]
        defective = int(n * share)
        load = BookLoad.objects.create(source_name="bench", sha256="0" * 64, status="done")
        run = CheckRun.objects.create(load=load, status="running")
        now = timezone.now()
        codes = [("PH03", "mobile", "false"), ("AD03", "address", "false"), ("NM02", "name", "false"),
                 ("ID03", "id_no", "false"), ("PH01", "mobile", "missing")]  # fmt: skip
        channels = ["agency", "bancassurance", "telemarketing", "online", "group"]
        t0 = time.monotonic()
        batch = []
        for party in rng.sample(range(n), defective):
            ch = channels[party % 5]
            for code, field, cat in rng.sample(codes, rng.choice((1, 1, 2, 3))):
                batch.append(Finding(
                    check_code=code, policy_no=f"P{party // 2:09d}", role="applicant" if party % 2 else "insured",
                    seq=1, field=field, category=cat, severity="high", value="x", opened_run=run, last_seen_run=run,
                    opened_at=now, channel=ch, branch_code=f"B{party % 40:02d}", agent_no=f"A{party % 5000:05d}",
                    partner_code=f"K{party % 800:04d}" if ch == "bancassurance" else "",
                ))  # fmt: skip
            if len(batch) >= 20000:
                Finding.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        Finding.objects.bulk_create(batch, ignore_conflicts=True)
        findings = Finding.objects.count()
        write_s = time.monotonic() - t0
        CheckRun.objects.filter(pk=run.pk).update(status="done")
        User = get_user_model()  # noqa: N806
        for k in range(800):  # partner contacts and agents, so that assignment has work to do
            Profile.objects.create(user=User.objects.create(username=f"k{k}"), role="partner_staff",
                                   partner_code=f"K{k:04d}")  # fmt: skip
        for a in range(5000):
            Profile.objects.create(
                user=User.objects.create(username=f"a{a}"), role="agent", staff_no=f"A{a:05d}"
            )
        load_avg = os.getloadavg()
        t0 = time.monotonic()
        first = svc.sync_tasks(run)
        sync_s = time.monotonic() - t0
        inv = svc.invariants()
        t0 = time.monotonic()
        svc.sync_tasks(run)
        resync_s = time.monotonic() - t0
        # next book: a quarter of the findings pass
        run2 = CheckRun.objects.create(load=load, status="running")
        ids = list(Finding.objects.values_list("id", flat=True)[: findings // 4])
        Finding.objects.filter(pk__in=ids).update(status="closed", closed_run=run2, closed_at=now)
        t0 = time.monotonic()
        third = svc.sync_tasks(run2)
        close_s = time.monotonic() - t0

        # the "my tasks" page with page_tasks open tasks
        viewer = User.objects.create(username="viewer")
        Profile.objects.create(user=viewer, role="auditor")  # whole book, no second factor
        open_ids = list(
            Task.objects.exclude(status="closed").values_list("id", flat=True)[: options["page_tasks"]]
        )
        Task.objects.filter(pk__in=open_ids).update(assignee=viewer)
        from custos.book.models import Policy

        Policy.objects.bulk_create(
            [Policy(policy_no=p, channel="agency", branch_code="B00", status="in_force", first_load=load, last_load=load)
             for p in set(Task.objects.filter(pk__in=open_ids).values_list("policy_no", flat=True))],
            batch_size=5000,
        )  # fmt: skip
        c = Client()
        c.force_login(viewer)
        c.get("/remediation/")  # warm
        times = []
        for _ in range(5):
            t0 = time.monotonic()
            r = c.get("/remediation/")
            times.append(time.monotonic() - t0)
        assert r.status_code == 200, r.status_code
        figures = {
            "date": dt.date.today().isoformat(),
            "backend": __import__("django.db", fromlist=["connection"]).connection.vendor,
            "parties": n, "defective_parties": defective, "findings": findings,
            "tasks_created": first.created, "findings_linked": first.linked, "sync_seconds": round(sync_s, 2),
            "resync_seconds": round(resync_s, 2), "closed_by_next_book": third.closed,
            "sync_after_close_seconds": round(close_s, 2), "invariants": inv,
            "my_tasks_open": len(open_ids), "my_tasks_page_ms_median": round(sorted(times)[2] * 1000, 1),
            "write_findings_seconds": round(write_s, 1), "load_average": [round(x, 2) for x in load_avg],
        }  # fmt: skip
        for k, v in figures.items():
            out.write(f"{k:28} {v}\n")
        return figures
