"""Reminders before the due date and escalation of overdue tasks (set-wise SQL)."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.remediation import conf
from custos.remediation.services.states import (
    _LOCK_KEY,
)
from custos.remediation.services.sync import _analyze, _covering_user, _t, _tables, _temp

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
        Notice.Kind.REMIND: _("[custos] 整改任务即将到期"),
        Notice.Kind.ESCALATE_MANAGER: _("[custos] 整改任务已逾期（升级）"),
        Notice.Kind.ESCALATE_COMPLIANCE: _("[custos] 整改任务已逾期（升级合规）"),
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
