"""The task state machine, the optimistic lock, and who may see which task (scope)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import roles_with
from custos.audit.record import record
from custos.remediation.models import (
    Task,
    TaskEvent,
)
from custos.remediation.services.errors import (
    Conflict,
    IllegalTransition,
    NotAllowed,
    RemediationError,
)

S = Task.Status
_LOCK_KEY = 0x72656D6564  # "remed": one sync at a time on PostgreSQL

# Party fields a correction may change.
EDITABLE_FIELDS = (
    "name", "gender", "birth_date", "id_type", "id_no", "id_valid_until", "nationality", "relation",
    "mobile", "phone", "address", "postcode", "email", "occupation_code",
)  # fmt: skip
# The holders of task.assign (custos/access/capabilities.py), for the tests' matrices.
MANAGER_ROLES = roles_with("task.assign")


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
                _("只有已回访确认的更正才能关闭任务：任务当前为 %(status)s。") % {"status": _label(frm)}
            )
        raise IllegalTransition(
            _("不允许的状态变更：%(frm)s → %(to)s。") % {"frm": _label(frm), "to": _label(to)}
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
        raise BadVersion(_("版本号须是 0 到 %(max)s 之间的整数。") % {"max": MAX_VERSION})


def _bump(task: Task, version: int | None, kept: dict | None = None, **changes) -> None:
    """Optimistic lock: write `changes` and version+1 only if the task is still at `version`."""
    check_version(version)
    expected = task.version if version is None else version
    n = Task.objects.filter(pk=task.pk, version=expected).update(version=expected + 1, **changes)
    if n == 0:
        raise Conflict(
            _("此任务已被他人修改，您的操作未保存；您填写的内容已保留，请刷新后核对再提交。"),
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
        raise NotAllowed(_("此任务不在您的权限范围内。"))
