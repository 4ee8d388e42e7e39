"""Alerts of unusual access: computing and storing them, triage, and the thresholds triage tunes."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from custos.watch import conf, signals
from custos.watch.models import AccessAlert


class TriageError(ValueError):
    pass


def factors() -> dict[str, float]:
    """Per signal, the factor its thresholds are multiplied by: 1, rising linearly to
    `tune_max_factor` as the share of false positives among the triaged alerts it fired in rises
    from one half to all (at least `tune_min_triaged` triaged). A canary is never tuned."""
    least, top = int(conf.get("tune_min_triaged")), float(conf.get("tune_max_factor"))
    seen: dict[str, list[int]] = {}
    for sigs, status in AccessAlert.objects.exclude(status=AccessAlert.Status.OPEN).values_list(
        "signals", "status"
    ):
        for s in sigs:
            n = seen.setdefault(s["name"], [0, 0])
            n[0] += 1
            n[1] += status == AccessAlert.Status.FALSE
    out = {}
    for name, (n, fp) in seen.items():
        if name == "canary" or n < least:
            continue
        share = fp / n
        out[name] = round(1 + (top - 1) * max(0.0, (share - 0.5) / 0.5), 3)
    return out


def run(day_from: dt.date | None = None, day_to: dt.date | None = None) -> dict:
    """Compute the alerts of a period with the tuned thresholds and store them (a staff-day already
    alerted keeps its triage; its score and signals are brought up to date). Returns
    {"alerts": [DayAlert…], "active_staff_days": n, "factors": {…}}."""
    f = factors()
    found, active = signals.compute(day_from, day_to, f)
    with transaction.atomic():
        existing = {
            (a.staff_no, a.day): a
            for a in AccessAlert.objects.filter(
                day__in={x.day for x in found}, staff_no__in={x.staff_no for x in found}
            )
        }
        new = []
        for x in found:
            a = existing.get((x.staff_no, x.day))
            if a is None:
                new.append(
                    AccessAlert(
                        staff_no=x.staff_no, day=x.day, score=x.score, signals=x.signals, canary=x.canary
                    )
                )
            elif a.score != x.score or a.signals != x.signals:
                a.score, a.signals, a.canary = x.score, x.signals, x.canary
                a.save(update_fields=["score", "signals", "canary", "updated"])
        AccessAlert.objects.bulk_create(new, batch_size=1000)
    return {"alerts": found, "active_staff_days": active, "factors": f}


def triage(alert_id: int, user, verdict: str, note: str = "") -> AccessAlert:
    """Mark an alert a true or a false positive, with a note; recorded through `record()`."""
    from custos.audit.record import record, snapshot

    if verdict not in (AccessAlert.Status.TRUE, AccessAlert.Status.FALSE):
        raise TriageError("verdict must be true or false")
    fields = ["status", "note", "triaged_by", "triaged_at"]
    with transaction.atomic():
        a = AccessAlert.objects.select_for_update().get(pk=alert_id)
        before = snapshot(a, fields)
        a.status, a.note = verdict, note.strip()
        a.triaged_by, a.triaged_at = user.username, timezone.now()
        a.save(update_fields=[*fields, "updated"])
        record(user, "watch.triaged", a, before, snapshot(a, fields), note.strip())
    return a
