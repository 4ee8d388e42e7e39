"""Remediation settings: `settings.CUSTOS_REMEDIATION` (a dict) over these defaults.

A company sets its own rules without code: who gets a task, how long it has, when reminders and
escalations go out, what share of closed tasks is re-checked, what evidence is accepted."""

from django.conf import settings

from custos.access.capabilities import roles_with

DEFAULTS = {
    # Assignment rules, tried in order for each new task: the partner's contact for partner-sold
    # policies, the selling agent (while employed), else the branch's channel manager ("orphan").
    "assign_rules": ["partner", "agent", "channel_manager"],
    "due_days": 30,
    "remind_days_before": 7,  # a reminder this many days before the due date
    # escalation: overdue → the assignee's manager (Staff.supervisor_no); this many days later → compliance
    "escalate_to_compliance_after_days": 15,
    "sample_share": 0.05,  # 抽检: share of closed tasks drawn for re-check
    "evidence_max_bytes": 5 * 1024 * 1024,
    "evidence_types": {
        "application/pdf": b"%PDF",
        "image/jpeg": b"\xff\xd8\xff",
        "image/png": b"\x89PNG\r\n\x1a\n",
    },
    # contact fields whose change on an issued policy needs a customer request number (SC01)
    "contact_fields": ["mobile", "phone", "address"],
    "sync_after_check": True,
    # reminders and escalations are Notices on the person's task list; also e-mailed (Django's EMAIL_*
    # settings) to recipients with an address when this is on
    "notify_email": False,
}


def get(name: str):
    return getattr(settings, "CUSTOS_REMEDIATION", {}).get(name, DEFAULTS[name])


# The roles that work remediation tasks (or follow their progress): the capability "task.work" of
# the table in custos/access/capabilities.py; the pages, the API and the main navigation's link are
# for them, other roles get 403.
USER_ROLES = roles_with("task.work")
