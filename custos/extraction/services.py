"""Extractions (数据提取): request → executive approval → fingerprinted, encrypted file → one logged
download → expiry. Views, API and the `custos extract` command call these functions only.

    ext = request_extraction(user, purpose=…, scope={…}, fields=[…], recipient_user=…)
    approve(ext, executive)           # four eyes: never the requester, never the recipient
    generate(ext.pk)                  # the Huey task run_generate calls this
    name, data = download(ext, recipient)
    expire()                          # periodic task and `custos extract expire`
    result = trace(path)              # `custos extract trace FILE` and the compliance page

Every refusal raises an ExtractionError subclass whose message is meant for the user (gettext).
Every state change is an ExtractionEvent and an audit entry (custos.audit), in one transaction: a
change that cannot be audited does not happen.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.access.models import Profile, Role
from custos.access.service import AccessContext, ReadLogUnavailable
from custos.audit import service as audit
from custos.book.models import Branch, Partner, Party, Policy, Staff
from custos.crypto.fields import Keys
from custos.domain import canary as cn
from custos.domain import codes
from custos.domain.spreadsheet import neutralise
from custos.extraction import conf
from custos.extraction.models import Canary, Extraction, ExtractionEvent

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

REQUEST_ROLES = frozenset(set(Role.values) - {Role.AUDITOR})
APPROVER_ROLES = frozenset({Role.EXECUTIVE})
OVERSIGHT_ROLES = frozenset({Role.COMPLIANCE, Role.AUDITOR})  # see every extraction
TRACE_ROLES = frozenset({Role.COMPLIANCE, Role.IT_SECURITY})

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
FILE_MAGIC = b"CXF1"


class ExtractionError(Exception):
    status = 400


class NotAllowed(ExtractionError):
    status = 403


class IllegalTransition(ExtractionError):
    status = 409


class Gone(ExtractionError):
    status = 410


# --- who may do what --------------------------------------------------------------------------------


def profile_of(user) -> Profile | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Profile.objects.filter(user=user).first()


def role_of(user) -> str | None:
    p = profile_of(user)
    return p.role if p else None


def can_request(user) -> bool:
    return role_of(user) in REQUEST_ROLES


def can_approve(user) -> bool:
    return role_of(user) in APPROVER_ROLES


def can_oversee(user) -> bool:
    return role_of(user) in OVERSIGHT_ROLES


def can_trace(user) -> bool:
    return role_of(user) in TRACE_ROLES


def visible_to(user) -> QuerySet[Extraction]:
    """Extractions a user may see: all for compliance and auditors; otherwise those they requested,
    receive, or (executives) may decide or decided."""
    qs = Extraction.objects.select_related("requester", "approver", "recipient_user")
    role = role_of(user)
    if role is None:
        return qs.none()
    if role in OVERSIGHT_ROLES:
        return qs
    cond = Q(requester=user) | Q(recipient_user=user)
    if role in APPROVER_ROLES:
        cond |= Q(state=S.REQUESTED) | Q(approver=user)
    return qs.filter(cond)


def partner_agreement_valid(partner_code: str, today: dt.date | None = None) -> bool:
    """A partner outlet may receive customer data only with a valid agreement. The book's Partner has no
    confidentiality-agreement fields yet: status "active" and contract_until on or after today stand in
    for them (docs/extraction.md)."""
    today = today or timezone.localdate()
    p = Partner.objects.filter(partner_code=partner_code).first()
    return bool(p and p.status == "active" and p.contract_until and p.contract_until >= today)


def _partner_codes(ext: Extraction) -> list[str]:
    codes_ = []
    for user in (ext.requester, ext.recipient_user):
        p = profile_of(user) if user else None
        if p and p.partner_code:
            codes_.append(p.partner_code)
        elif p and p.role == Role.PARTNER_STAFF:
            codes_.append("")  # partner staff without a partner: never valid
    if ext.recipient_partner_code:
        codes_.append(ext.recipient_partner_code)
    return codes_


def _check_partners(ext: Extraction) -> None:
    for code in _partner_codes(ext):
        if not partner_agreement_valid(code):
            raise NotAllowed(
                _("合作机构 %(code)s 没有有效的保密协议（状态有效且合同未到期），不得提取客户数据。")
                % {"code": code or "?"}
            )


def _has_left(profile: Profile) -> bool:
    return bool(
        profile.staff_no
        and Staff.objects.filter(
            staff_no=profile.staff_no, left_on__isnull=False, left_on__lte=timezone.localdate()
        ).exists()
    )


# --- state changes ------------------------------------------------------------------------------------


def _audit(actor, action: str, ext, note: str = "", client: str = "", fields=()) -> None:
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


def _clean(text: str | None) -> str:
    """Text as stored: NUL characters removed (PostgreSQL text cannot hold them)."""
    return (text or "").replace("\x00", "")


def _move(ext: Extraction, to: str, actor, note: str = "", client: str = "", **updates) -> Extraction:
    """Change state (locking the row), record the event and audit it; all or nothing."""
    note = _clean(note)
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
        _audit(actor, f"extraction.{to}", current, note, client)
    for k in ext.__dict__:
        if not k.startswith("_") and hasattr(current, k):
            setattr(ext, k, getattr(current, k))
    return ext


# --- request --------------------------------------------------------------------------------------------


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
        root = Branch.objects.filter(branch_code=scope["branch"]).values_list("path", flat=True).first()
        if root:
            qs = qs.filter(branch_code__in=Branch.objects.filter(path__startswith=root).values("branch_code"))
        else:
            qs = qs.filter(branch_code=scope["branch"])
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


def request_extraction(
    user,
    *,
    purpose: str,
    scope: dict | None = None,
    fields: list[str],
    justification: str = "",
    recipient_user=None,
    recipient_name: str = "",
    recipient_org: str = "",
    recipient_partner_code: str = "",
    file_format: str = "xlsx",
    client: str = "",
) -> Extraction:
    profile = profile_of(user)
    if profile is None or profile.role not in REQUEST_ROLES or _has_left(profile):
        raise NotAllowed(_("您的角色不能申请数据提取。"))
    purpose, justification = _clean(purpose), _clean(justification)
    recipient_name, recipient_org = _clean(recipient_name), _clean(recipient_org)
    recipient_partner_code = _clean(recipient_partner_code)
    scope = {k: _clean(v) if isinstance(v, str) else v for k, v in (scope or {}).items()}
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
    if recipient_user is not None:
        if recipient_name or recipient_org:
            raise ExtractionError(_("接收人只能是一名系统用户或一名外部人员，不能两者都填。"))
        rp = profile_of(recipient_user)
        if rp is None or _has_left(rp):
            raise ExtractionError(_("接收人不是有效的系统用户。"))
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
    _check_partners(ext)
    ctx = AccessContext.for_user(user, client=client)
    n = scoped_parties(ctx, scope).count()
    if n == 0:
        raise ExtractionError(_("您的权限范围内没有符合条件的客户。"))
    if n > conf.max_rows():
        raise ExtractionError(
            _("符合条件的客户有 %(n)s 人，超过单次提取上限 %(max)s，请缩小范围。")
            % {"n": n, "max": conf.max_rows()}
        )
    with transaction.atomic():
        ext.save()
        ExtractionEvent.objects.create(
            extraction=ext, actor=user, actor_name=user.username, to_state=S.REQUESTED, note=purpose[:500]
        )
        _audit(user, "extraction.requested", ext, purpose, client, fields)
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
    if p and _has_left(p):
        raise NotAllowed(_("只有总经理室可以审批数据提取。"))


def approve(ext: Extraction, user, note: str = "", client: str = "", enqueue: bool = True) -> Extraction:
    _check_decider(ext, user)
    _check_partners(ext)
    now = timezone.now()
    _move(
        ext, S.APPROVED, user, note or _("批准"), client,
        approver=user, decided_at=now, decision_note=note[:500],
        expires_at=now + dt.timedelta(days=conf.expiry_days()),
    )  # fmt: skip
    if enqueue:
        from custos.extraction.tasks import run_generate

        transaction.on_commit(lambda: run_generate(ext.pk))
    return ext


def reject(ext: Extraction, user, note: str = "", client: str = "") -> Extraction:
    _check_decider(ext, user)
    now = timezone.now()
    return _move(
        ext,
        S.REJECTED,
        user,
        note or _("驳回"),
        client,
        approver=user,
        decided_at=now,
        decision_note=note[:500],
    )


def cancel(ext: Extraction, user, note: str = "", client: str = "") -> Extraction:
    if user.pk != ext.requester_id and role_of(user) != Role.COMPLIANCE:
        raise NotAllowed(_("只有申请人或合规可以撤销提取申请。"))
    _move(ext, S.CANCELLED, user, note or _("撤销"), client, file_path="")
    _delete_file(ext)
    return ext


# --- generation ------------------------------------------------------------------------------------------


def _fingerprint_master(keys: Keys) -> bytes:
    """The fingerprint key, derived from the keyring's tracing key (never stored)."""
    return hmac.new(keys.tracing_key, b"custos.extraction.fingerprint", hashlib.sha256).digest()


