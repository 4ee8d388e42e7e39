"""Extractions (数据提取): request → executive approval → fingerprinted, encrypted file → one logged
download → expiry. Views, API and the `custos extract` command call this module only:

    ext = request_extraction(user, purpose=…, scope={…}, fields=[…], recipient_username=…)
    approve(ext, executive)           # four eyes: never the requester, never the recipient
    generate(ext.pk)                  # the Huey task run_generate calls this (generation.py)
    name, data = download(ext, recipient)
    expire()                          # periodic task and `custos extract expire` (workflow.py)
    lt = start_trace(upload, user)    # a leaked file, traced by the job run_trace (leaks.py)

The app's other modules: workflow.py (fields, roles, the state machine, whose rows), generation.py
(the file), canaries.py (synthetic customers), leaks.py (tracing), tasks.py (the jobs). This module
re-exports what the interfaces use from them.

Every refusal raises an ExtractionError subclass whose message is meant for the user (gettext).
Every state change is an ExtractionEvent and an audit entry (custos.audit), in one transaction: a
change that cannot be audited does not happen.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.capabilities import can
from custos.access.models import Role
from custos.access.service import AccessContext
from custos.crypto.fields import Keys
from custos.extraction import conf, generation, leaks, tasks
from custos.extraction.generation import FILE_MAGIC, generate, open_file, seal_file  # noqa: F401
from custos.extraction.leaks import TraceRejected, TraceResult, trace  # noqa: F401
from custos.extraction.models import Extraction, ExtractionEvent, LeakTrace
from custos.extraction.workflow import (  # noqa: F401 - the interfaces' names
    APPROVER_ROLES,
    FIELD_LABELS,
    FIELDS,
    JUSTIFICATION_MIN,
    OVERSIGHT_ROLES,
    REQUEST_ROLES,
    SENSITIVE_FIELDS,
    TRACE_ROLES,
    ExtractionError,
    Gone,
    IllegalTransition,
    NotAllowed,
    audit_event,
    can_approve,
    can_oversee,
    can_request,
    can_trace,
    check_partners,
    clean_scope,
    clean_text,
    delete_file,
    downloader_of,
    expire,
    expire_one,
    extraction_parties,
    has_left,
    move,
    partner_agreement_valid,
    profile_of,
    role_of,
    scoped_parties,
    visible_to,
)

S = Extraction.State


class RecipientRefused(ExtractionError):
    """The named recipient may not receive this extraction. One answer, whatever the reason (no such
    user, inactive, departed, no profile, a partner without a valid agreement, nothing of the request
    in their scope), so that the request form does not tell which usernames exist."""


def _refused(name: str) -> RecipientRefused:
    return RecipientRefused(
        _(
            "接收人 %(name)s 不能接收这次提取：不是有效的系统用户、其权限范围内没有符合条件的客户，或其所属合作机构没有有效的保密协议。"
        )
        % {"name": name}
    )


def _find_user(username: str):
    """The user of that username, or None (NUL never matches: PostgreSQL refuses it in a query)."""
    if not username or "\x00" in username:
        return None
    return get_user_model().objects.filter(username=username).first()


def _may_receive(user) -> bool:
    """A named recipient must be an active custos user with a profile who has not left, and partner
    staff only while their partner's agreement is valid; their scope is checked by counting rows."""
    p = profile_of(user) if user is not None else None
    if p is None or has_left(p):
        return False
    if p.partner_code or p.role == Role.PARTNER_STAFF:
        return partner_agreement_valid(p.partner_code)
    return True


def narrowing_note(ext: Extraction) -> str:
    """What the requester and the approver are told when the recipient's scope narrowed the request."""
    return _(
        "筛选条件在申请人权限范围内有 %(m)s 名客户，接收人 %(who)s 只能看到其中 %(n)s 名：文件只包含这 %(n)s 名。"
    ) % {"m": ext.scope_rows, "n": ext.recipient_rows, "who": ext.recipient_label}


# --- request --------------------------------------------------------------------------------------------


