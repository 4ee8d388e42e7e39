"""The extraction workflow every other module of the app builds on: the fields a file may hold, who
may do what, the state machine (`move`: an ExtractionEvent and an audit entry in one transaction),
partner agreements, the rows of an extraction (the requester's scope ∩ the recipient's, narrowed by the
request's filters) and expiry. No file handling here (generation.py), no tracing (leaks.py), no task
queue (tasks.py imports this module, never the other way round).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.access.capabilities import can, profile_of, role_of, roles_with  # noqa: F401 (re-exported)
from custos.access.capabilities import has_left as left
from custos.access.models import Profile, Role
from custos.access.service import AccessContext
from custos.audit import service as audit
from custos.audit.record import record
from custos.book.models import Branch, Partner, Party, Policy, branch_subtree
from custos.domain import codes
from custos.extraction.models import Extraction, ExtractionEvent

S = Extraction.State

# Party fields a request may ask for, in file order, with their column headers.
FIELD_LABELS = {
    "relation": gettext_lazy("与投保人关系"),
    "name": gettext_lazy("姓名"),
    "gender": gettext_lazy("性别"),
    "birth_date": gettext_lazy("出生日期"),
    "id_type": gettext_lazy("证件类型"),
    "id_no": gettext_lazy("证件号码"),
    "id_valid_until": gettext_lazy("证件有效期"),
    "nationality": gettext_lazy("国籍"),
    "mobile": gettext_lazy("手机号"),
    "phone": gettext_lazy("固定电话"),
    "address": gettext_lazy("地址"),
    "postcode": gettext_lazy("邮编"),
    "email": gettext_lazy("电子邮箱"),
    "occupation_code": gettext_lazy("职业代码"),
}
FIELDS = list(FIELD_LABELS)
# Identity and contact fields: a request for any of them needs a written justification.
SENSITIVE_FIELDS = frozenset({"id_no", "mobile", "phone", "address", "email"})
KEY_COLUMNS = ["policy_no", "role", "seq"]  # always in the file, first
KEY_LABELS = {"policy_no": gettext_lazy("保单号"), "role": gettext_lazy("角色"), "seq": gettext_lazy("序号")}
# Cells digested into the manifest (they identify a row in a leaked copy).
DIGEST_FIELDS = ("policy_no", "name", "id_no", "mobile", "phone", "address", "email")
# Which cell carries a row's whitespace mark: the first of these in the file.
MARK_FIELDS = ("name", "address", "policy_no")
JUSTIFICATION_MIN = 10

# The holders of the extraction capabilities (custos/access/capabilities.py), for the tests' matrices.
REQUEST_ROLES = roles_with("extract.request")
APPROVER_ROLES = roles_with("extract.approve")
OVERSIGHT_ROLES = roles_with("extract.oversee")  # see every extraction
TRACE_ROLES = roles_with("leak.trace")

TRANSITIONS = {
    S.REQUESTED: {S.APPROVED, S.REJECTED, S.CANCELLED},
    S.APPROVED: {S.GENERATED, S.FAILED, S.CANCELLED, S.EXPIRED},
    S.GENERATED: {S.DOWNLOADED, S.EXPIRED, S.CANCELLED},
    S.DOWNLOADED: {S.EXPIRED},
    S.REJECTED: set(),
    S.EXPIRED: set(),
    S.CANCELLED: set(),
    S.FAILED: set(),
}


class ExtractionError(Exception):
    status = 400


class NotAllowed(ExtractionError):
    status = 403


class IllegalTransition(ExtractionError):
    status = 409


class Gone(ExtractionError):
    status = 410


# --- who may do what --------------------------------------------------------------------------------


def can_request(user) -> bool:
    return can(user, "extract.request")


def can_approve(user) -> bool:
    return can(user, "extract.approve")


def can_oversee(user) -> bool:
    return can(user, "extract.oversee")


def can_trace(user) -> bool:
    return can(user, "leak.trace")


def visible_to(user) -> QuerySet[Extraction]:
    """Extractions a user may see: all for compliance and auditors; otherwise those they requested,
    receive, or (executives) may decide or decided."""
    qs = Extraction.objects.select_related("requester", "approver", "recipient_user")
    if profile_of(user) is None:
        return qs.none()
    if can(user, "extract.oversee"):
        return qs
    cond = Q(requester=user) | Q(recipient_user=user)
    if can(user, "extract.approve"):
        cond |= Q(state=S.REQUESTED) | Q(approver=user)
    return qs.filter(cond)


def partner_agreement_valid(partner_code: str, today: dt.date | None = None) -> bool:
    """A partner outlet may receive customer data only with a valid agreement. The book's Partner has no
    confidentiality-agreement fields yet: status "active" and contract_until on or after today stand in
    for them (docs/extraction.md)."""
    today = today or timezone.localdate()
    p = Partner.objects.filter(partner_code=partner_code).first()
    return bool(p and p.status == "active" and p.contract_until and p.contract_until >= today)


def _partner_codes(ext: Extraction, recipient_user: bool = True) -> list[str]:
    codes_ = []
    for user in (ext.requester, ext.recipient_user if recipient_user else None):
        p = profile_of(user) if user else None
        if p and p.partner_code:
            codes_.append(p.partner_code)
        elif p and p.role == Role.PARTNER_STAFF:
            codes_.append("")  # partner staff without a partner: never valid
    if ext.recipient_partner_code:
        codes_.append(ext.recipient_partner_code)
    return codes_


def check_partners(ext: Extraction, recipient_user: bool = True) -> None:
    """A partner outlet without a valid agreement receives no customer data: the requester's, the
    recipient user's (unless recipient_user is False: at request time that is part of the one answer
    for a recipient who may not receive) and an external recipient's partner."""
    for code in _partner_codes(ext, recipient_user):
        if not partner_agreement_valid(code):
            raise NotAllowed(
                _("合作机构 %(code)s 没有有效的保密协议（状态有效且合同未到期），不得提取客户数据。")
                % {"code": code or "?"}
            )