def cell_digest(keys: Keys, value: str) -> str:
    return keys.tracing_index(value.strip(), "extraction.cell")[:16]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_rows(ext: Extraction, ctx: AccessContext) -> list[dict]:
    """The approved fields of the parties in scope, unmasked, read through the access service.

    `read_parties` applies the requester's scope again and appends the read (action "extract", every
    party id, every field) to the audit log before anything is returned; its masked rows say which
    parties were read. The access service has no unmasked bulk read yet, so the clear values of
    exactly those parties (and of the approved fields only) are then taken from the same scoped query."""
    cols = KEY_COLUMNS + list(ext.fields)
    qs = scoped_parties(ctx, ext.scope)
    limit = conf.max_rows() + 1
    logged = ctx.read_parties(
        qs, action="extract", fields=cols, purpose=f"extraction #{ext.pk}: {ext.purpose}"[:500], limit=limit
    )
    allowed = {(r["policy_no"], r["role"], r["seq"]) for r in logged}
    scoped = qs.filter(policy_no__in=ctx.policies().values("policy_no"))
    rows = scoped.order_by("policy_no", "role", "seq").values(*cols)[:limit]
    return [{c: _text(r[c]) for c in cols} for r in rows if (r["policy_no"], r["role"], r["seq"]) in allowed]


