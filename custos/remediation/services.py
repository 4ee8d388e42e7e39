"""Remediation services: the only code that changes tasks, attempts, corrections and samples.

    counts = sync_tasks(run)             # after each check run (signals.py): create, link, close, assign
    record_attempt(task, user, "phone", "13812345678", "reached")
    c = propose_correction(task, user, "mobile", "13912345678", request_no="R1", version=task.version)
    review_correction(c, other_user, approve=True)    # four eyes: proposer ≠ reviewer; applies it
    verify_task(task, cs_user, contact="13912345678", success=True)   # return visit by customer service
    export_corrections(path, encoding="gbk"); acknowledge(path)        # to and from the core systems

Every refusal is a RemediationError subclass whose str() is a clear, bilingual message. Tasks are
visible to the people whose scope (custos.access) covers the policy; personal data is read only
through the access service. See docs/remediation.md.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import os
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from custos import paths
from custos.access.capabilities import can, roles_with
from custos.access.models import Profile
from custos.audit.record import record
from custos.book.models import Party, Policy
from custos.checks.models import CheckRun, Finding
from custos.domain import masking
from custos.domain.spreadsheet import neutralise
from custos.remediation import conf
from custos.remediation.models import (
    ContactAttempt,
    Correction,
    CorrectionHistory,
    Evidence,
    ExportBatch,
    Sample,
    Task,
    TaskEvent,
    TaskFinding,
    Violation,
)

S = Task.Status
_LOCK_KEY = 0x72656D6564  # "remed": one sync at a time on PostgreSQL

# Party fields a correction may change.
EDITABLE_FIELDS = (
    "name", "gender", "birth_date", "id_type", "id_no", "id_valid_until", "nationality", "relation",
    "mobile", "phone", "address", "postcode", "email", "occupation_code",
)  # fmt: skip
# The holders of task.assign and task.review (custos/access/capabilities.py), for the tests' matrices.
MANAGER_ROLES = roles_with("task.assign")
REVIEWER_ROLES = roles_with("task.review")


# --- refusals -------------------------------------------------------------------------------------


class RemediationError(Exception):
    """A refused action; str() is the message in both languages ("中文 / English": commands and the
    API show it whole), localized() the half of the page's active language."""

    status = 400

    def localized(self) -> str:
        from django.utils.translation import get_language

        text = str(self)
        zh, sep, en = text.partition(" / ")
        if not sep:
            return text
        return en.strip() if (get_language() or "").startswith("en") else zh.strip()


class IllegalTransition(RemediationError):
    status = 409


class Conflict(RemediationError):
    """Someone else changed the task first. `kept` holds what the caller submitted, so nothing is lost
    (a caller's own input only: never a value read on the server, which the caller may not see)."""

    status = 409

    def __init__(self, message: str, kept: dict | None = None):
        super().__init__(message)
        self.kept = kept or {}


class SelfApproval(RemediationError):
    status = 403


class RequestNumberRequired(RemediationError):
    pass


class NotAllowed(RemediationError):
    status = 403


class EvidenceRejected(RemediationError):
    pass


# --- the state machine ----------------------------------------------------------------------------

# (from, to) a person may cause; the system (sync) may also close any open task whose findings all passed.
TRANSITIONS: dict[str, set[str]] = {
    S.OPEN: {S.CONTACTING, S.REVIEW},
    S.CONTACTING: {S.REVIEW},
    S.REVIEW: {S.CONTACTING, S.CORRECTED},
    S.CORRECTED: {S.VERIFIED, S.CONTACTING, S.REVIEW},
    S.VERIFIED: {S.REVIEW, S.CLOSED, S.CONTACTING},  # contacting: the core systems rejected it
    S.CLOSED: {S.CONTACTING},  # a failed sample reopens
}


def _label(status: str) -> str:
    return f"{S(status).label}({status})" if status in S.values else status


def check_transition(frm: str, to: str) -> None:
    if to not in TRANSITIONS.get(frm, set()):
        if to == S.CLOSED:
            raise IllegalTransition(
                f"只有已回访确认的更正才能关闭任务：任务当前为 {_label(frm)}。"
                f" / Only a verified correction closes a task; this task is {frm}."
            )
        raise IllegalTransition(
            f"不允许的状态变更：{_label(frm)} → {_label(to)}。 / Illegal transition: {frm} → {to}."
        )


def _event(task_id, actor, action, frm="", to="", reason="", at=None) -> TaskEvent:
    return TaskEvent.objects.create(
        task_id=task_id,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        from_status=frm,
        to_status=to,
        reason=(reason or "")[:500],
    )


MAX_VERSION = 2**31 - 1  # Task.version is a 32-bit integer on PostgreSQL


class BadVersion(RemediationError):
    pass


def check_version(version: int | None) -> None:
    """A caller's `version` is absent (None: no check) or the task version they saw, 0..MAX_VERSION;
    anything else (-1, 10**30) is refused, never read as "no version"."""
    if version is not None and not (isinstance(version, int) and 0 <= version <= MAX_VERSION):
        raise BadVersion(
            f"版本号须是 0 到 {MAX_VERSION} 之间的整数。 / The version must be an integer from 0 to {MAX_VERSION}."
        )


