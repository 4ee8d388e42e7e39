"""Proposals from the facts custos already has. Idempotent: a fact already linked as evidence against a
person is never proposed again; new evidence of a fact whose case is decided is a new case.

| fact | person | kind | one case per |
|---|---|---|---|
| SC01 finding: a contact field changed after issue without a customer request | the operator of each such change (`changes.changed_by`) | operations | operator and policy |
| PH05 / PH07 / AD04 finding: a staff member's phone, the outlet's phone or address as the customer's | the selling agent (`policies.agent_no`) | sales | agent and policy |
| refused reads (audit entries with outcome `denied`), at least `denied_per_day` on one day | the reader's staff number | data misuse | person and day |
| a rejected extraction request | the requester | data misuse | extraction |
| a leak trace whose best candidate is `certain` or `high` | the extraction's recipient (else its downloader, else its requester) | resale | trace |
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from custos.discipline import conf
from custos.discipline.models import EvidenceLink, Violation
from custos.discipline.services.cases import Evidence, propose

K = Violation.Kind
SRC = Violation.Source
E = EvidenceLink.Kind
# reads of personal data (custos.audit.actions): a refusal of one is an attempt outside scope
READ_ACTIONS = (
    "lookup",
    "customer_list",
    "list",
    "detail",
    "api",
    "export",
    "extract",
    "letter",
    "task_view",
    "evidence",
    "screening",
    "unmask",
    "load_errors",
)
CHUNK = 500
OPEN = (Violation.Status.PROPOSED, Violation.Status.NOTIFIED, Violation.Status.APPEALED)


@dataclass
class Report:
    proposed: Counter = field(default_factory=Counter)  # source → new cases
    added: Counter = field(default_factory=Counter)  # source → evidence added to open cases
    skipped: Counter = field(default_factory=Counter)  # source → facts without a staff member

    def line(self) -> str:
        parts = [
            f"{src}: {self.proposed[src]} proposed, {self.added[src]} evidence added"
            + (f", {self.skipped[src]} without a staff number" if self.skipped[src] else "")
            for src in (SRC.SC01, SRC.AGENT_CONTACT, SRC.DENIED, SRC.EXTRACTION, SRC.LEAK)
        ]
        return f"{sum(self.proposed.values())} proposals; " + "; ".join(parts)


def _linked(kind: str) -> set[str]:
    return set(EvidenceLink.objects.filter(kind=kind).values_list("ref", flat=True))


def _propose(report: Report, source: str, actor, **kw) -> None:
    v, _n = propose(source=source, actor=actor, **kw)
    if v is not None:
        (report.proposed if v.created_now else report.added)[source] += 1


def _staff_of_users(user_ids) -> dict[int, str]:
    from custos.access.models import Profile

    return dict(
        Profile.objects.filter(user_id__in=set(user_ids))
        .exclude(staff_no="")
        .values_list("user_id", "staff_no")
    )


def from_sc01(report: Report, actor=None) -> None:
    from custos.book.models import Change, Policy
    from custos.checks.models import Finding

    done = _linked(E.FINDING)
    findings = [f for f in Finding.objects.filter(check_code="SC01").order_by("id") if str(f.pk) not in done]
    for i in range(0, len(findings), CHUNK):
        chunk = findings[i : i + CHUNK]
        policies = {f.policy_no for f in chunk}
        issued = dict(Policy.objects.filter(policy_no__in=policies).values_list("policy_no", "issued_on"))
        changes = defaultdict(list)
        for c in Change.objects.filter(policy_no__in=policies, field__in=["mobile", "phone", "address"]):
            changes[(c.policy_no, c.role, c.seq, c.field)].append(c)
        for f in chunk:
            on = issued.get(f.policy_no)
            by_operator = defaultdict(list)
            for c in changes[(f.policy_no, f.role, f.seq, f.field)]:
                if (c.request_no or "").strip() or on is None or timezone.localdate(c.changed_at) <= on:
                    continue
                if c.changed_by:
                    by_operator[c.changed_by].append(c)
            if not by_operator:
                report.skipped[SRC.SC01] += 1
            for operator, rows in sorted(by_operator.items()):
                evidence = [Evidence(E.FINDING, str(f.pk), f"SC01 {f.role}/{f.seq} {f.field}")]
                evidence += [Evidence(E.CHANGE, str(c.pk), c.changed_at.isoformat()) for c in rows]
                _propose(
                    report,
                    SRC.SC01,
                    actor,
                    kind=K.OPERATIONS,
                    staff_no=operator,
                    group_key=f"sc01:{f.policy_no}",
                    subject=f.policy_no,
                    evidence=evidence,
                )


def from_agent_contact(report: Report, actor=None) -> None:
    from custos.checks.models import Finding

    done = _linked(E.FINDING)
    qs = Finding.objects.filter(check_code__in=conf.get("agent_contact_checks")).order_by("id")
    for f in qs.iterator(chunk_size=2000):
        if str(f.pk) in done:
            continue
        if not f.agent_no:
            report.skipped[SRC.AGENT_CONTACT] += 1
            continue
        _propose(
            report,
            SRC.AGENT_CONTACT,
            actor,
            kind=K.SALES,
            staff_no=f.agent_no,
            group_key=f"agent_contact:{f.policy_no}",
            subject=f.policy_no,
            evidence=[Evidence(E.FINDING, str(f.pk), f"{f.check_code} {f.role}/{f.seq} {f.field}")],
        )


def from_denied_reads(report: Report, actor=None, now=None) -> None:
    from custos.access.models import Profile
    from custos.audit.models import AuditEntry

    now = now or timezone.now()
    since = now - dt.timedelta(days=int(conf.get("denied_lookback_days")))
    rows = list(
        AuditEntry.objects.filter(
            at_us__gte=int(since.timestamp() * 1_000_000), outcome="denied", action__in=READ_ACTIONS
        ).values_list("seq", "at_us", "username", "staff_no")
    )
    done = _linked(E.AUDIT)
    staff_of = dict(
        Profile.objects.filter(user__username__in={r[2] for r in rows if not r[3]})
        .exclude(staff_no="")
        .values_list("user__username", "staff_no")
    )
    days: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
    for seq, at_us, username, staff_no in rows:
        if str(seq) in done:
            continue
        staff_no = staff_no or staff_of.get(username, "")
        if not staff_no:
            report.skipped[SRC.DENIED] += 1
            continue
        day = timezone.localdate(dt.datetime.fromtimestamp(at_us / 1_000_000, tz=dt.UTC))
        days[(staff_no, day)].append(seq)
    threshold = int(conf.get("denied_per_day"))
    for (staff_no, day), seqs in sorted(days.items()):
        key = f"denied:{day.isoformat()}"
        open_case = (
            Violation.objects.filter(staff_no=staff_no, status__in=OPEN)
            .filter(Q(group_key=key) | Q(group_key__startswith=key + "#"))
            .exists()
        )
        if len(seqs) < threshold and not open_case:
            continue
        _propose(
            report,
            SRC.DENIED,
            actor,
            kind=K.DATA_MISUSE,
            staff_no=staff_no,
            group_key=key,
            subject=day.isoformat(),
            evidence=[Evidence(E.AUDIT, str(s)) for s in sorted(seqs)],
        )


def from_extractions(report: Report, actor=None) -> None:
    from custos.extraction.models import Extraction

    done = _linked(E.EXTRACTION)
    exts = [
        e
        for e in Extraction.objects.filter(state=Extraction.State.REJECTED).order_by("id")
        if str(e.pk) not in done
    ]
    staff_of = _staff_of_users(e.requester_id for e in exts)
    for e in exts:
        staff_no = e.requester_staff_no or staff_of.get(e.requester_id, "")
        if not staff_no:
            report.skipped[SRC.EXTRACTION] += 1
            continue
        _propose(
            report,
            SRC.EXTRACTION,
            actor,
            kind=K.DATA_MISUSE,
            staff_no=staff_no,
            group_key=f"extraction:{e.pk}",
            subject=str(e.pk),
            evidence=[Evidence(E.EXTRACTION, str(e.pk), e.state)],
        )


def culprit(trace) -> tuple[object, str] | None:
    """(extraction, confidence) of a finished trace's best candidate when it is sure enough."""
    from custos.extraction.leaks import TraceResult

    best = TraceResult.from_stored(trace.result or {}).best
    if best is None or best.confidence not in conf.get("leak_confidence"):
        return None
    return best.extraction, best.confidence


