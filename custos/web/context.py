"""Template context of the shell: who is looking (for the header and the screen watermark)."""

from django.utils import timezone

from custos.access.models import Profile
from custos.remediation.conf import USER_ROLES as remediation_roles


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    profile = Profile.objects.filter(user=user).first()
    mark = (profile.staff_no if profile and profile.staff_no else user.username) or "?"
    now = timezone.localtime()
    role = profile.role if profile else None
    nav_alerts = role in ("it_security", "compliance")
    open_alerts = 0
    if nav_alerts:
        from custos.watch.models import SecurityAlert

        open_alerts = SecurityAlert.objects.filter(acknowledged=False).count()
    nav_extractions, pending_approvals = _extractions_nav(user, role)
    return {
        "nav_extractions": nav_extractions,
        "nav_pending_approvals": pending_approvals,
        "nav_audit": role in ("it_security", "compliance"),
        "nav_alerts": nav_alerts,
        "nav_open_alerts": open_alerts,
        "nav_keys": role == "it_security",
        "nav_remediation": role in remediation_roles,
        "nav_screening": role in ("compliance", "auditor"),
        "viewer_profile": profile,
        "viewer_mark": f"{mark} · {user.username} · {now:%Y-%m-%d %H:%M}",
    }


def _extractions_nav(user, role) -> tuple[str | None, int]:
    """Where the 数据提取 link leads for this role (approvers to their queue, oversight to every
    extraction, others to their own requests; None: no link) and how many requests await approval."""
    from custos.extraction import services as extraction

    if role in extraction.APPROVER_ROLES:
        from custos.extraction.models import Extraction

        waiting = Extraction.objects.filter(state=Extraction.State.REQUESTED).exclude(requester=user).count()
        return "extraction-approvals", waiting
    if role in extraction.OVERSIGHT_ROLES:
        return "extraction-all", 0
    if role in extraction.REQUEST_ROLES:
        return "extractions", 0
    return None, 0
