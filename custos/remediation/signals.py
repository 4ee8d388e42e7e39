"""After each finished check run, tasks follow the findings (services.sync_tasks).

Connected to CheckRun's post_save: when a run is saved as done, the sync runs in the same transaction
as the reconciliation of the findings (custos.checks.services.run_check), inside a savepoint, so tasks
and findings commit together. A failing sync is logged and does not fail the check run; the next run
or `custos tasks sync` catches up (sync is idempotent)."""

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from custos.checks.models import CheckRun
from custos.remediation import conf

log = logging.getLogger(__name__)


@receiver(post_save, sender=CheckRun, dispatch_uid="remediation_sync_after_check")
def sync_after_check(sender, instance: CheckRun, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or instance.status != CheckRun.Status.DONE or not conf.get("sync_after_check"):
        return
    from custos.remediation.services import sync_tasks

    try:
        with transaction.atomic():
            sync_tasks(instance)
    except Exception:
        log.exception("task sync after check run %s failed", instance.pk)


@receiver(post_save, sender="access.Profile", dispatch_uid="remediation_assign_new_seller")
def assign_to_new_seller(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """An agent's or outlet's account, once it exists, gets the tasks of the customers it sold (they
    waited unassigned, or with a channel manager by the orphan rule). Not for other profiles."""
    if raw or not (instance.staff_no or instance.partner_code):
        return
    from custos.remediation.services import assign_tasks

    try:
        with transaction.atomic():
            assign_tasks()
    except Exception:
        log.exception("task assignment after the profile of user %s was saved failed", instance.user_id)
