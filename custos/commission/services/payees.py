"""Who a signed-in user is as a payee of commission."""

from __future__ import annotations

from custos.access.capabilities import can
from custos.access.models import Profile


def own_payee(user) -> tuple[str, str] | None:
    """The payee an agent or a partner outlet's staff member is: (payee_kind, payee). Only holders
    of commission.own have one (a clerk's staff number is not a payee)."""
    if not can(user, "commission.own"):
        return None
    p = Profile.objects.filter(user=user).first()
    if p is None:
        return None
    if p.partner_code:
        return ("partner", p.partner_code)
    return ("agent", p.staff_no) if p.staff_no else None
