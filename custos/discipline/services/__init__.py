"""What pages, commands and the demo call (docs/discipline.md)."""

from custos.discipline.services.cases import (
    DisciplineError,
    Evidence,
    NotAllowed,
    appeal,
    approve_nomination,
    approved_nominations,
    close,
    decide,
    is_own,
    mark_sent,
    may_see,
    nominee,
    notify,
    own_staff_no,
    propose,
    propose_manual,
)
from custos.discipline.services.facts import propose_from_facts

__all__ = [
    "DisciplineError",
    "Evidence",
    "NotAllowed",
    "appeal",
    "approve_nomination",
    "approved_nominations",
    "close",
    "decide",
    "is_own",
    "mark_month_paid",
    "mark_sent",
    "may_see",
    "nominee",
    "notify",
    "own_staff_no",
    "propose",
    "propose_from_facts",
    "propose_manual",
]


def mark_month_paid(month: str, user) -> int:
    """Payroll deducted the month's list: every case still awaiting payment marked paid."""
    from django.utils.translation import gettext as _

    from custos.access.capabilities import can
    from custos.discipline.models import Violation
    from custos.discipline.services import fines

    if not can(user, "violation.fines"):
        raise NotAllowed(_("您的角色不能登记罚款缴纳。"))
    n = 0
    for v in fines.cases(month).filter(status=Violation.Status.DECIDED):
        close(v, user, paid=True, note=f"payroll {month}")
        n += 1
    return n