def _is_real(keys: Keys, person: cn.CanaryPerson) -> bool:
    """A canary must never be a real person: no party or staff with its ID or mobile, no earlier canary."""
    real = Q(id_no_bidx=keys.blind_index(person.id_no, "id_no")) | Q(
        mobile_bidx=keys.blind_index(person.mobile, "mobile")
    )  # the book's values are encrypted: search their blind indexes
    if Party.objects.filter(real).exists() or Staff.objects.filter(real).exists():
        return True
    return Canary.objects.filter(
        Q(id_no_bi=keys.tracing_index(person.id_no, "canary.id_no"))
        | Q(mobile_bi=keys.tracing_index(person.mobile, "canary.mobile"))
    ).exists()


def _canaries(ext: Extraction, keys: Keys, key: bytes, rows: list[dict], n: int):
    rng = cn.rng_for(key, "canaries")
    near = sorted({r["id_no"][:6] for r in rows if len(r.get("id_no", "")) == 18})
    taken_policies = {r["policy_no"] for r in rows}
    out = []
    for _i in range(n):
        for _attempt in range(50):
            person = cn.make_canary(rng, near)
            if not _is_real(keys, person) and all(person.id_no != p.id_no for _t, p in out):
                break
        else:
            raise ExtractionError(_("无法生成与真实客户不重复的诱饵记录。"))
        template = rng.choice(rows)
        for _attempt in range(50):
            policy_no = cn.fake_policy_no(rng, template["policy_no"])
            if policy_no not in taken_policies and not Policy.objects.filter(policy_no=policy_no).exists():
                break
        taken_policies.add(policy_no)
        values = person.values()
        row = {c: template[c] for c in template}
        row["policy_no"] = policy_no
        for f in ext.fields:
            if f in values:
                row[f] = values[f]
            elif f == "id_valid_until":
                row[f] = ""
        out.append((row, person))
    return out


