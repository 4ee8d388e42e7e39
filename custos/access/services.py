"""Access housekeeping that is not a read: deactivating the accounts of staff who have left.

(The read path is custos/access/service.py.)"""

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from custos.access.models import Profile
from custos.audit.record import AuditWriteError, acting

log = logging.getLogger("custos.security")


def deactivate_departed_staff(today=None) -> list[str]:
    """Deactivate every active user whose Profile.staff_no is a Staff row with left_on on or before
    today; returns their usernames. Called after each successful book load (custos/book/tasks.py), so
    staff who leave lose access the day the staff table says so. Each deactivation is recorded
    (`user.deactivated`, custos.audit.record) in its own transaction: one that cannot be recorded
    does not happen."""
    from custos.book.models import Staff

    today = today or timezone.localdate()
    departed = Staff.objects.filter(left_on__isnull=False, left_on__lte=today).values("staff_no")
    users = get_user_model().objects.filter(
        is_active=True,
        pk__in=Profile.objects.filter(staff_no__in=departed).exclude(staff_no="").values("user_id"),
    )
    names = []
    for user in users:
        try:
            with transaction.atomic(), acting(None, client="system", reason="staff left_on reached"):
                user.is_active = False
                user.save(update_fields=["is_active"])  # recorded by the signal: user.deactivated
        except AuditWriteError:
            # fail closed: unrecorded, so not deactivated; the scope filter already shows the user
            # nothing from left_on, and the next load tries again
            log.exception("audit log unavailable: %s not deactivated", user.username)
            continue
        names.append(user.username)
    return names