def has_left(profile: Profile) -> bool:
    return left(profile.staff_no)


# --- state changes ------------------------------------------------------------------------------------


def audit_event(actor, action: str, ext, note: str = "", client: str = "", fields=()) -> None:
    """ext: an Extraction, or a list of extraction ids."""
    p = profile_of(actor) if actor is not None else None
    audit.append(
        username=getattr(actor, "username", "") or "system",
        staff_no=p.staff_no if p else "",
        action=action,
        model="extraction",
        record_ids=list(ext) if isinstance(ext, list) else [ext.pk],
        fields=list(fields),
        purpose=note[:500],
        client=client,
    )


def clean_text(text: str | None) -> str:
    """Text as stored: NUL characters removed (PostgreSQL text cannot hold them)."""
    return (text or "").replace("\x00", "")


def move(ext: Extraction, to: str, actor, note: str = "", client: str = "", **updates) -> Extraction:
    """Change state (locking the row), record the event and audit it (custos.audit.record: the note,
    e.g. a rejection's reason, sealed in the change event); all or nothing."""
    note = clean_text(note)
    with transaction.atomic():
        current = Extraction.objects.select_for_update().get(pk=ext.pk)
        if to not in TRANSITIONS.get(current.state, set()):
            raise IllegalTransition(
                _("提取申请 #%(id)s 当前状态为“%(state)s”，不能变为“%(to)s”。")
                % {"id": ext.pk, "state": S(current.state).label, "to": S(to).label}
            )
        for k, v in updates.items():
            setattr(current, k, v)
        from_state, current.state = current.state, to
        current.save()
        ExtractionEvent.objects.create(
            extraction=current,
            actor=actor if getattr(actor, "pk", None) else None,
            actor_name=getattr(actor, "username", "") or "system",
            from_state=from_state,
            to_state=to,
            note=note[:500],
        )
        after = {
            "state": to,
            **({"decision_note": updates["decision_note"]} if "decision_note" in updates else {}),
        }
        record(actor, f"extraction.{to}", current, {"state": from_state}, after, note, client=client)
    for k in ext.__dict__:
        if not k.startswith("_") and hasattr(current, k):
            setattr(ext, k, getattr(current, k))
    return ext


# --- scope ------------------------------------------------------------------------------------------------