def request_extraction(
    user,
    *,
    purpose: str,
    scope: dict | None = None,
    fields: list[str],
    justification: str = "",
    recipient_user=None,
    recipient_username: str = "",
    recipient_name: str = "",
    recipient_org: str = "",
    recipient_partner_code: str = "",
    file_format: str = "xlsx",
    client: str = "",
) -> Extraction:
    """Record a request: who, why, which customers (scope), which fields, for whom. The recipient is a
    custos user (recipient_user, or recipient_username as typed) or an external person (name and
    organisation, plus a partner code when the organisation is a partner outlet). The rows are the
    requester's scope ∩ the filters ∩ the recipient's scope (workflow.extraction_parties); scope_rows
    and recipient_rows record both counts, so the approver sees how far the recipient narrowed it."""
    profile = profile_of(user)
    if profile is None or not can(user, "extract.request"):
        raise NotAllowed(_("您的角色不能申请数据提取。"))
    purpose, justification = clean_text(purpose), clean_text(justification)
    recipient_name, recipient_org = clean_text(recipient_name), clean_text(recipient_org)
    recipient_partner_code = clean_text(recipient_partner_code)
    scope = {k: clean_text(v) if isinstance(v, str) else v for k, v in (scope or {}).items()}
    purpose = (purpose or "").strip()
    if len(purpose) < 4:
        raise ExtractionError(_("请说明提取用途。"))
    fields = list(dict.fromkeys(fields or []))
    unknown = [f for f in fields if f not in FIELD_LABELS]
    if unknown:
        raise ExtractionError(_("不能提取的字段：%(f)s") % {"f": ", ".join(unknown)})
    if not fields:
        raise ExtractionError(_("请至少选择一个字段。"))
    fields = [f for f in FIELDS if f in fields]  # file order
    justification = (justification or "").strip()
    if SENSITIVE_FIELDS & set(fields) and len(justification) < JUSTIFICATION_MIN:
        raise ExtractionError(
            _("提取证件号码、电话或地址等字段须说明理由（至少 %(n)s 个字）。") % {"n": JUSTIFICATION_MIN}
        )
    if file_format not in Extraction.Format.values:
        raise ExtractionError(_("文件格式只能是 XLSX 或 CSV。"))
    recipient_name, recipient_org = (recipient_name or "").strip(), (recipient_org or "").strip()
    typed = (recipient_username or "").strip()
    named = recipient_user is not None or bool(typed)
    if named:
        if recipient_name or recipient_org:
            raise ExtractionError(_("接收人只能是一名系统用户或一名外部人员，不能两者都填。"))
        if recipient_user is None:
            recipient_user = _find_user(typed)
        typed = typed or recipient_user.username
    elif not (recipient_name and recipient_org):
        raise ExtractionError(_("请指定接收人：系统用户，或外部人员的姓名和单位。"))
    scope = clean_scope(scope or {})
    ext = Extraction(
        requester=user,
        requester_staff_no=profile.staff_no,
        purpose=purpose[:500],
        scope=scope,
        fields=fields,
        justification=justification,
        recipient_user=recipient_user,
        recipient_name=recipient_name[:200],
        recipient_org=recipient_org[:200],
        recipient_partner_code=(recipient_partner_code or "").strip()[:64],
        file_format=file_format,
        nonce=secrets.token_hex(16),
    )
    check_partners(ext, recipient_user=False)  # the named user's partner: part of _may_receive
    ctx = AccessContext.for_user(user, client=client)
    m = scoped_parties(ctx, scope).count()
    if m == 0:
        raise ExtractionError(_("您的权限范围内没有符合条件的客户。"))
    # A named recipient is checked only now, after everything that does not depend on them, and every
    # reason they may not receive gives the same answer (RecipientRefused).
    if named and not _may_receive(recipient_user):
        raise _refused(clean_text(typed))
    n = extraction_parties(ext, ctx).count()
    if n == 0:
        if named:
            raise _refused(clean_text(typed))
        raise ExtractionError(
            _("合作机构 %(code)s 经办的保单中没有符合条件的客户。") % {"code": ext.recipient_partner_code}
        )
    if n > conf.max_rows():
        raise ExtractionError(
            _("符合条件的客户有 %(n)s 人，超过单次提取上限 %(max)s，请缩小范围。")
            % {"n": n, "max": conf.max_rows()}
        )
    ext.scope_rows, ext.recipient_rows = m, n
    with transaction.atomic():
        ext.save()
        ExtractionEvent.objects.create(
            extraction=ext, actor=user, actor_name=user.username, to_state=S.REQUESTED, note=purpose[:500]
        )
        audit_event(user, "extraction.requested", ext, purpose, client, fields)
    return ext


# --- decisions -------------------------------------------------------------------------------------------


def _check_decider(ext: Extraction, user) -> None:
    if not can_approve(user):
        raise NotAllowed(_("只有总经理室可以审批数据提取。"))
    if user.pk == ext.requester_id:
        raise NotAllowed(_("申请人不能审批自己的申请（双人原则）。"))
    if ext.recipient_user_id and user.pk == ext.recipient_user_id:
        raise NotAllowed(_("接收人不能审批发给自己的提取。"))
    p = profile_of(user)
    if p and has_left(p):
        raise NotAllowed(_("只有总经理室可以审批数据提取。"))