def _bump(task: Task, version: int | None, kept: dict | None = None, **changes) -> None:
    """Optimistic lock: write `changes` and version+1 only if the task is still at `version`."""
    check_version(version)
    expected = task.version if version is None else version
    n = Task.objects.filter(pk=task.pk, version=expected).update(version=expected + 1, **changes)
    if n == 0:
        raise Conflict(
            "此任务已被他人修改，您的操作未保存；您填写的内容已保留，请刷新后核对再提交。"
            " / Someone else changed this task first: nothing was saved, your input is kept — reload and"
            " submit again.",
            kept=kept,
        )
    task.version = expected + 1
    for k, v in changes.items():
        setattr(task, k, v)


def transition(
    task: Task, to: str, actor, reason: str = "", *, version: int | None = None, kept=None, **extra
):
    frm = task.status
    check_transition(frm, to)
    with transaction.atomic():  # the task, its event and the audit record: together or not at all
        _bump(task, version, kept, status=to, **extra)
        _event(task.pk, actor, "transition", frm, to, reason)
        record(actor, "task.transition", task, {"status": frm}, {"status": to}, reason)


# --- scope ----------------------------------------------------------------------------------------


def _ctx(user):
    from custos.access.service import AccessContext

    return user if hasattr(user, "policies") else AccessContext.for_user(user)


def scoped_tasks(ctx) -> QuerySet[Task]:
    """Tasks of the policies in the viewer's scope (an AccessContext or a user)."""
    return Task.objects.filter(policy_no__in=_ctx(ctx).policies().values("policy_no"))


def task_for(user, task_id: int) -> Task:
    task = scoped_tasks(user).filter(pk=task_id).first()
    if task is None:
        raise Task.DoesNotExist(f"task {task_id}")
    return task


def _require_scope(user, task: Task) -> None:
    if not _ctx(user).policies().filter(policy_no=task.policy_no).exists():
        raise NotAllowed("此任务不在您的权限范围内。 / This task is outside your scope.")


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
    """Assign open, unassigned tasks by conf "assign_rules"; returns how many.

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
        c.execute(f"SELECT COUNT(*) FROM {task} WHERE assignee_id IS NULL AND status <> 'closed'")
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
        for name in conf.get("assign_rules"):
            k1, k2, where = keys[name]
            c.execute(
                f"""UPDATE {task} SET assign_rule = %s, assigned_at = %s, assignee_id = (
                    SELECT a.user_id FROM rem_assign_cand a
                    WHERE a.rule = %s AND a.k1 = {task}.{k1} AND a.k2 = {k2})
                WHERE {task}.assignee_id IS NULL AND {task}.status <> 'closed' AND {where}
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
        raise NotAllowed("只有管理人员可以批量指派任务。 / Only managers may reassign tasks.")
    ids = sorted({int(i) for i in task_ids})
    if not ids:
        return 0
    mine = scoped_tasks(by_user).filter(pk__in=ids).exclude(status=S.CLOSED)
    theirs = scoped_tasks(to_user).filter(pk__in=ids)
    if mine.count() != len(ids) or theirs.count() != len(ids):
        raise NotAllowed(
            "部分任务已关闭或不在您或被指派人的权限范围内，未做任何指派。"
            " / Some tasks are closed or outside your or the assignee's scope; nothing was reassigned."
        )
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


# --- contact attempts -----------------------------------------------------------------------------


def _keys():
    from custos.crypto.fields import Keys

    return Keys.from_keyring()


def _mask_contact(method: str, contact: str) -> str:
    if not contact:
        return ""
    if method in ("phone", "sms"):
        kind = "mobile" if contact.isdigit() and len(contact) == 11 else "phone"
        return str(masking.mask_field(kind, contact))
    return str(masking.mask_field("address", contact))


def record_attempt(task: Task, user, method: str, contact: str, outcome: str, note: str = "",
                   *, at: dt.datetime | None = None, version: int | None = None) -> ContactAttempt:  # fmt: skip
    check_version(version)
    _require_scope(user, task)
    if method not in ContactAttempt.Method.values:
        raise RemediationError(f"未知的联系方式：{method}。 / Unknown contact method {method!r}.")
    if outcome not in ContactAttempt.Outcome.values:
        raise RemediationError(f"未知的联系结果：{outcome}。 / Unknown outcome {outcome!r}.")
    if task.status == S.CLOSED:
        raise IllegalTransition("任务已关闭，不能再登记联系。 / The task is closed: no more attempts.")
    with transaction.atomic():
        attempt = ContactAttempt.objects.create(
            task=task, at=at or timezone.now(), by=user, method=method, outcome=outcome, note=note[:500],
            contact_sealed=_keys().seal(contact, "remediation.attempt.contact"),
            contact_masked=_mask_contact(method, contact),
        )  # fmt: skip
        if task.status == S.OPEN:
            transition(task, S.CONTACTING, user, f"{method}: {outcome}", version=version)
        else:
            _bump(task, version)
    return attempt


def attempt_contact(attempt: ContactAttempt) -> str:
    """The clear contact of an attempt (for the unmask path only)."""
    return _keys().open_(attempt.contact_sealed, "remediation.attempt.contact")


# --- evidence -------------------------------------------------------------------------------------


