"""Findings → tasks, set-wise SQL (不重不漏), and assignment of tasks to people."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import can
from custos.checks.models import CheckRun, Finding
from custos.remediation import conf
from custos.remediation.models import (
    Task,
    TaskEvent,
    TaskFinding,
)
from custos.remediation.services.errors import (
    NotAllowed,
)
from custos.remediation.services.states import (
    _LOCK_KEY,
    S,
    scoped_tasks,
)

# --- sync: findings → tasks (set-wise SQL) ---------------------------------------------------------


@dataclass
class SyncCounts:
    run: int | None = None
    created: int = 0
    linked: int = 0
    closed: int = 0
    assigned: int = 0
    open_tasks: int = 0
    open_findings: int = 0
    seconds: float = 0.0
    invariants: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)  # seconds per step: create, link, recount, close, assign


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _tables() -> dict:
    from custos.access.models import Profile
    from custos.book.models import Branch, Staff

    return {
        "task": _t(Task), "link": _t(TaskFinding), "finding": _t(Finding), "event": _t(TaskEvent),
        "profile": _t(Profile), "user": _t(get_user_model()), "staff": _t(Staff), "branch": _t(Branch),
    }  # fmt: skip


def _temp(c, name: str, select_sql: str, params=()) -> None:
    """(Re)create a temporary table from a SELECT. Dropped first: a sync inside a test's transaction
    (or a second sync in one transaction) must not find the previous one."""
    c.execute(f"DROP TABLE IF EXISTS {name}")
    c.execute(f"CREATE TEMPORARY TABLE {name} AS {select_sql}", list(params))
    _analyze(c, name)


def _analyze(c, name: str) -> None:
    """PostgreSQL keeps no statistics of a fresh temporary table (autovacuum never sees it): without
    them the planner guesses badly, e.g. a scan of the whole table per task."""
    if connection.vendor == "postgresql":
        c.execute(f"ANALYZE {name}")


def sync_tasks(run: CheckRun | int | None = None, *, now: dt.datetime | None = None) -> SyncCounts:
    """Make tasks match the open findings: 不重不漏.

    1. one new task per party that has open findings not yet in a task and no open task;
    2. link every unlinked open finding to its party's open task;
    3. recount each open task's open findings (aggregated once into a temporary table, then one
       UPDATE … FROM); close the tasks left with none (the check run closed them: a later book
       passes), unless a failed sample reopened the task;
    4. assign the new tasks by the rules (assign_tasks).

    Every step is one set-wise statement over the open findings/tasks: no per-task query."""
    import time

    t0 = time.monotonic()
    if run is not None and not isinstance(run, CheckRun):
        run = CheckRun.objects.get(pk=run)
    if run is None:
        run = CheckRun.objects.filter(status=CheckRun.Status.DONE).order_by("-id").first()
    counts = SyncCounts(run=run.pk if run else None)
    if run is None:
        return counts
    now = now or timezone.now()
    due = timezone.localdate(now) + dt.timedelta(days=int(conf.get("due_days")))
    T = _tables()  # noqa: N806
    task = T["task"]
    pg = connection.vendor == "postgresql"
    checks_agg = (
        "string_agg(DISTINCT f.check_code, ',' ORDER BY f.check_code) FILTER (WHERE f.status = 'open')"
        if pg
        else "group_concat(DISTINCT CASE WHEN f.status = 'open' THEN f.check_code END)"
    )
    # a new task is born with its counts (all its findings are open and linked next): the recount
    # then rewrites only the tasks whose findings changed
    checks_new = (
        "string_agg(DISTINCT f.check_code, ',' ORDER BY f.check_code)"
        if pg
        else "group_concat(DISTINCT f.check_code)"
    )
    steps = counts.steps

    def step(name, t):
        steps[name] = round(time.monotonic() - t, 3)
        return time.monotonic()

    with transaction.atomic(), connection.cursor() as c:
        if pg:
            c.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        t = time.monotonic()
        c.execute(
            f"""INSERT INTO {task} (policy_no, role, seq, status, close_reason, version, channel,
                  branch_code, agent_no, partner_code, assign_rule, due_on, open_findings, findings_total,
                  checks, opened_run_id, created_at, escalation, reopened)
            SELECT f.policy_no, f.role, f.seq, 'open', '', 1, MAX(f.channel), MAX(f.branch_code),
                   MAX(f.agent_no), MAX(f.partner_code), '', %s, COUNT(*), COUNT(*), {checks_new}, %s, %s, 0, %s
            FROM {T["finding"]} f
            WHERE f.status = 'open'
              AND NOT EXISTS (SELECT 1 FROM {T["link"]} l WHERE l.finding_id = f.id)
              AND NOT EXISTS (SELECT 1 FROM {task} t WHERE t.policy_no = f.policy_no
                              AND t.role = f.role AND t.seq = f.seq AND t.status <> 'closed')
            GROUP BY f.policy_no, f.role, f.seq""",
            [due, run.pk, now, False],
        )
        counts.created = max(c.rowcount, 0)
        if counts.created:
            c.execute(
                f"""INSERT INTO {T["event"]} (task_id, at, action, from_status, to_status, reason)
                SELECT t.id, %s, 'create', '', 'open', %s FROM {task} t
                WHERE t.created_at = %s AND t.opened_run_id = %s""",
                [now, f"check run #{run.pk}", now, run.pk],
            )
        t = step("create", t)
        c.execute(
            f"""INSERT INTO {T["link"]} (task_id, finding_id)
            SELECT t.id, f.id FROM {T["finding"]} f
            JOIN {task} t ON t.policy_no = f.policy_no AND t.role = f.role AND t.seq = f.seq
                               AND t.status <> 'closed'
            WHERE f.status = 'open' AND NOT EXISTS (SELECT 1 FROM {T["link"]} l WHERE l.finding_id = f.id)"""
        )
        counts.linked = max(c.rowcount, 0)
        t = step("link", t)
        _temp(
            c,
            "rem_sync_agg",
            f"""SELECT l.task_id AS task_id, COUNT(*) AS total,
                   SUM(CASE WHEN f.status = 'open' THEN 1 ELSE 0 END) AS n_open, {checks_agg} AS checks
            FROM {T["link"]} l JOIN {task} t ON t.id = l.task_id JOIN {T["finding"]} f ON f.id = l.finding_id
            WHERE t.status <> 'closed' GROUP BY l.task_id""",
        )
        c.execute(
            f"""UPDATE {task} SET open_findings = a.n_open, findings_total = a.total,
                checks = COALESCE(a.checks, '')
            FROM rem_sync_agg a
            WHERE {task}.id = a.task_id AND ({task}.open_findings <> a.n_open
                  OR {task}.findings_total <> a.total OR {task}.checks <> COALESCE(a.checks, ''))"""
        )
        c.execute(  # an open task without any link (never made by the sync; defensive) has nothing open
            f"""UPDATE {task} SET open_findings = 0, checks = '' WHERE status <> 'closed'
            AND open_findings <> 0 AND id NOT IN (SELECT task_id FROM rem_sync_agg)"""
        )
        c.execute("DROP TABLE IF EXISTS rem_sync_agg")
        t = step("recount", t)
        closing = "status <> 'closed' AND open_findings = 0 AND reopened = %s"
        c.execute(
            f"""INSERT INTO {T["event"]} (task_id, at, action, from_status, to_status, reason)
            SELECT id, %s, 'close', status, 'closed', %s FROM {task} WHERE {closing}""",
            [now, f"all findings passed check run #{run.pk}", False],
        )
        c.execute(
            f"""UPDATE {task} SET status = 'closed', version = version + 1, closed_run_id = %s,
                closed_at = %s,
                close_reason = CASE WHEN status = 'verified' THEN 'verified' ELSE 'book' END
            WHERE {closing}""",
            [run.pk, now, False],
        )
        counts.closed = max(c.rowcount, 0)
        t = step("close", t)
        counts.assigned = assign_tasks(now=now)
        t = step("assign", t)
    agg = Task.objects.exclude(status=S.CLOSED).aggregate(n=Count("id"))
    counts.open_tasks = agg["n"]
    counts.open_findings = Finding.objects.filter(status=Finding.Status.OPEN).count()
    counts.seconds = round(time.monotonic() - t0, 3)
    return counts


def invariants() -> dict:
    """不重不漏, counted: each must be 0."""
    T = _tables()  # noqa: N806
    with connection.cursor() as c:
        c.execute(
            f"""SELECT COUNT(*) FROM {T["finding"]} f WHERE f.status = 'open' AND NOT EXISTS
                (SELECT 1 FROM {T["link"]} l JOIN {T["task"]} t ON t.id = l.task_id
                 WHERE l.finding_id = f.id AND t.status <> 'closed')"""
        )
        orphans = c.fetchone()[0]
        c.execute(
            f"""SELECT COUNT(*) FROM (SELECT policy_no, role, seq FROM {T["task"]} WHERE status <> 'closed'
                GROUP BY policy_no, role, seq HAVING COUNT(*) > 1) d"""
        )
        duplicates = c.fetchone()[0]
        c.execute(
            f"""SELECT COUNT(*) FROM {T["link"]} l JOIN {T["task"]} t ON t.id = l.task_id
                JOIN {T["finding"]} f ON f.id = l.finding_id
                WHERE t.policy_no <> f.policy_no OR t.role <> f.role OR t.seq <> f.seq"""
        )
        misplaced = c.fetchone()[0]
    return {"open_findings_without_open_task": orphans, "parties_with_two_open_tasks": duplicates,
            "findings_in_another_partys_task": misplaced}  # fmt: skip


# --- assignment -----------------------------------------------------------------------------------


def _covering_user(channel: str, branch_code: str, people: list[tuple], paths: dict) -> int | None:
    """Of `people` (user_id, channel, branch_code), the one whose scope covers a task of (channel,
    branch_code) most closely: at the branch itself, else at the deepest ancestor branch, else one
    without a branch (whole company); a person's empty channel covers every channel; ties → the lowest
    user id. Channel managers for orphaned tasks, compliance officers for escalations."""
    path = paths.get(branch_code, "")
    best = None
    for user_id, m_channel, m_branch in people:
        if m_channel and m_channel != channel:
            continue
        if m_branch == branch_code and branch_code:
            depth = 10_000
        elif not m_branch:
            depth = 0
        elif f"/{m_branch}/" in path:
            depth = paths.get(m_branch, "").count("/") or 1
        else:
            continue
        key = (-depth, user_id)
        if best is None or key < best[0]:
            best = (key, user_id)
    return best[1] if best else None


def assign_tasks(*, now: dt.datetime | None = None, reassign_departed: bool = True) -> int:
    """Assign open, unassigned tasks by conf "assign_rules"; returns how many. A task a channel
    manager holds by the orphan rule goes to the agent or outlet user who sold it once that user
    exists (the demo, or a company, creates agents' accounts after the first check run).

    partner → an active partner_staff user of the policy's partner_code; agent → the active user whose
    staff_no is the policy's agent (not for partner-sold policies), unless the agent has left;
    channel_manager → a channel manager of the policy's channel at its branch, else at the deepest
    ancestor branch, else one without a branch. Tasks of assignees who have since left are released
    first.

    Set-wise: the candidates of each rule are resolved once into a temporary table (key → user), and
    one UPDATE … FROM per rule joins the unassigned tasks to it; no per-task subquery."""
    from custos.book.models import Branch

    now = now or timezone.now()
    today = timezone.localdate(now)
    T = _tables()  # noqa: N806
    task = T["task"]
    active = f"JOIN {T['user']} u ON u.id = p.user_id AND u.is_active = %s"
    not_left = (
        f"NOT EXISTS (SELECT 1 FROM {T['staff']} s WHERE s.staff_no = p.staff_no AND s.left_on IS NOT NULL"
        " AND s.left_on <= %s)"
    )
    total = 0
    with transaction.atomic(), connection.cursor() as c:
        if reassign_departed:  # the assignee left: the task is orphaned and goes by the rules again
            c.execute(
                f"""UPDATE {task} SET assignee_id = NULL, assign_rule = '' WHERE status <> 'closed'
                AND assign_rule IN ('agent', 'partner') AND assignee_id IS NOT NULL AND assignee_id IN (
                  SELECT u.id FROM {T["user"]} u WHERE u.is_active = %s
                  UNION SELECT p.user_id FROM {T["profile"]} p JOIN {T["staff"]} s ON s.staff_no = p.staff_no
                  WHERE s.left_on IS NOT NULL AND s.left_on <= %s)""",
                [False, today],
            )
        # open to assignment: unassigned tasks, and those a channel manager holds only because no agent or
        # outlet user existed then (the orphan rule): the seller's user, once there, takes them over
        c.execute(
            f"SELECT COUNT(*) FROM {task} WHERE status <> 'closed' AND (assignee_id IS NULL OR assign_rule = %s)",
            ["channel_manager"],
        )
        if not c.fetchone()[0]:
            return 0
        _temp(
            c,
            "rem_assign_cand",
            f"""SELECT 'partner' AS rule, p.partner_code AS k1, '' AS k2, MIN(p.user_id) AS user_id
                FROM {T["profile"]} p {active}
                WHERE p.role = 'partner_staff' AND p.partner_code <> '' GROUP BY p.partner_code
            UNION ALL
            SELECT 'agent', p.staff_no, '', MIN(p.user_id) FROM {T["profile"]} p {active}
                WHERE p.role = 'agent' AND p.staff_no <> '' AND {not_left} GROUP BY p.staff_no""",
            [True, True, today],
        )
        if "channel_manager" in conf.get("assign_rules"):
            c.execute(
                f"""SELECT p.user_id, p.channel, p.branch_code FROM {T["profile"]} p {active}
                WHERE p.role = 'channel_manager' AND p.channel <> '' ORDER BY p.user_id""",
                [True],
            )
            managers = c.fetchall()
            c.execute(
                f"""SELECT DISTINCT channel, branch_code FROM {task}
                WHERE assignee_id IS NULL AND status <> 'closed'"""
            )
            pairs = c.fetchall()
            paths = dict(Branch.objects.values_list("branch_code", "path"))
            rows = [("channel_manager", ch, br, uid) for ch, br in pairs
                    if (uid := _covering_user(ch, br, managers, paths)) is not None]  # fmt: skip
            if rows:
                c.executemany(
                    "INSERT INTO rem_assign_cand (rule, k1, k2, user_id) VALUES (%s, %s, %s, %s)", rows
                )
        c.execute("CREATE INDEX rem_assign_cand_key ON rem_assign_cand (rule, k1, k2)")
        _analyze(c, "rem_assign_cand")
        # (task column of k1, of k2, which tasks): the UPDATE walks the unassigned tasks and looks each
        # up in the indexed candidates (IN + a correlated lookup: the task drives the loop everywhere)
        keys = {
            "partner": ("partner_code", "''", f"{task}.partner_code <> ''"),
            "agent": ("agent_no", "''", f"{task}.partner_code = '' AND {task}.agent_no <> ''"),
            "channel_manager": ("channel", f"{task}.branch_code", "1 = 1"),
        }
        takeover = f"({task}.assignee_id IS NULL OR {task}.assign_rule = 'channel_manager')"
        for name in conf.get("assign_rules"):
            k1, k2, where = keys[name]
            free = takeover if name in ("partner", "agent") else f"{task}.assignee_id IS NULL"
            c.execute(
                f"""UPDATE {task} SET assign_rule = %s, assigned_at = %s, assignee_id = (
                    SELECT a.user_id FROM rem_assign_cand a
                    WHERE a.rule = %s AND a.k1 = {task}.{k1} AND a.k2 = {k2})
                WHERE {free} AND {task}.status <> 'closed' AND {where}
                  AND EXISTS (SELECT 1 FROM rem_assign_cand a
                              WHERE a.rule = %s AND a.k1 = {task}.{k1} AND a.k2 = {k2})""",
                [name, now, name, name],
            )
            total += max(c.rowcount, 0)
        c.execute("DROP TABLE IF EXISTS rem_assign_cand")
        if total:
            c.execute(
                f"""INSERT INTO {T["event"]} (task_id, at, action, from_status, to_status, reason)
                SELECT id, %s, 'assign', status, status, assign_rule FROM {task} WHERE assigned_at = %s
                AND assignee_id IS NOT NULL AND assign_rule <> 'manual'""",
                [now, now],
            )
    return total


def reassign(task_ids: Iterable[int], to_user, by_user, reason: str = "") -> int:
    """Bulk reassignment by a manager: every task must be in both the manager's and the new
    assignee's scope, or nothing is reassigned."""
    if not can(by_user, "task.assign"):
        raise NotAllowed(_("只有管理人员可以批量指派任务。"))
    ids = sorted({int(i) for i in task_ids})
    if not ids:
        return 0
    mine = scoped_tasks(by_user).filter(pk__in=ids).exclude(status=S.CLOSED)
    theirs = scoped_tasks(to_user).filter(pk__in=ids)
    if mine.count() != len(ids) or theirs.count() != len(ids):
        raise NotAllowed(_("部分任务已关闭或不在您或被指派人的权限范围内，未做任何指派。"))
    now = timezone.now()
    with transaction.atomic():
        rows = list(Task.objects.select_for_update().filter(pk__in=ids).values("id", "status"))
        Task.objects.filter(pk__in=ids).update(
            assignee=to_user, assign_rule=Task.Rule.MANUAL, assigned_at=now
        )
        from django.db.models import F

        Task.objects.filter(pk__in=ids).update(version=F("version") + 1)
        TaskEvent.objects.bulk_create(
            TaskEvent(task_id=r["id"], at=now, actor=by_user, action="assign", from_status=r["status"],
                      to_status=r["status"], reason=f"→ {to_user.username}: {reason}"[:500])
            for r in rows
        )  # fmt: skip
    return len(ids)
