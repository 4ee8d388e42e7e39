"""Template context of the shell: who is looking (for the header and the screen watermark), and which
links of the main navigation they get (from the capability table, custos/access/capabilities.py)."""

from django.utils import timezone

from custos.access.capabilities import capabilities_of
from custos.access.models import Profile


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    profile = Profile.objects.filter(user=user).first()
    mark = (profile.staff_no if profile and profile.staff_no else user.username) or "?"
    now = timezone.localtime()
    caps = capabilities_of(user)
    nav_alerts = "watch.alerts" in caps
    open_alerts = 0
    if nav_alerts:
        from custos.watch.models import SecurityAlert

        open_alerts = SecurityAlert.objects.filter(acknowledged=False).count()
    nav_extractions, pending_approvals = _extractions_nav(user, caps)
    return {
        "nav_extractions": nav_extractions,
        "nav_pending_approvals": pending_approvals,
        "nav_audit": "audit.read" in caps,
        "nav_alerts": nav_alerts,
        "nav_open_alerts": open_alerts,
        "nav_keys": "keys.manage" in caps,
        "nav_capabilities": "access.table" in caps,
        "nav_integrity": "integrity.verify" in caps,
        "nav_remediation": "task.work" in caps,
        "nav_screening": "screening.view" in caps,
        "viewer_profile": profile,
        "viewer_mark": f"{mark} · {user.username} · {now:%Y-%m-%d %H:%M}",
    }


def _extractions_nav(user, caps) -> tuple[str | None, int]:
    """Where the 数据提取 link leads for this user (approvers to their queue, oversight to every
    extraction, others to their own requests; None: no link) and how many requests await approval."""
    if "extract.approve" in caps:
        from custos.extraction.models import Extraction

        waiting = Extraction.objects.filter(state=Extraction.State.REQUESTED).exclude(requester=user).count()
        return "extraction-approvals", waiting
    if "extract.oversee" in caps:
        return "extraction-all", 0
    if "extract.request" in caps:
        return "extractions", 0
    return None, 0