def _parse_date(value, label: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ExtractionError(_("%(label)s 不是有效日期（YYYY-MM-DD）。") % {"label": label})


def clean_scope(scope: dict) -> dict:
    out = {}
    branch = (scope.get("branch") or "").strip()
    if branch:
        if not Branch.objects.filter(branch_code=branch).exists():
            raise ExtractionError(_("机构代码 %(code)s 不存在。") % {"code": branch})
        out["branch"] = branch
    channel = (scope.get("channel") or "").strip()
    if channel:
        if channel not in codes.CHANNEL:
            raise ExtractionError(_("渠道 %(code)s 不存在。") % {"code": channel})
        out["channel"] = channel
    status = (scope.get("status") or "").strip()
    if status:
        if status not in codes.POLICY_STATUS:
            raise ExtractionError(_("保单状态 %(code)s 不存在。") % {"code": status})
        out["status"] = status
    d0 = _parse_date(scope.get("date_from"), _("起始日期"))
    d1 = _parse_date(scope.get("date_to"), _("截止日期"))
    if d0 and d1 and d0 > d1:
        raise ExtractionError(_("起始日期晚于截止日期。"))
    if d0:
        out["date_from"] = d0.isoformat()
    if d1:
        out["date_to"] = d1.isoformat()
    return out


def scoped_policies(ctx: AccessContext, scope: dict) -> QuerySet[Policy]:
    """The requester's own scope (the access service), narrowed by the request's filters: branch
    subtree, channel, policy status, issue date range. Policies gone from the book are left out."""
    qs = ctx.policies().filter(gone_load__isnull=True)
    if scope.get("branch"):
        qs = qs.filter(branch_code__in=branch_subtree(scope["branch"]))
    if scope.get("channel"):
        qs = qs.filter(channel=scope["channel"])
    if scope.get("status"):
        qs = qs.filter(status=scope["status"])
    if scope.get("date_from"):
        qs = qs.filter(issued_on__gte=scope["date_from"])
    if scope.get("date_to"):
        qs = qs.filter(issued_on__lte=scope["date_to"])
    return qs


def scoped_parties(ctx: AccessContext, scope: dict) -> QuerySet[Party]:
    return Party.objects.filter(
        gone_load__isnull=True, policy_no__in=scoped_policies(ctx, scope).values("policy_no")
    )


# --- whose rows ---------------------------------------------------------------------------------------


def recipient_policies(ext: Extraction) -> QuerySet[Policy] | None:
    """What the recipient may see, evaluated now: a custos user's own scope through the access service
    (a recipient who left, was deactivated or lost their scope sees nothing); for an external recipient
    at a partner outlet, the policies sold through that partner; None for any other external recipient,
    who has no scope in custos (the requester's scope and the executive's approval bound the file)."""
    if ext.recipient_user_id:
        return AccessContext.for_user(ext.recipient_user).policies()
    if ext.recipient_partner_code:
        return Policy.objects.filter(partner_code=ext.recipient_partner_code)
    return None


def extraction_parties(ext: Extraction, ctx: AccessContext) -> QuerySet[Party]:
    """The rows an extraction may hold: parties of the policies in the requester's scope (ctx) that
    match the request's filters *and* lie in the recipient's scope (recipient_policies). Request,
    approval and generation all call this, so a file never holds a customer its recipient could not
    see on their own pages."""
    policies = scoped_policies(ctx, ext.scope)
    theirs = recipient_policies(ext)
    if theirs is not None:
        policies = policies.filter(policy_no__in=theirs.values("policy_no"))
    return Party.objects.filter(gone_load__isnull=True, policy_no__in=policies.values("policy_no"))


# --- who downloads; expiry ---------------------------------------------------------------------------------


def downloader_of(ext: Extraction):
    """Who may download: the recipient when a custos user, else the requester (who hands it on)."""
    return ext.recipient_user if ext.recipient_user_id else ext.requester


def delete_file(ext: Extraction) -> None:
    path = Extraction.objects.filter(pk=ext.pk).values_list("file_path", flat=True).first() or ext.file_path
    if path:
        Path(path).unlink(missing_ok=True)


def expire_one(ext: Extraction, note: str = "") -> None:
    path = ext.file_path
    move(ext, S.EXPIRED, None, note or _("到期"), file_path="")
    if path:
        Path(path).unlink(missing_ok=True)


def expire(now: dt.datetime | None = None) -> int:
    """Expire every approved, generated or downloaded extraction whose time has come; delete its file."""
    now = now or timezone.now()
    n = 0
    due = Extraction.objects.filter(
        state__in=[S.APPROVED, S.GENERATED, S.DOWNLOADED], expires_at__isnull=False, expires_at__lte=now
    )
    for ext in due:
        try:
            expire_one(ext)
            n += 1
        except IllegalTransition:  # moved on meanwhile
            continue
    return n
