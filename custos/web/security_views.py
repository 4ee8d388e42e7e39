"""Security pages: unmasking with a purpose, second factor (TOTP), my access history, audit search,
security alerts and key status. Thin: parse, call a service, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from custos.access import otp, unmask
from custos.access.capabilities import can
from custos.access.service import AccessContext, ReadLogUnavailable, client_address
from custos.audit import search as audit_search
from custos.audit.models import AuditEntry
from custos.web.forms import AuditSearchForm, OTPForm, UnmaskForm

PAGE_SIZE = 50


def _require(request, capability: str) -> None:
    """403 unless the user holds the capability (custos/access/capabilities.py)."""
    if not can(request.user, capability):
        raise PermissionDenied(_("您的角色不能访问此页面。"))


def _safe_next(request, default: str = "/") -> str:
    """A `next` URL of this site only (url_has_allowed_host_and_scheme), else the default."""
    target = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return default
    return target


# --- unmasking -------------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def unmask_request(request, party_id: int, field: str):
    """Ask for a purpose, then show one field of one party in clear for settings.CUSTOS_UNMASK_SECONDS."""
    ctx = AccessContext.for_request(request)
    if not can(ctx, "unmask"):
        raise PermissionDenied(_("您的角色不能查看明文。"))
    if field not in unmask.UNMASKABLE_FIELDS or not ctx.parties().filter(pk=party_id).exists():
        if request.method == "POST":
            try:
                ctx.log_denied("unmask", "party", [field])
            except ReadLogUnavailable:
                return render(request, "web/audit_unavailable.html", status=503)
        raise Http404(_("未找到该客户，或不在您的查看范围内。"))
    form = UnmaskForm(request.POST or None)
    used = unmask.used_last_hour(request.user)
    try:  # whose value it is, masked: the page says which customer (a read like any other)
        party = ctx.read_parties(
            ctx.parties().filter(pk=party_id),
            action="lookup",
            fields=["policy_no", "role", "seq", "name"],
            purpose="unmask page",
        )
    except ReadLogUnavailable:
        return render(request, "web/audit_unavailable.html", status=503)
    context = {
        "form": form,
        "party_id": party_id,
        "party": party[0] if party else None,
        "field": field,
        "field_label": _field_label(field),
        "used": used,
        "limit": settings.CUSTOS_UNMASK_PER_HOUR,
        "next": _safe_next(request, reverse("party-lookup")),
        "watermark": True,
    }
    if request.method == "POST" and form.is_valid():
        try:
            grant = unmask.request(
                ctx,
                party_id,
                field,
                purpose=form.cleaned_data["purpose"],
                purpose_text=form.cleaned_data["purpose_text"],
            )
        except unmask.RateLimited:
            return render(request, "web/unmask_blocked.html", context, status=429)
        except unmask.NotInScope:
            raise Http404(_("未找到该客户，或不在您的查看范围内。"))
        except ReadLogUnavailable:
            return render(request, "web/audit_unavailable.html", status=503)
        return render(
            request,
            "web/unmask_show.html",
            {
                **context,
                "grant": grant,
                "value": unmask.reveal(ctx, grant.token),
                "seconds": settings.CUSTOS_UNMASK_SECONDS,
            },
        )
    return render(request, "web/unmask.html", context, status=400 if request.method == "POST" else 200)


@never_cache
@login_required
def unmask_value(request, token: str):
    """The clear value of a live grant, as a text fragment (the page re-reads it; 410 once expired)."""
    ctx = AccessContext.for_request(request)
    value = unmask.reveal(ctx, token)
    if value is None:
        return HttpResponse(_("已过期"), status=410, content_type="text/plain; charset=utf-8")
    return HttpResponse(value, content_type="text/plain; charset=utf-8")


def _field_label(field: str) -> str:
    return {
        "name": _("姓名"),
        "id_no": _("证件号码"),
        "mobile": _("手机"),
        "phone": _("固定电话"),
        "address": _("地址"),
        "email": _("电子邮箱"),
        "birth_date": _("出生日期"),
    }.get(field, field)


# --- second factor ---------------------------------------------------------------------------------


def _audit(action, request, outcome="ok", **kw):
    from custos.access.signals import record_request

    record_request(action, request, outcome=outcome, **kw)


def _otp_error(wait: int) -> str:
    if not wait:
        return _("验证码不正确，请重试。")
    return _("验证码错误次数过多，请在 %(seconds)s 秒后再试。") % {"seconds": wait}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request):
    """Create a TOTP device and confirm it with a first code. The secret is shown as base32 and as an
    otpauth:// URI (text; the intranet has no QR service and custos draws none)."""
    import base64

    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect("otp-verify")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="default", confirmed=False)
    form = OTPForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        verified, wait = otp.check(device, form.cleaned_data["token"])
        if verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            _audit("otp_setup", request)
            return redirect(_safe_next(request))
        _audit("otp_setup", request, outcome="failed")
        form.add_error("token", _otp_error(wait))
    return render(
        request,
        "web/otp_setup.html",
        {
            "form": form,
            "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
            "uri": device.config_url,
            "next": _safe_next(request),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        return redirect("otp-setup")
    form = OTPForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        verified, wait = otp.check(device, form.cleaned_data["token"])
        if verified:
            otp_login(request, device)
            _audit("otp_verify", request)
            return redirect(_safe_next(request))
        _audit("otp_verify", request, outcome="failed")
        form.add_error("token", _otp_error(wait))
    return render(request, "web/otp_verify.html", {"form": form, "next": _safe_next(request)})


# --- access history and audit search --------------------------------------------------------------


@login_required
def my_access(request):
    """The signed-in user's own audit entries, newest first."""
    qs = AuditEntry.objects.filter(username=request.user.username).order_by("-seq")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/my_access.html", {"page": page, "entries": page.object_list})


@login_required
def audit_log(request):
    """Search the audit log (compliance, IT security). The search itself is an audit entry."""
    _require(request, "audit.read")
    form = AuditSearchForm(request.GET or None)
    page = None
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400  # the template says which field and why; nothing is searched
    elif form.is_valid() and any(v not in (None, "") for v in form.cleaned_data.values()):
        criteria = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        ctx = AccessContext.for_request(request)
        try:
            from custos.access import readlog

            readlog.append(
                user=request.user,
                staff_no=ctx.staff_no,
                action="audit_search",
                model="audit",
                record_ids=[],
                fields=sorted(criteria),
                client=client_address(request),
                purpose=audit_search.describe(criteria),
            )
        except ReadLogUnavailable:
            return render(request, "web/audit_unavailable.html", status=503)
        qs = audit_search.search(criteria)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/audit_search.html",
        {
            "form": form,
            "page": page,
            "entries": page.object_list if page is not None else None,
            "query": query.urlencode(),
            "watermark": True,
        },
        status=status,
    )


class _ProofForm:
    """?seq=N (inclusion) or ?first=A&second=B (consistency): non-negative integers, or nothing."""

    def __init__(self, data):
        self.values, self.errors = {}, []
        for key in ("seq", "first", "second"):
            raw = (data.get(key) or "").strip()
            if not raw:
                continue
            if not raw.isdigit() or len(raw) > 18:
                self.errors.append(key)
            else:
                self.values[key] = int(raw)


@login_required
def audit_verification(request):
    """The audit log's verification runs, signed checkpoints and proofs, for whoever may read the log
    (compliance, IT security, auditors): read-only. Looking up a proof is an audit entry."""
    import json

    from custos.audit import proofs

    _require(request, "audit.read")
    form = _ProofForm(request.GET)
    context = {**proofs.overview(), "form": form.values, "form_errors": form.errors, "watermark": True}
    status = 400 if form.errors else 200
    wanted = form.values
    kind = "inclusion" if "seq" in wanted else "consistency" if {"first", "second"} <= wanted.keys() else ""
    if kind and not form.errors:
        ctx = AccessContext.for_request(request)
        try:
            from custos.access import readlog

            readlog.append(
                user=request.user,
                staff_no=ctx.staff_no,
                action="audit_proof",
                model="audit",
                record_ids=[wanted["seq"]] if kind == "inclusion" else [wanted["first"], wanted["second"]],
                fields=[],
                client=client_address(request),
                purpose=kind,
            )
        except ReadLogUnavailable:
            return render(request, "web/audit_unavailable.html", status=503)
        try:
            if kind == "inclusion":
                result = proofs.inclusion(wanted["seq"])
            else:
                result = proofs.consistency(wanted["first"], wanted["second"])
        except proofs.NoProof:
            context["no_proof"] = kind
        else:
            context.update(
                proof_kind=kind,
                verified=result["verified"],
                proof_json=json.dumps(result["proof"], ensure_ascii=False, indent=2),
            )
    return render(request, "web/audit_verification.html", context, status=status)


# --- alerts and key status -------------------------------------------------------------------------


@login_required
def alerts(request):
    from custos.watch.models import SecurityAlert

    _require(request, "watch.alerts")
    show = request.GET.get("show", "open")
    qs = SecurityAlert.objects.all()
    if show != "all":
        qs = qs.filter(acknowledged=False)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/alerts.html", {"page": page, "alerts": page.object_list, "show": show})


@login_required
@require_POST
def alert_acknowledge(request, pk: int):
    from custos.watch.services import acknowledge

    _require(request, "watch.alerts")
    if not acknowledge(pk, request.user):
        raise Http404(_("没有该条未处理的告警。"))
    _audit("alert_ack", request, model="alert", record_ids=[pk])
    return redirect("alerts")


ROTATION_STATES = {"queued": _l("排队中"), "running": _l("进行中"), "done": _l("已完成")}


def _key_context(status: dict, **extra) -> dict:
    """The key page shows state only: no server path, column name or command (docs/operations.md)."""
    state = (status.get("rotation") or {}).get("state", "")
    return {**status, "rotation_state_label": ROTATION_STATES.get(state, state), **extra}


@login_required
def key_status(request):
    from custos.access import posture

    _require(request, "keys.manage")
    return render(request, "web/keys.html", _key_context(posture.key_status()))


@login_required
@require_POST
def key_status_verify(request):
    from custos.audit.tasks import queue_verify

    _require(request, "audit.verify")
    queue_verify(requested_by=request.user.username)
    _audit("audit_verify", request, model="audit")
    return redirect("key-status")


@login_required
@require_POST
def key_rotate(request):
    """A new primary data key, then re-encryption in the background (as `custos keys rotate`).
    Refused while a rotation is still queued or running."""
    from custos.access import posture
    from custos.access.tasks import reencrypt_task
    from custos.crypto import rotate

    _require(request, "keys.manage")
    try:
        kid = rotate.rotate()
    except rotate.RotationInProgress:
        _audit("key_rotate", request, outcome="refused", model="keyring")
        return render(request, "web/keys.html", _key_context(posture.key_status(), refused=True), status=409)
    _audit("key_rotate", request, model="keyring", record_ids=[kid])
    reencrypt_task()
    return redirect("key-status")