def evidence_dir() -> Path:
    d = paths.home() / "evidence"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def store_evidence(filename: str, data: bytes, user) -> Evidence:
    """Check the file's size and type (by its first bytes, not its name) and store it encrypted."""
    limit = int(conf.get("evidence_max_bytes"))
    if not data:
        raise EvidenceRejected("证明文件为空。 / The evidence file is empty.")
    if len(data) > limit:
        raise EvidenceRejected(
            f"证明文件超过 {limit // 1024 // 1024} MB。 / The evidence file exceeds {limit} bytes."
        )
    ctype = next((t for t, magic in conf.get("evidence_types").items() if data.startswith(magic)), None)
    if ctype is None:
        raise EvidenceRejected("证明文件只接受 PDF、JPEG、PNG。 / Evidence must be a PDF, JPEG or PNG file.")
    path = evidence_dir() / f"{secrets.token_hex(16)}.sealed"
    sealed = _keys().seal(base64.b64encode(data).decode(), "remediation.evidence")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(sealed)
    return Evidence.objects.create(
        filename=Path(filename or "evidence").name[:200], content_type=ctype, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), path=str(path), uploaded_by=user,
        uploaded_at=timezone.now(),
    )  # fmt: skip


def open_evidence(evidence: Evidence) -> bytes:
    sealed = Path(evidence.path).read_text()
    return base64.b64decode(_keys().open_(sealed, "remediation.evidence"))


# --- corrections ----------------------------------------------------------------------------------


def _party(task: Task) -> Party:
    party = Party.objects.filter(policy_no=task.policy_no, role=task.role, seq=task.seq).first()
    if party is None:
        raise RemediationError(
            "该任务是保单层面的问题，没有可更正的客户信息。 / This task concerns the policy, not a party: "
            "there is no customer value to correct."
        )
    return party


def _as_text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def needs_request_no(task: Task, field_name: str) -> bool:
    if field_name not in conf.get("contact_fields"):
        return False
    return Policy.objects.filter(policy_no=task.policy_no, issued_on__isnull=False).exists()


def _staff_no(user) -> str:
    return Profile.objects.filter(user=user).values_list("staff_no", flat=True).first() or ""


def propose_correction(
    task: Task,
    user,
    field_name: str,
    new_value: str,
    *,
    request_no: str = "",
    evidence: Evidence | None = None,
    note: str = "",
    force: bool = False,
    version: int | None = None,
) -> Correction:
    """Propose a new value for one field of the task's party. Contact data of an issued policy needs
    the customer's request number: refused without one, unless forced — a forced change is recorded
    as an SC01 violation against the operator (the proposer)."""
    check_version(version)
    kept = {"field": field_name, "new_value": new_value, "request_no": request_no, "note": note}
    _require_scope(user, task)
    if field_name not in EDITABLE_FIELDS:
        raise RemediationError(f"字段 {field_name} 不可更正。 / Field {field_name!r} cannot be corrected.")
    request_no = (request_no or "").strip()
    forced = False
    if needs_request_no(task, field_name) and not request_no:
        if not force:
            raise RequestNumberRequired(
                "已承保保单的联系方式（手机、电话、地址）变更必须有客户申请单号；未填写，已拒绝。"
                " / Changing the contact data of an issued policy needs the customer's request number;"
                " refused."
            )
        forced = True
    if task.status == S.CLOSED:
        raise IllegalTransition("任务已关闭，不能再提交更正。 / The task is closed: no corrections.")
    party = _party(task)
    with transaction.atomic():
        if Correction.objects.filter(task__policy_no=task.policy_no, task__role=task.role, task__seq=task.seq,
                                     field=field_name, status=Correction.Status.PROPOSED).exists():  # fmt: skip
            raise Conflict(
                "该字段已有一项更正在复核中。 / A correction of this field is already awaiting review.",
                kept=kept,
            )
        if task.status == S.REVIEW:
            _bump(task, version, kept)
        else:
            transition(task, S.REVIEW, user, f"correction of {field_name}", version=version, kept=kept)
        correction = Correction.objects.create(
            task=task, policy_no=task.policy_no, role=task.role, seq=task.seq, field=field_name,
            old_value=_as_text(getattr(party, field_name)), new_value=new_value.strip(), request_no=request_no,
            forced=forced, evidence=evidence, note=note[:500], proposed_by=user, proposed_at=timezone.now(),
        )  # fmt: skip
        if forced:
            Violation.objects.create(
                code="SC01", user=user, staff_no=_staff_no(user), policy_no=task.policy_no,
                correction=correction, at=timezone.now(),
                detail=f"forced change of {field_name} of {task.policy_no}/{task.role}/{task.seq} "
                "after issue without a customer request number",
            )  # fmt: skip
    return correction


def proposed_fill(task: Task, finding_id) -> tuple[str, str]:
    """Identity's proposed value for one of the task's open findings (Finding.proposed, e.g. the
    18-digit ID number): (field, value), read on the server so the page never shows it in clear."""
    fid = int(finding_id) if str(finding_id).isdigit() and len(str(finding_id)) < 12 else 0
    f = (
        Finding.objects.filter(pk=fid, pk__in=task.links.values("finding_id"), status=Finding.Status.OPEN)
        .exclude(proposed="")
        .first()
    )
    if f is None or f.field not in EDITABLE_FIELDS:
        raise RemediationError(
            "该问题没有可采用的建议值。 / This finding of the task has no proposed value to use."
        )
    return f.field, f.proposed