def _render(ext: Extraction, header: list[str], rows: list[list[str]]) -> bytes:
    if ext.file_format == Extraction.Format.CSV:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)
        return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"title": f"custos extraction #{ext.pk}", "company": "custos"})
    ws = wb.add_worksheet("data")
    for j, h in enumerate(header):
        ws.write_string(0, j, h)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            ws.write_string(i, j, v)
    wb.close()
    return out.getvalue()


def _aad(ext: Extraction) -> bytes:
    return f"custos.extraction:{ext.pk}:{ext.nonce}".encode()


def seal_file(keys: Keys, ext: Extraction, data: bytes) -> bytes:
    """MAGIC | key id length | key id | nonce | AES-256-GCM(data), bound to the extraction."""
    kid = keys.current_id.encode()
    nonce = os.urandom(12)
    ct = AESGCM(keys.data_keys[keys.current_id]).encrypt(nonce, data, _aad(ext))
    return FILE_MAGIC + bytes([len(kid)]) + kid + nonce + ct


def open_file(keys: Keys, ext: Extraction, blob: bytes) -> bytes:
    if not blob.startswith(FILE_MAGIC):
        raise ValueError("not an extraction file")
    n = blob[4]
    kid = blob[5 : 5 + n].decode()
    nonce, ct = blob[5 + n : 17 + n], blob[17 + n :]
    return AESGCM(keys.data_keys[kid]).decrypt(nonce, ct, _aad(ext))


