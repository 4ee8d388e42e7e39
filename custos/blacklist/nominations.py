"""The nominations this member sends to the association: the discipline app's (custos.discipline,
`approved_nominations()` and `mark_sent(n)`), read through this small interface so that the
exchange does not depend on how discipline keeps them.

A nomination is any object with `pk`, `staff_no`, `reason` and a dismissal date (`dismissed_on`,
else `decided_on`); the ID number and name are the book's (Staff), read here, sent once."""

from __future__ import annotations

import datetime as dt

from custos.blacklist.services.files import normalise_id


def _discipline():
    try:
        from custos.discipline import services
    except ImportError:  # discipline not installed (yet): nothing to send
        return None
    if not hasattr(services, "approved_nominations") or not hasattr(services, "mark_sent"):
        return None
    return services


def approved() -> list:
    """Nominations compliance approved and not sent yet."""
    d = _discipline()
    return list(d.approved_nominations()) if d is not None else []


def payload(n) -> dict:
    """What travels for one nomination (an authenticated request to the association)."""
    from custos.book.models import Staff

    staff = Staff.objects.filter(staff_no=n.staff_no, gone_load__isnull=True).first()
    if staff is None:
        raise ValueError(f"nomination {n.pk}: staff {n.staff_no} is not in the book")
    number, why = normalise_id(staff.id_no)
    if number is None:
        raise ValueError(f"nomination {n.pk}: staff {n.staff_no}: {why}")
    day = getattr(n, "dismissed_on", None) or getattr(n, "decided_on", None) or dt.date.today()
    if isinstance(day, dt.datetime):
        day = day.date()
    return {
        "reference": f"N{n.pk}",
        "id_no": number,
        "name": staff.name,
        "reason": str(
            getattr(n, "reason", "") or "dismissed for disclosing or reselling customer information"
        ),
        "dismissed_on": day.isoformat(),
    }


def mark_sent(n, received=None) -> None:
    d = _discipline()
    if d is not None:
        d.mark_sent(n)
