"""Sign-in events into the audit log: login, failed login, logout (Django's auth signals).

These entries are records, not gates: if the audit log cannot be written the failure is logged loudly,
but signing out is never refused and a failed login stays failed."""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from custos.access.service import client_address
from custos.audit import service as audit

log = logging.getLogger("custos.security")


def staff_no_of(user) -> str:
    from custos.access.models import Profile

    if user is None or not getattr(user, "pk", None):
        return ""
    return Profile.objects.filter(user=user).values_list("staff_no", flat=True).first() or ""


def record(action: str, *, username: str, staff_no: str = "", request=None, outcome: str = "ok", **kw):
    try:
        audit.append(
            username=username or "",
            staff_no=staff_no,
            action=action,
            client=client_address(request),
            outcome=outcome,
            **kw,
        )
    except audit.AuditWriteError:
        log.exception("audit log unavailable: %s of %s not recorded", action, username)


def record_request(action: str, request, *, outcome: str = "ok", **kw) -> None:
    """An audit entry for something the signed-in user of request did (upload, OTP, alert ack…)."""
    user = getattr(request, "user", None)
    record(
        action,
        username=getattr(user, "username", ""),
        staff_no=staff_no_of(user),
        request=request,
        outcome=outcome,
        **kw,
    )


@receiver(user_logged_in, dispatch_uid="custos-audit-login")
def _logged_in(sender, request, user, **kwargs):
    record("login", username=user.username, staff_no=staff_no_of(user), request=request)


@receiver(user_logged_out, dispatch_uid="custos-audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record("logout", username=user.username, staff_no=staff_no_of(user), request=request)


@receiver(user_login_failed, dispatch_uid="custos-audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    record("login", username=str(credentials.get("username", ""))[:150], request=request, outcome="failed")


def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    from custos.watch.models import SecurityAlert
    from custos.watch.services import raise_alert

    record("lockout", username=str(username or ""), request=request, outcome="blocked")
    raise_alert(
        SecurityAlert.Kind.LOCKOUT,
        None,
        f"{username} locked out after repeated failed logins from {ip_address or '?'}",
        dedupe_minutes=30,
    )


def connect_axes() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="custos-lockout-alert")


connect_axes()
