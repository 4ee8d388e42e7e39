"""Raise and acknowledge security alerts."""

import datetime as dt

from django.utils import timezone

from custos.watch.models import SecurityAlert


def raise_alert(kind: str, user=None, detail: str = "", *, dedupe_minutes: int = 60) -> SecurityAlert:
    """Create an alert, unless an unacknowledged one of the same kind for the same user was raised in
    the last dedupe_minutes (a blocked user hammering the button raises one alert, not a hundred)."""
    username = getattr(user, "username", "") or ""
    since = timezone.now() - dt.timedelta(minutes=dedupe_minutes)
    existing = SecurityAlert.objects.filter(
        kind=kind, username=username, acknowledged=False, created__gte=since
    ).first()
    if existing:
        return existing
    return SecurityAlert.objects.create(
        kind=kind, user=user if getattr(user, "pk", None) else None, username=username, detail=detail
    )


def acknowledge(alert_id: int, by) -> bool:
    return bool(
        SecurityAlert.objects.filter(pk=alert_id, acknowledged=False).update(
            acknowledged=True, acknowledged_by=by.username, acknowledged_at=timezone.now()
        )
    )