def review_correction(correction: Correction, reviewer, *, approve: bool, note: str = "",
                      version: int | None = None) -> Correction:  # fmt: skip
    """Four eyes: a second person approves (and so applies) or rejects a proposed correction."""
    check_version(version)
    task = correction.task
    if reviewer.pk == correction.proposed_by_id:
        raise SelfApproval(
            "不能复核自己提交的更正（双人复核）。 / You cannot review your own correction (four eyes)."
        )
    if not can(reviewer, "task.review"):
        raise NotAllowed("您的角色不能复核更正。 / Your role cannot review corrections.")
    _require_scope(reviewer, task)
    if correction.status != Correction.Status.PROPOSED:
        raise IllegalTransition(
            f"该更正已处理（{correction.get_status_display()}）。 / This correction is already {correction.status}."
        )
    now = timezone.now()
    with transaction.atomic():
        n = Correction.objects.filter(pk=correction.pk, status=Correction.Status.PROPOSED).update(
            status=Correction.Status.APPLIED if approve else Correction.Status.REJECTED,
            reviewed_by=reviewer, reviewed_at=now, review_note=note[:500], applied_at=now if approve else None,
        )  # fmt: skip
        if n == 0:
            raise Conflict("该更正已被他人复核。 / Someone else reviewed this correction first.")
        correction.refresh_from_db()
        pending = task.corrections.filter(status=Correction.Status.PROPOSED).exists()
        if approve:
            _apply(correction, reviewer, now)
        task.refresh_from_db() if version is None else None
        if pending:
            _bump(task, version)
            _event(task.pk, reviewer, "review", task.status, task.status, f"{correction.field}: {approve}")
        elif approve or task.corrections.filter(status=Correction.Status.APPLIED).exists():
            transition(task, S.CORRECTED, reviewer, f"approved {correction.field} {note}", version=version)
        else:
            transition(task, S.CONTACTING, reviewer, f"rejected {correction.field}: {note}", version=version)
        _record_review(correction, reviewer, approve, note)  # last: the audit lock is held to the commit
    return correction


def _apply(correction: Correction, user, now) -> None:
    """Write the new value to the party's current row, with history; refuse if the party changed."""
    qs = Party.objects.select_for_update().filter(
        policy_no=correction.policy_no, role=correction.role, seq=correction.seq
    )
    party = qs.first()
    if _as_text(getattr(party, correction.field)) != correction.old_value:
        raise Conflict(
            "客户信息在提交更正后已被修改，请重新提交更正。 / The party changed since the correction was"
            " proposed; propose it again.",
            kept={"field": correction.field},  # not the value: the reviewer did not submit it
        )
    value = correction.new_value
    fobj = Party._meta.get_field(correction.field)
    if fobj.get_internal_type() == "DateField":
        value = dt.date.fromisoformat(value) if value else None
    changes = {correction.field: value}
    if any(f.name == f"{correction.field}_bidx" for f in Party._meta.concrete_fields):
        from custos.crypto.fields import blind_index  # update() bypasses BlindIndexField.pre_save

        changes[f"{correction.field}_bidx"] = blind_index(value, correction.field)
    qs.update(**changes)
    CorrectionHistory.objects.create(
        policy_no=correction.policy_no, role=correction.role, seq=correction.seq, field=correction.field,
        old_value=correction.old_value, new_value=correction.new_value, correction=correction,
        applied_by=user, applied_at=now,
    )  # fmt: skip


def _record_review(correction: Correction, reviewer, approve: bool, note: str) -> None:
    """The review in the tamper-evident log: the party's corrected value (sealed, from _apply) and
    the decision. Called last in review_correction's transaction (custos.audit.record)."""
    if approve:
        party_pk = (
            Party.objects.filter(policy_no=correction.policy_no, role=correction.role, seq=correction.seq)
            .values_list("pk", flat=True)
            .first()
        )
        record(
            reviewer,
            "party.corrected",
            (Party, party_pk),
            {correction.field: correction.old_value},
            {correction.field: correction.new_value},
            f"correction #{correction.pk}",
        )
    record(
        reviewer,
        "correction.approved" if approve else "correction.rejected",
        correction,
        {"status": Correction.Status.PROPOSED},
        {"status": correction.status, "review_note": note[:500]},
        f"task #{correction.task_id}",
    )


# --- verification and closing ---------------------------------------------------------------------


def verify_task(task: Task, user, *, contact: str, success: bool, note: str = "",
                version: int | None = None) -> Task:  # fmt: skip
    """A return visit by customer service to the corrected contact. Success verifies the applied
    corrections (and the task); failure sends the task back to contacting."""
    check_version(version)
    if not can(user, "task.verify"):
        raise NotAllowed("回访须由客服人员完成。 / Return visits are made by customer service.")
    _require_scope(user, task)
    applied = list(task.corrections.filter(status=Correction.Status.APPLIED))
    if task.status != S.CORRECTED or not applied:
        check_transition(task.status, S.VERIFIED)
    corrected_contacts = [c.new_value for c in applied if c.field in ("mobile", "phone", "address")]
    if corrected_contacts and contact.strip() not in corrected_contacts:
        raise RemediationError(
            "回访须拨打/寄送到更正后的联系方式。 / The return visit must reach the corrected contact."
        )
    now = timezone.now()
    with transaction.atomic():
        ContactAttempt.objects.create(
            task=task, at=now, by=user, method="phone", outcome="reached" if success else "wrong",
            contact_sealed=_keys().seal(contact, "remediation.attempt.contact"),
            contact_masked=_mask_contact("phone", contact), note=("回访 " + note)[:500],
        )  # fmt: skip
        if success:
            transition(task, S.VERIFIED, user, f"return visit ok {note}", version=version)
            Correction.objects.filter(pk__in=[c.pk for c in applied]).update(
                status=Correction.Status.VERIFIED, verified_by=user, verified_at=now
            )
        else:
            transition(task, S.CONTACTING, user, f"return visit failed {note}", version=version)
            Correction.objects.filter(pk__in=[c.pk for c in applied]).update(status=Correction.Status.FAILED)
        for c in applied:  # the verification of each correction in the tamper-evident log
            record(
                user,
                "correction.verified" if success else "correction.failed",
                c,
                {"status": c.status},
                {"status": "verified" if success else "failed"},
                f"task #{task.pk}: return visit {note}",
            )
    return task