def approve(ext: Extraction, user, note: str = "", client: str = "", enqueue: bool = True) -> Extraction:
    _check_decider(ext, user)
    check_partners(ext)
    now = timezone.now()
    move(
        ext,
        S.APPROVED,
        user,
        note or _("批准"),
        client,
        approver=user,
        decided_at=now,
        decision_note=note[:500],
        expires_at=now + dt.timedelta(days=conf.expiry_days()),
    )
    if enqueue:
        transaction.on_commit(lambda: tasks.run_generate(ext.pk))
    return ext


def pending_rows(ext: Extraction) -> int:
    """How many customers the file would hold if generated now: the requester's scope ∩ the request's
    filters ∩ the recipient's scope, exactly as generation counts them. What the approver decides on."""
    return extraction_parties(ext, AccessContext.for_user(ext.requester, client="extraction")).count()


def sees_canaries(user) -> bool:
    """How many canaries a file holds is for those who trace leaks (compliance, IT security) only: a
    recipient who knew it would know how many rows to look for and drop."""
    return can(user, "leak.trace")


_CANARY_CLAUSE = re.compile(r"[，,]\s*\d+\s*条诱饵记录")


def event_note(note: str, user) -> str:
    """An event's note as `user` may read it: older "已生成" notes named the canary count."""
    return note if sees_canaries(user) else _CANARY_CLAUSE.sub("", note or "")


def reject(ext: Extraction, user, note: str = "", client: str = "") -> Extraction:
    """A rejection says why (required): the requester reads it on the page, the audit keeps it."""
    _check_decider(ext, user)
    note = clean_text(note).strip()
    current = Extraction.objects.filter(pk=ext.pk).values_list("state", flat=True).first()
    if not note and current == S.REQUESTED:  # otherwise move() names the state that forbids it
        raise ExtractionError(_("驳回须说明理由。"))
    now = timezone.now()
    return move(
        ext,
        S.REJECTED,
        user,
        note,
        client,
        approver=user,
        decided_at=now,
        decision_note=note[:500],
    )


def cancel(ext: Extraction, user, note: str = "", client: str = "") -> Extraction:
    if user.pk != ext.requester_id and not can(user, "extract.cancel"):
        raise NotAllowed(_("只有申请人或合规可以撤销提取申请。"))
    move(ext, S.CANCELLED, user, note or _("撤销"), client, file_path="")
    delete_file(ext)
    return ext


# --- download -------------------------------------------------------------------------------------------


def download(ext: Extraction, user, client: str = "") -> tuple[str, bytes]:
    """The decrypted file, once. The download is recorded before the bytes are returned; then the
    stored file is deleted and the link is spent."""
    if downloader_of(ext) is None or user.pk != downloader_of(ext).pk:
        raise NotAllowed(_("只有接收人可以下载（外部接收人由申请人代为下载）。"))
    ext.refresh_from_db()
    if ext.state == S.DOWNLOADED:
        raise Gone(_("该文件已下载过一次，下载链接已失效。"))
    if ext.state == S.EXPIRED or (
        ext.state == S.GENERATED and ext.expires_at and ext.expires_at <= timezone.now()
    ):
        if ext.state == S.GENERATED:
            expire_one(ext, _("下载时已过期"))
        raise Gone(_("该提取已过期，文件已删除。"))
    if ext.state != S.GENERATED:
        raise IllegalTransition(
            _("提取申请 #%(id)s 当前状态为“%(state)s”，不能下载。")
            % {"id": ext.pk, "state": S(ext.state).label}
        )
    p = profile_of(user)
    if p is None or has_left(p):
        raise NotAllowed(_("只有接收人可以下载（外部接收人由申请人代为下载）。"))
    check_partners(ext)
    try:
        data = generation.open_file(Keys.from_keyring(), ext, Path(ext.file_path).read_bytes())
    except (OSError, ValueError) as exc:
        raise Gone(_("提取文件不可用：%(e)s") % {"e": type(exc).__name__})
    path = ext.file_path
    move(
        ext,
        S.DOWNLOADED,
        user,
        _("已下载"),
        client,
        downloaded_at=timezone.now(),
        downloaded_by=user,
        file_path="",
    )
    Path(path).unlink(missing_ok=True)
    return ext.file_name, data


# --- leak tracing ----------------------------------------------------------------------------------------


def start_trace(upload, user, client: str = "", note: str = "") -> LeakTrace:
    """Accept a leaked file for tracing (TraceRejected: wrong type, empty, over the size limit — nothing
    is stored) and enqueue the trace job once the LeakTrace is committed."""
    if not can_trace(user):
        raise NotAllowed(_("只有合规和信息安全可以做泄露溯源。"))
    lt = leaks.accept_upload(upload, user, client, note)
    transaction.on_commit(lambda: tasks.run_trace(lt.pk))
    return lt


def traces_visible_to(user):
    """Leak traces: every one for the roles that trace (the case belongs to them jointly), none else."""
    return LeakTrace.objects.select_related("created_by") if can_trace(user) else LeakTrace.objects.none()