def from_leaks(report: Report, actor=None) -> None:
    from custos.extraction.models import LeakTrace

    done = _linked(E.LEAK)
    for trace in LeakTrace.objects.filter(status=LeakTrace.Status.DONE).order_by("id"):
        if str(trace.pk) in done:
            continue
        found = culprit(trace)
        if found is None:
            continue
        ext, confidence = found
        user_id = ext.recipient_user_id or ext.downloaded_by_id or ext.requester_id
        staff_no = _staff_of_users([user_id]).get(user_id, "")
        if not staff_no:
            report.skipped[SRC.LEAK] += 1
            continue
        _propose(
            report,
            SRC.LEAK,
            actor,
            kind=K.RESALE,
            staff_no=staff_no,
            group_key=f"leak:{trace.pk}",
            subject=str(trace.pk),
            evidence=[
                Evidence(E.LEAK, str(trace.pk), confidence),
                Evidence(E.EXTRACTION, str(ext.pk), "leaked"),
            ],
        )


SOURCES = (from_sc01, from_agent_contact, from_denied_reads, from_extractions, from_leaks)


def propose_from_facts(actor=None) -> Report:
    """Every source in turn; each proposal is its own transaction (a failure leaves the earlier ones)."""
    report = Report()
    for source in SOURCES:
        source(report, actor)
    return report