def close_task(task: Task, user, reason: str = "", *, version: int | None = None) -> Task:
    """A person closes a task: only a verified one, and only when no finding of it is still open
    (normally the next book's check run closes verified tasks by itself)."""
    check_version(version)
    _require_scope(user, task)
    check_transition(task.status, S.CLOSED)
    if Finding.objects.filter(pk__in=task.links.values("finding_id"), status=Finding.Status.OPEN).exists():
        raise IllegalTransition(
            "任务仍有未关闭的问题：更正导出核心系统后，由下一期数据复查关闭。 / Findings of this task are still"
            " open: the next book's check run closes them once the correction reaches the core systems."
        )
    transition(task, S.CLOSED, user, reason, version=version, closed_at=timezone.now(), closed_by=user,
               close_reason=Task.CloseReason.VERIFIED, reopened=False)  # fmt: skip
    return task


# --- sampling inspection (抽检) -------------------------------------------------------------------


def draw_samples(
    user=None, *, share: float | None = None, seed: int | None = None, scope=None
) -> list[Sample]:
    """Draw a share of the closed, not yet sampled tasks at random (of `scope`'s tasks — an
    AccessContext or a user — when given: a compliance officer draws from their own branches)."""
    share = float(conf.get("sample_share") if share is None else share)
    if not 0 <= share <= 1:
        raise RemediationError(
            f"抽检比例须在 0 到 1 之间：{share}。 / The sample share must be between 0 and 1: {share}."
        )
    if scope is not None and not can(_ctx(scope), "sample.draw"):
        raise NotAllowed("抽检由合规人员抽取。 / Samples are drawn by compliance.")
    tasks = Task.objects.all() if scope is None else scoped_tasks(scope)
    pool = list(tasks.filter(status=S.CLOSED).exclude(samples__isnull=False).values_list("id", flat=True))
    k = min(len(pool), round(len(pool) * share)) if pool else 0
    if pool and share > 0 and k == 0:
        k = 1
    chosen = (random.Random(seed) if seed is not None else random.SystemRandom()).sample(pool, k)
    now = timezone.now()
    out = []
    for task in Task.objects.filter(pk__in=chosen):
        closer = task.closed_by_id or (
            task.corrections.filter(status=Correction.Status.VERIFIED)
            .order_by("-verified_at")
            .values_list("verified_by_id", flat=True)
            .first()
        )
        out.append(Sample.objects.create(task=task, drawn_at=now, drawn_by=user, closer_id=closer))
    return out


def record_sample(sample: Sample, user, *, passed: bool, note: str = "") -> Sample:
    """Record the re-check; a failure reopens the task (unless the party already has a new open task,
    which then carries the note) and counts against whoever closed it (Sample.closer)."""
    if sample.result != Sample.Result.PENDING:
        raise IllegalTransition("该抽检已有结果。 / This sample already has a result.")
    if not can(user, "sample.check"):
        raise NotAllowed(
            "抽检须由客服或合规人员完成。 / Samples are checked by customer service or compliance."
        )
    if user.pk == sample.closer_id:
        raise SelfApproval("不能抽检自己关闭的任务。 / You cannot check a task you closed yourself.")
    _require_scope(user, sample.task)
    with transaction.atomic():
        sample.result = Sample.Result.PASSED if passed else Sample.Result.FAILED
        sample.checked_by, sample.checked_at, sample.note = user, timezone.now(), note[:500]
        sample.save()
        task = sample.task
        if not passed:
            other = Task.objects.filter(policy_no=task.policy_no, role=task.role, seq=task.seq).exclude(
                status=S.CLOSED
            )
            if other.exists():
                for t in other:
                    _event(
                        t.pk, user, "sample_failed", t.status, t.status, f"sample of task #{task.pk}: {note}"
                    )
            else:
                transition(task, S.CONTACTING, user, f"sample failed: {note}", reopened=True, closed_at=None,
                           close_reason="")  # fmt: skip
    return sample


# --- reminders and escalation ---------------------------------------------------------------------


def _insert_ignore(sql_insert: str) -> str:
    """INSERT … that skips rows already there (the unique constraint): the same on SQLite and PostgreSQL."""
    return sql_insert + " ON CONFLICT DO NOTHING"


