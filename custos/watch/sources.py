"""What a violation proposed from an alert (or a leak trace) starts with: the discipline app's form
is opened with ``?source=alert:<id>`` (or ``trace:<id>``) and pre-filled from here, after checking
that the alert exists and the user may see it (`watch.alerts`).

A trace is the tracing package's: ``custos.watch.tracing.service.violation_prefill(user, ident)``
returns a `Prefill` or None (a case the user may not see, or whose top suspect is no staff member).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Prefill:
    staff_no: str
    kind: str  # discipline's Violation.Kind
    summary: str  # the proposal's text (no customer data: counts and signals only)
    evidence_kind: str  # discipline's EvidenceLink.Kind
    ref: str  # the source reference kept as the case's evidence, e.g. "alert:12"
    note: str = ""


def _number(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def alert_summary(alert) -> str:
    """One line: the day, the alert, each signal that fired with its value and threshold."""
    from custos.watch.views import signal_label

    parts = [
        _("%(signal)s %(value)s（阈值 %(threshold)s）")
        % {
            "signal": signal_label(s["name"]),
            "value": _number(s["value"]),
            "threshold": _number(s["threshold"]),
        }
        for s in alert.signals
    ]
    return _("%(day)s 访问异常告警 #%(id)s，得分 %(score).1f：%(signals)s") % {
        "day": alert.day.isoformat(),
        "id": alert.pk,
        "score": alert.score,
        "signals": "；".join(parts),
    }


def violation_url(user, staff_no: str, source: str) -> str | None:
    """The link to discipline's form pre-filled from ``source`` (``alert:<id>``, ``trace:<id>``), for
    a user who may propose violations; None otherwise."""
    from urllib.parse import urlencode

    from django.urls import NoReverseMatch, reverse

    from custos.access.capabilities import can

    if not staff_no or not can(user, "violation.propose"):
        return None
    try:
        base = reverse("discipline-new")
    except NoReverseMatch:
        return None
    return base + "?" + urlencode({"staff_no": staff_no, "source": source})


def prefill(user, source: str) -> Prefill | None:
    """The pre-filled proposal for ``source``, or None when it names nothing this user may see."""
    from custos.access.capabilities import can
    from custos.discipline.models import EvidenceLink, Violation
    from custos.watch.models import AccessAlert

    kind, _sep, ident = (source or "").strip().partition(":")
    if kind == "alert":
        if not ident.isdigit() or not can(user, "watch.alerts"):
            return None
        alert = AccessAlert.objects.filter(pk=int(ident)).first()
        if alert is None:
            return None
        summary = alert_summary(alert)
        return Prefill(
            staff_no=alert.staff_no,
            kind=Violation.Kind.DATA_MISUSE,
            summary=summary[:500],
            evidence_kind=EvidenceLink.Kind.NOTE,
            ref=f"alert:{alert.pk}",
            note=summary[:300],
        )
    if kind == "trace":
        from custos.watch.tracing.service import violation_prefill

        return violation_prefill(user, ident)
    return None
