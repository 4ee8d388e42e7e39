"""Access housekeeping that is not a read: deactivating the accounts of staff who have left.

(The read path is custos/access/service.py.)"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from custos.access.models import Profile
from custos.audit import service as audit


def deactivate_departed_staff(today=None) -> list[str]:
    """Deactivate every active user whose Profile.staff_no is a Staff row with left_on on or before
    today; returns their usernames. Called after each successful book load (custos/book/tasks.py), so
    staff who leave lose access the day the staff table says so. Each deactivation is audited."""
    from custos.book.models import Staff

    today = today or timezone.localdate()
    departed = Staff.objects.filter(left_on__isnull=False, left_on__lte=today).values("staff_no")
    users = get_user_model().objects.filter(
        is_active=True,
        pk__in=Profile.objects.filter(staff_no__in=departed).exclude(staff_no="").values("user_id"),
    )
    names = []
    for user in users:
        with transaction.atomic():
            type(user).objects.filter(pk=user.pk).update(is_active=False)
        staff_no = Profile.objects.filter(user=user).values_list("staff_no", flat=True).first() or ""
        names.append(user.username)
        try:
            audit.append(username=user.username, staff_no=staff_no, action="deactivate", model="user",
                         record_ids=[user.pk], purpose="staff left_on reached", client="system")  # fmt: skip
        except audit.AuditWriteError:
            pass  # the deactivation itself has happened; the audit gap shows as a missing entry only
    return names