def remind(*, today: dt.date | None = None, now: dt.datetime | None = None) -> dict:
    """Reminders before the due date; escalation of overdue tasks to the assignee's manager
    (Staff.supervisor_no), and after conf "escalate_to_compliance_after_days" to compliance (at once
    when the assignee has no manager). Each is a task event and a Notice to the person; idempotent:
    a task is reminded once per assignment and escalated once per level, so running it twice (cron
    and the scheduled Huey task, say) sends nothing twice. Set-wise: a handful of statements whatever
    the number of tasks."""
    from custos.book.models import Branch
    from custos.remediation.models import Notice

    now = now or timezone.now()
    today = today or timezone.localdate(now)
    T = _tables()  # noqa: N806
    task, notice = T["task"], _t(Notice)
    soon = today + dt.timedelta(days=int(conf.get("remind_days_before")))
    late = today - dt.timedelta(days=int(conf.get("escalate_to_compliance_after_days")))
    out = {}
    notices = f"INSERT INTO {notice} (recipient_id, task_id, kind, occasion, at)"
    with transaction.atomic(), connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY + 1])  # one reminder run at a time
        # 1. reminders: once per assignment (a reassigned task reminds its new assignee)
        c.execute(
            f"""UPDATE {task} SET reminded_at = %s WHERE status <> 'closed' AND assignee_id IS NOT NULL
            AND due_on <= %s AND due_on >= %s AND (reminded_at IS NULL OR reminded_at < assigned_at)""",
            [now, soon, today],
        )
        out["reminded"] = max(c.rowcount, 0)
        if out["reminded"]:
            c.execute(
                f"""INSERT INTO {T["event"]} (task_id, at, action, from_status, to_status, reason)
                SELECT id, %s, 'remind', status, status, 'due ' || CAST(due_on AS VARCHAR(10)) FROM {task}
                WHERE reminded_at = %s""",
                [now, now],
            )
            c.execute(
                _insert_ignore(f"""{notices} SELECT assignee_id, id, 'remind', CAST(due_on AS VARCHAR(10)), %s
                FROM {task} WHERE reminded_at = %s"""),
                [now, now],
            )
        # 2. overdue → the assignee's manager: resolved once into a temporary table
        _temp(
            c,
            "rem_remind_mgr",
            f"""SELECT p.user_id AS user_id, MIN(m.user_id) AS manager_id
            FROM {T["profile"]} p JOIN {T["staff"]} s ON s.staff_no = p.staff_no
            JOIN {T["profile"]} m ON m.staff_no = s.supervisor_no
            JOIN {T["user"]} u ON u.id = m.user_id AND u.is_active = %s
            WHERE s.supervisor_no <> '' AND m.user_id <> p.user_id GROUP BY p.user_id""",
            [True],
        )
        c.execute("CREATE INDEX rem_remind_mgr_user ON rem_remind_mgr (user_id)")
        _analyze(c, "rem_remind_mgr")
        c.execute(
            f"""UPDATE {task} SET escalation = 1, escalated_at = %s, escalated_to_id =
                (SELECT m.manager_id FROM rem_remind_mgr m WHERE m.user_id = {task}.assignee_id)
            WHERE status <> 'closed' AND escalation = 0 AND due_on < %s
              AND assignee_id IN (SELECT user_id FROM rem_remind_mgr)""",
            [now, today],
        )
        out["escalated_to_manager"] = max(c.rowcount, 0)
        c.execute("DROP TABLE IF EXISTS rem_remind_mgr")
        # 3. → compliance: long overdue, or overdue with no manager; the compliance officer whose scope
        # covers the task's branch (the deepest), else one for the whole company
        due_compliance = """status <> 'closed' AND escalation < 2 AND due_on < %s
            AND (due_on < %s OR escalation = 0)"""
        c.execute(f"SELECT DISTINCT channel, branch_code FROM {task} WHERE {due_compliance}", [today, late])
        pairs = c.fetchall()
        out["escalated_to_compliance"] = 0
        if pairs:
            c.execute(
                f"""SELECT p.user_id, p.channel, p.branch_code FROM {T["profile"]} p
                JOIN {T["user"]} u ON u.id = p.user_id AND u.is_active = %s
                WHERE p.role = 'compliance' ORDER BY p.user_id""",
                [True],
            )
            officers = c.fetchall()
            paths = dict(Branch.objects.values_list("branch_code", "path"))
            rows = [(ch, br, uid) for ch, br in pairs
                    if (uid := _covering_user(ch, br, officers, paths)) is not None]  # fmt: skip
            if rows:
                c.execute("DROP TABLE IF EXISTS rem_remind_comp")
                c.execute(
                    "CREATE TEMPORARY TABLE rem_remind_comp (channel VARCHAR(16), branch_code VARCHAR(64),"
                    " user_id INTEGER)"
                )
                c.executemany("INSERT INTO rem_remind_comp VALUES (%s, %s, %s)", rows)
                c.execute("CREATE INDEX rem_remind_comp_key ON rem_remind_comp (channel, branch_code)")
                _analyze(c, "rem_remind_comp")
                match = f"r.channel = {task}.channel AND r.branch_code = {task}.branch_code"
                c.execute(
                    f"""UPDATE {task} SET escalation = 2, escalated_at = %s, escalated_to_id =
                        (SELECT r.user_id FROM rem_remind_comp r WHERE {match})
                    WHERE {due_compliance} AND EXISTS (SELECT 1 FROM rem_remind_comp r WHERE {match})""",
                    [now, today, late],
                )
                out["escalated_to_compliance"] = max(c.rowcount, 0)
                c.execute("DROP TABLE IF EXISTS rem_remind_comp")
        if out["escalated_to_manager"] or out["escalated_to_compliance"]:
            c.execute(
                f"""INSERT INTO {T["event"]} (task_id, at, action, from_status, to_status, reason)
                SELECT id, %s, 'escalate', status, status,
                       CASE WHEN escalation = 1 THEN %s ELSE %s END FROM {task} WHERE escalated_at = %s""",
                [now, "overdue → manager", "overdue → compliance", now],
            )
            c.execute(
                _insert_ignore(f"""{notices} SELECT escalated_to_id, id,
                    CASE WHEN escalation = 1 THEN 'escalate_manager' ELSE 'escalate_compliance' END,
                    'level ' || CAST(escalation AS VARCHAR(4)), %s FROM {task}
                    WHERE escalated_at = %s AND escalated_to_id IS NOT NULL"""),
                [now, now],
            )
    out["emailed"] = email_notices(now) if conf.get("notify_email") else 0
    return out