def generate(ext_id: int) -> Extraction:
    """Build the file of an approved extraction: rows read through the access service in the requester's
    scope, keyed row order, whitespace marks, canaries; neutralised, encrypted, stored."""
    ext = Extraction.objects.select_related("requester", "recipient_user").get(pk=ext_id)
    if ext.state != S.APPROVED:
        raise IllegalTransition(
            _("提取申请 #%(id)s 当前状态为“%(state)s”，不能生成文件。")
            % {"id": ext.pk, "state": S(ext.state).label}
        )
    try:
        _check_partners(ext)
        keys = Keys.from_keyring()
        ctx = AccessContext.for_user(ext.requester, client="extraction")
        rows = read_rows(ext, ctx)
        if not rows:
            raise ExtractionError(_("申请人权限范围内已没有符合条件的客户。"))
        if len(rows) > conf.max_rows():
            raise ExtractionError(_("符合条件的客户超过单次提取上限，请缩小范围。"))
    except (ExtractionError, ReadLogUnavailable, LookupError) as exc:
        _move(ext, S.FAILED, None, str(exc)[:500], error=str(exc)[:500])
        raise
    key = cn.extraction_key(_fingerprint_master(keys), ext.pk, ext.nonce)
    cols = KEY_COLUMNS + list(ext.fields)
    mark_field = next(f for f in MARK_FIELDS if f in cols)

    def row_key(r: dict) -> str:
        return f"{r['policy_no']}\x00{r['role']}\x00{r['seq']}"

    ordered = [rows[i] for i in cn.row_order(key, [row_key(r) for r in rows])]
    planted = _canaries(ext, keys, key, rows, cn.canary_count(len(rows)))
    positions = cn.canary_positions(key, len(ordered), len(planted))
    final: list[tuple[dict, cn.CanaryPerson | None]] = [(r, None) for r in ordered]
    for pos, (row, person) in zip(positions, planted, strict=True):
        final.insert(pos, (row, person))

    header = [neutralise(str(KEY_LABELS.get(c) or FIELD_LABELS[c])) for c in cols]
    body, manifest, canary_rows = [], [], []
    for pos, (row, person) in enumerate(final):
        cells = [neutralise(row[c]) for c in cols]
        bit = cn.mark_bit(key, row_key(row))
        digests = [cell_digest(keys, cells[cols.index(c)]) for c in DIGEST_FIELDS if c in cols and row[c]]
        if bit:
            j = cols.index(mark_field)
            if cells[j]:
                cells[j] += cn.MARK
            else:
                bit = False
        body.append(cells)
        manifest.append([pos, digests, int(bit), int(person is not None)])
        if person is not None:
            canary_rows.append(
                Canary(
                    extraction=ext,
                    position=pos,
                    policy_no=row["policy_no"],
                    name_enc=keys.seal(person.name, "canary.name"),
                    id_no_enc=keys.seal(person.id_no, "canary.id_no"),
                    mobile_enc=keys.seal(person.mobile, "canary.mobile"),
                    address_enc=keys.seal(person.address, "canary.address"),
                    name_bi=keys.tracing_index(person.name, "canary.name"),
                    id_no_bi=keys.tracing_index(person.id_no, "canary.id_no"),
                    mobile_bi=keys.tracing_index(person.mobile, "canary.mobile"),
                    address_bi=keys.tracing_index(person.address, "canary.address"),
                )
            )
    data = _render(ext, header, body)
    path = conf.files_dir() / f"{ext.pk}-{secrets.token_hex(8)}.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(seal_file(keys, ext, data))
    now = timezone.now()
    try:
        with transaction.atomic():
            Canary.objects.bulk_create(canary_rows)
            _move(
                ext, S.GENERATED, None,
                _("已生成：%(rows)s 行真实记录，%(c)s 条诱饵记录") % {"rows": len(rows), "c": len(canary_rows)},
                generated_at=now, expires_at=now + dt.timedelta(days=conf.expiry_days()),
                row_count=len(rows), canary_count=len(canary_rows), file_path=str(path),
                file_sha256=hashlib.sha256(data).hexdigest(), file_bytes=len(data),
                manifest=manifest, mark_field=mark_field, error="",
            )  # fmt: skip
    except (IntegrityError, ExtractionError, audit.AuditWriteError):
        path.unlink(missing_ok=True)
        raise
    return ext


# --- download and expiry ---------------------------------------------------------------------------------


def downloader_of(ext: Extraction):
    """Who may download: the recipient when a custos user, else the requester (who hands it on)."""
    return ext.recipient_user if ext.recipient_user_id else ext.requester