def email_notices(since: dt.datetime) -> int:
    """E-mail the notices created at `since` or later and not yet e-mailed, to recipients with an
    address (Django's mail settings); marks them e-mailed, so each goes out once."""
    from django.core.mail import send_mass_mail

    from custos.remediation.models import Notice

    todo = list(
        Notice.objects.filter(at__gte=since, emailed_at__isnull=True)
        .exclude(recipient__email="")
        .select_related("recipient", "task")
    )
    subjects = {
        Notice.Kind.REMIND: "[custos] 整改任务即将到期 / remediation task due soon",
        Notice.Kind.ESCALATE_MANAGER: "[custos] 整改任务已逾期（升级） / overdue remediation task escalated",
        Notice.Kind.ESCALATE_COMPLIANCE: "[custos] 整改任务已逾期（升级合规） / overdue task escalated to compliance",
    }
    messages = [
        (subjects[n.kind], f"#{n.task_id} {n.task.policy_no} {n.task.role}/{n.task.seq}: "
         f"{n.task.checks} · due {n.task.due_on}", None, [n.recipient.email])
        for n in todo
    ]  # fmt: skip
    if messages:
        send_mass_mail(messages, fail_silently=False)
        Notice.objects.filter(pk__in=[n.pk for n in todo]).update(emailed_at=timezone.now())
    return len(messages)


# --- export to the core systems, and the acknowledgement ------------------------------------------

CHANGE_COLUMNS = ("policy_no", "role", "seq", "field", "old_value", "new_value", "changed_at", "changed_by",
                  "request_no")  # fmt: skip
ACK_COLUMNS = ("policy_no", "role", "seq", "field", "changed_at", "result", "message")


def _changed_at(c: Correction) -> str:
    return (
        timezone.localtime(c.applied_at).strftime("%Y-%m-%d %H:%M:%S%z")[:-2]
        + ":"
        + timezone.localtime(c.applied_at).strftime("%z")[-2:]
    )


def export_corrections(out: Path, *, encoding: str = "utf-8", user=None) -> ExportBatch:
    """Write the verified, not yet exported corrections as the book format's changes table (CSV) and
    mark them exported. changed_by is the proposer's staff number (the operator).

    OUT must not exist (a previous export not yet sent is never overwritten); the file is written
    whole (temporary file, then renamed). With nothing to export the file holds the header only and
    no batch is recorded (the returned batch is unsaved, rows 0)."""
    if encoding not in ("gbk", "utf-8"):
        raise RemediationError("编码须为 gbk 或 utf-8。 / The encoding must be gbk or utf-8.")
    out = Path(out)
    if out.exists():
        raise RemediationError(f"{out} 已存在，未覆盖。 / {out} exists: not overwritten.")
    with transaction.atomic():
        rows = list(
            Correction.objects.select_for_update()
            .filter(status=Correction.Status.VERIFIED, export_batch__isnull=True)
            .order_by("id")
        )
        staff = dict(Profile.objects.filter(user_id__in={c.proposed_by_id for c in rows})
                     .values_list("user_id", "staff_no"))  # fmt: skip
        data = bytearray()
        for c in [None, *rows]:
            buf = io.StringIO()
            cells = CHANGE_COLUMNS if c is None else (
                c.policy_no, c.role, c.seq, c.field, c.old_value, c.new_value, _changed_at(c),
                staff.get(c.proposed_by_id, ""), c.request_no)  # fmt: skip
            csv.writer(buf, lineterminator="\r\n").writerow([neutralise(v) for v in cells])
            try:
                data += buf.getvalue().encode(encoding)
            except UnicodeEncodeError as exc:
                bad = exc.object[exc.start : exc.end]
                raise RemediationError(
                    f"更正 #{c.pk}（{c.policy_no}/{c.role}/{c.seq} {c.field}）含 {encoding} 无法表示的字符 {bad!r}，"
                    f"请改用 utf-8；未导出任何更正。 / Correction #{c.pk} ({c.policy_no}/{c.role}/{c.seq} "
                    f"{c.field}) has {bad!r}, which {encoding} cannot write: use utf-8; nothing was exported."
                ) from exc
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
        tmp.write_bytes(bytes(data))
        tmp.replace(out)
        now = timezone.now()
        batch = ExportBatch(
            created_at=now, created_by=getattr(user, "username", "") or "", path=str(out), encoding=encoding,
            rows=len(rows), sha256=hashlib.sha256(data).hexdigest(),
        )  # fmt: skip
        if rows:
            batch.save()
            Correction.objects.filter(pk__in=[c.pk for c in rows]).update(export_batch=batch, exported_at=now)
    return batch