def _delete_file(ext: Extraction) -> None:
    path = Extraction.objects.filter(pk=ext.pk).values_list("file_path", flat=True).first() or ext.file_path
    if path:
        Path(path).unlink(missing_ok=True)


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
    if p is None or _has_left(p):
        raise NotAllowed(_("只有接收人可以下载（外部接收人由申请人代为下载）。"))
    _check_partners(ext)
    try:
        data = open_file(Keys.from_keyring(), ext, Path(ext.file_path).read_bytes())
    except (OSError, ValueError) as exc:
        raise Gone(_("提取文件不可用：%(e)s") % {"e": type(exc).__name__})
    path = ext.file_path
    _move(
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


def expire_one(ext: Extraction, note: str = "") -> None:
    path = ext.file_path
    _move(ext, S.EXPIRED, None, note or _("到期"), file_path="")
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


# --- leak tracing ----------------------------------------------------------------------------------------

_ID = re.compile(r"\d{17}[\dXx]")
_MOBILE = re.compile(r"(?:\+?86)?(1\d{10})")
_HAN_NAME = re.compile(r"[\u3400-\u9fff·]{2,8}")


def read_table(path: Path) -> list[list[str]]:
    """Every row of a leaked CSV or XLSX file (all sheets) as text cells, whitespace kept."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            rows = []
            for ws in wb.worksheets:
                for cells in ws.iter_rows(values_only=True):
                    vals = []
                    for v in cells:
                        if isinstance(v, float) and v.is_integer():
                            v = int(v)
                        vals.append(_text(v.date() if isinstance(v, dt.datetime) else v))
                    if any(vals):
                        rows.append(vals)
            return rows
        finally:
            wb.close()
    from custos.book.loader.encoding import detect

    with open(path, encoding=detect(path), newline="") as f:
        return [r for r in csv.reader(f) if any(r)]


@dataclass
class Candidate:
    extraction: Extraction
    canaries: list[tuple[Canary, list[str]]] = field(default_factory=list)
    matched: int = 0  # leaked rows found in the extraction
    ascending: int = 0
    pairs: int = 0
    marks_agree: int = 0
    p_order: float = 1.0
    p_marks: float = 1.0

    @property
    def strong_canaries(self) -> int:
        return sum(1 for _c, f in self.canaries if {"id_no", "mobile"} & set(f))

    @property
    def p_value(self) -> float:
        return min(1.0, 2 * min(self.p_order, self.p_marks))

    @property
    def confidence(self) -> str:
        if self.strong_canaries:
            return "certain"
        if self.canaries and self.p_value < 1e-3:
            return "certain"
        if self.p_value < 1e-6:
            return "high"
        if self.p_value < 1e-3 or self.canaries:
            return "moderate"
        return "low"

    def statement(self) -> str:
        e = self.extraction
        parts = []
        if self.canaries:
            parts.append(
                _(
                    "含本次提取独有的诱饵记录 %(n)s 条（其中 %(s)s 条证件号码或手机号吻合）：诱饵是虚构客户，只出现在这一份文件中。"
                )
                % {"n": len(self.canaries), "s": self.strong_canaries}
            )
        if self.matched:
            parts.append(
                _(
                    "%(m)s 行与本次提取的记录吻合；行序一致 %(a)s/%(p)s，空白标记一致 %(k)s/%(m)s；非本文件而巧合达到此程度的概率约为 %(pv).1e。"
                )
                % {
                    "m": self.matched,
                    "a": self.ascending,
                    "p": self.pairs,
                    "k": self.marks_agree,
                    "pv": self.p_value,
                }
            )
        level = {
            "certain": _("结论：几乎可以确定来自此次提取"),
            "high": _("结论：很可能来自此次提取"),
            "moderate": _("结论：可能来自此次提取，需要更多证据"),
            "low": _("结论：证据不足"),
        }[self.confidence]
        who = e.recipient_label
        return f"{level}（#{e.pk}，{_('接收人')} {who}）。" + " ".join(parts)


@dataclass
class TraceResult:
    rows: int
    candidates: list[Candidate]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


_STRONG = {"id_no", "mobile"}


def _row_cells(row: list[str]) -> set[str]:
    cells = {c.strip() for c in row if c and c.strip()}
    return cells | {c[1:] for c in cells if c.startswith("'")}


def _canary_hits(keys: Keys, rows: list[list[str]]) -> dict[int, list[str]]:
    """canary id -> fields of it found in the leaked rows. A canary counts when one row carries its ID
    number or mobile, or two of its fields: a name or an address alone is what real customers share
    with a synthetic one by chance (a real row named like a canary made a trace without canaries
    report one, 2026-11-26)."""
    per_row: list[dict[str, set[str]]] = []
    wanted: dict[str, set[str]] = {"id_no": set(), "mobile": set(), "name": set(), "address": set()}
    seen: dict[str, list[tuple[str, str]]] = {}  # cell -> (field, digest): each distinct cell hashed once

    def digests_of(c: str) -> list[tuple[str, str]]:
        out = []
        if _ID.fullmatch(c):
            out.append(("id_no", keys.tracing_index(c.upper(), "canary.id_no")))
        m = _MOBILE.fullmatch(re.sub(r"[\s-]", "", c))
        if m:
            out.append(("mobile", keys.tracing_index(m.group(1), "canary.mobile")))
        if _HAN_NAME.fullmatch(c):
            out.append(("name", keys.tracing_index(c, "canary.name")))
        if len(c) >= 8:
            out.append(("address", keys.tracing_index(c, "canary.address")))
        return out

    for row in rows:
        found: dict[str, set[str]] = {f: set() for f in wanted}
        for c in _row_cells(row):
            if c not in seen:
                seen[c] = digests_of(c)
            for f, digest in seen[c]:
                found[f].add(digest)
        for f, digests in found.items():
            wanted[f] |= digests
        per_row.append(found)
    owners: dict[tuple[str, str], list[int]] = {}  # (field, digest) -> canaries with that value
    for f, digests in wanted.items():
        if digests:
            for cid, digest in Canary.objects.filter(**{f"{f}_bi__in": list(digests)}).values_list(
                "id", f"{f}_bi"
            ):
                owners.setdefault((f, digest), []).append(cid)
    hits: dict[int, set[str]] = {}
    for found in per_row:
        in_row: dict[int, set[str]] = {}
        for f, digests in found.items():
            for digest in digests:
                for cid in owners.get((f, digest), ()):
                    in_row.setdefault(cid, set()).add(f)
        for cid, fields_ in in_row.items():
            if fields_ & _STRONG or len(fields_) >= 2:
                hits.setdefault(cid, set()).update(fields_)
    return {cid: sorted(fields_) for cid, fields_ in hits.items()}


def trace(path: Path, user=None, client: str = "") -> TraceResult:
    """Who received the rows of a leaked file? Canaries first (certain), then row order and whitespace
    marks against every generated extraction's manifest (statistical)."""
    keys = Keys.from_keyring()
    table = read_table(Path(path))
    found: dict[int, Candidate] = {}
    for cid, fields_ in _canary_hits(keys, table).items():
        c = Canary.objects.select_related("extraction").get(pk=cid)
        cand = found.setdefault(c.extraction_id, Candidate(c.extraction))
        cand.canaries.append((c, fields_))
    leaked = [
        ({cell_digest(keys, c) for c in row if c and c.strip()}, any(cn.has_mark(c) for c in row))
        for row in table
    ]
    exts = Extraction.objects.select_related("requester", "recipient_user", "approver").filter(
        state__in=[S.GENERATED, S.DOWNLOADED, S.EXPIRED], row_count__gt=0
    )
    for ext in exts:
        index: dict[str, list[int]] = {}
        for pos, digests, _bit, _canary in ext.manifest:
            for d in digests:
                index.setdefault(d, []).append(pos)
        bits = {pos: bit for pos, _d, bit, _c in ext.manifest}
        seq, agree = [], 0
        for digests, marked in leaked:
            votes: dict[int, int] = {}
            for d in digests:
                for pos in index.get(d, ()):
                    votes[pos] = votes.get(pos, 0) + 1
            if not votes:
                continue
            top = max(votes.values())
            best = [p for p, v in votes.items() if v == top]
            if len(best) != 1:
                continue
            seq.append(best[0])
            agree += int(bool(bits[best[0]]) == marked)
        if not seq and ext.pk not in found:
            continue
        cand = found.setdefault(ext.pk, Candidate(ext))
        cand.matched, cand.marks_agree = len(seq), agree
        cand.ascending, cand.pairs = cn.ascending_pairs(seq)
        cand.p_order = cn.binomial_tail(cand.ascending, cand.pairs)
        cand.p_marks = cn.binomial_tail(agree, len(seq))
    ranked = sorted(
        found.values(),
        key=lambda c: (-c.strong_canaries, -len(c.canaries), c.p_value, -c.matched, -c.extraction.pk),
    )
    if user is not None:
        _audit(
            user, "extraction.trace", [c.extraction.pk for c in ranked],
            f"trace {Path(path).name}: " + ", ".join(f"#{c.extraction.pk}:{c.confidence}" for c in ranked[:5]),
            client,
        )  # fmt: skip
    return TraceResult(rows=len(table), candidates=ranked)