def acknowledge(path: Path) -> dict:
    """Read the core systems' acknowledgement (CSV: policy_no, role, seq, field, changed_at, result
    accepted|rejected, message; UTF-8 or GBK) and record it on the exported corrections.

    All or nothing: a row that names no exported correction, a result other than accepted/rejected,
    or a result contradicting an earlier acknowledgement refuses the whole file with the file, row and
    field named. A row acknowledged before with the same result is counted as "already" (the same
    file read twice changes nothing). A rejection is a task event and sends a verified task back to
    contacting: the core systems did not take the value, so the next book will not pass."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gbk")
        except UnicodeDecodeError as exc:
            raise RemediationError(
                f"{path}：既不是 UTF-8 也不是 GBK 编码。 / {path}: neither UTF-8 nor GBK (byte {exc.start})."
            ) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = set(ACK_COLUMNS[:6]) - set(reader.fieldnames or ())
    if missing:
        raise RemediationError(
            f"{path}：回执缺少列 {', '.join(sorted(missing))}。 / {path}: the acknowledgement lacks the "
            f"column(s) {', '.join(sorted(missing))}."
        )
    exported = {
        (c.policy_no, c.role, str(c.seq), c.field, _changed_at(c)): c
        for c in Correction.objects.filter(export_batch__isnull=False).select_related("task")
    }
    counts = {"accepted": 0, "rejected": 0, "already": 0}
    todo, errors = [], []
    for lineno, row in enumerate(reader, start=2):
        key = tuple((row.get(k) or "").strip() for k in ("policy_no", "role", "seq", "field", "changed_at"))
        result = (row.get("result") or "").strip().lower()
        c = exported.get(key)
        if result not in ("accepted", "rejected"):
            errors.append(f"{path} row {lineno} result: {result!r} is not accepted or rejected")
        elif c is None:
            errors.append(
                f"{path} row {lineno}: no exported correction {'/'.join(key[:3])} {key[3]} at {key[4]}"
            )
        elif c.ack_status and c.ack_status != result:
            errors.append(
                f"{path} row {lineno} result: {result}, but it was acknowledged {c.ack_status} before"
            )
        elif c.ack_status == result:
            counts["already"] += 1
        else:
            todo.append((c, result, (row.get("message") or "")[:500]))
    if errors:
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        raise RemediationError(
            f"回执有误，未记录任何一行：{errors[0]}。 / The acknowledgement was refused, nothing recorded: "
            + "; ".join(errors[:3])
            + more
        )
    now = timezone.now()
    batches = set()
    with transaction.atomic():
        for c, result, message in todo:
            Correction.objects.filter(pk=c.pk).update(ack_status=result, ack_message=message)
            counts[result] += 1
            batches.add(c.export_batch_id)
            if result == "rejected":
                task = Task.objects.select_for_update().get(pk=c.task_id)
                why = f"core system rejected {c.field}: {message}"
                if task.status == S.VERIFIED:
                    transition(task, S.CONTACTING, None, why)
                else:
                    _event(task.pk, None, "ack_rejected", task.status, task.status, why)
        for b in batches:
            agg = Correction.objects.filter(export_batch_id=b).aggregate(
                a=Count("id", filter=Q(ack_status="accepted")), r=Count("id", filter=Q(ack_status="rejected"))
            )
            ExportBatch.objects.filter(pk=b).update(acked_at=now, accepted=agg["a"], rejected=agg["r"])
    return counts


# --- reading (pages, API): scoped, masked, logged -------------------------------------------------


def progress(ctx, *, days: int = 30, today: dt.date | None = None) -> dict:
    """Open / closed / overdue tasks by channel and by branch, and a burn-down of open tasks per day."""
    today = today or timezone.localdate()
    qs = scoped_tasks(ctx)
    counts = {
        "open": Count("id", filter=~Q(status=S.CLOSED)),
        "closed": Count("id", filter=Q(status=S.CLOSED)),
        "overdue": Count("id", filter=~Q(status=S.CLOSED) & Q(due_on__lt=today)),
    }
    by_channel = list(qs.values("channel").annotate(**counts).order_by("channel"))
    by_branch = list(qs.values("branch_code").annotate(**counts).order_by("branch_code"))
    total = qs.aggregate(**counts)
    burn = []
    tz = timezone.get_current_timezone()
    for i in range(days, -1, -1):
        day = today - dt.timedelta(days=i)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        n = qs.filter(created_at__lt=end).filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end)).count()
        burn.append({"day": day.isoformat(), "open": n})
    return {"total": total, "by_channel": by_channel, "by_branch": by_branch, "burndown": burn}


def read_corrections(ctx, task: Task) -> list[dict]:
    """The task's corrections with old and new values masked; the read is logged first."""
    from custos.access import readlog

    rows = list(task.corrections.select_related("proposed_by", "reviewed_by", "verified_by").order_by("id"))
    readlog.append(user=ctx.user, staff_no=ctx.staff_no, action="task_view", model="correction",
                   record_ids=[c.pk for c in rows], fields=["old_value", "new_value"], client=ctx.client,
                   outcome="ok" if rows else "empty")  # fmt: skip
    out = []
    for c in rows:
        out.append({
            "id": c.pk, "field": c.field, "status": c.status, "status_label": c.get_status_display(),
            "old_value": _mask(c.field, c.old_value), "new_value": _mask(c.field, c.new_value),
            "request_no": c.request_no, "forced": c.forced, "evidence_id": c.evidence_id,
            "proposed_by": c.proposed_by.username, "proposed_at": c.proposed_at,
            "reviewed_by": c.reviewed_by.username if c.reviewed_by else "", "review_note": c.review_note,
            "verified_by": c.verified_by.username if c.verified_by else "", "exported_at": c.exported_at,
            "ack_status": c.ack_status,
        })  # fmt: skip
    return out


def _mask(field_name: str, value: str) -> str:
    if not value:
        return ""
    if field_name in masking.FIELD_MASKS:
        return str(masking.mask_field(field_name, value))
    return value
