"""Leak tracing on the live book: the parties (the book's encrypted snapshot, or the database when
there is none), the access history, the partners' policies, the generated extractions and their
canaries; the result kept as a `LeakCase` and audited (action ``watch.traced``).

    case = trace_file(path, user=request.user, client=…, note=…)   # the page and `custos trace`

Called by the leak-case pages and the `trace` command; both require `leak.trace` of their user (the
command runs as the host's operator).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
from django.db import transaction
from django.utils.translation import gettext as _

from custos.audit.record import record
from custos.domain import masking
from custos.watch import book, store
from custos.watch.tracing import engine
from custos.watch.tracing.leakfile import LeakFile, LeakFileError, read
from custos.watch.tracing.matching import PARTY_SCHEMA
from custos.watch.tracing.models import LeakCase

__all__ = ["LeakFileError", "trace_file", "violation_staff_no", "visible_cases"]

RECORDS_KEPT = 200  # matched records kept (masked) for the case page and PDF
BATCH = 1000


def _parties_view(con) -> str:
    """A view t_book_parties over the book's parties in clear: the snapshot when there is one."""
    from custos.book.services import current_snapshot
    from custos.crypto import snapshot

    snap = current_snapshot()
    if snap is not None and (snap / "parties.parquet").exists():
        src = snapshot.source(con, snap, "parties")
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW t_book_parties AS
                SELECT row_number() OVER () AS pk, policy_no, name, id_no, mobile,
                       CAST(birth_date AS VARCHAR) AS birth_date FROM {src}"""
        )
        return "t_book_parties"
    from custos.book.models import Party

    cols: dict[str, list] = {f.name: [] for f in PARTY_SCHEMA}
    qs = Party.objects.filter(gone_load__isnull=True).order_by("id")
    for p in qs.iterator(chunk_size=5000):
        cols["pk"].append(p.pk)
        cols["policy_no"].append(p.policy_no)
        cols["name"].append(p.name or "")
        cols["id_no"].append(p.id_no or "")
        cols["mobile"].append(p.mobile or "")
        cols["birth_date"].append(p.birth_date.isoformat() if p.birth_date else "")
    con.register("t_book_parties", pa.table(cols, schema=PARTY_SCHEMA))
    return "t_book_parties"


def _extractions(leak: LeakFile) -> list[engine.ExtractionSource]:
    from custos.access.models import Profile
    from custos.crypto.fields import Keys
    from custos.domain.spreadsheet import neutralise
    from custos.extraction.generation import cell_digest
    from custos.extraction.leaks import _CanaryScan
    from custos.extraction.models import Canary, Extraction

    S = Extraction.State
    exts = list(
        Extraction.objects.select_related("recipient_user", "requester").filter(
            state__in=[S.GENERATED, S.DOWNLOADED, S.EXPIRED], row_count__gt=0
        )
    )
    if not exts:
        return []
    keys = Keys.from_keyring()
    scan = _CanaryScan(keys)
    for i in range(0, len(leak.raw), BATCH):
        scan.batch(leak.raw[i : i + BATCH])
    by_ext: dict[int, list] = {}
    canaries = Canary.objects.in_bulk(list(scan.hits))
    for cid, fields_ in scan.result().items():
        by_ext.setdefault(canaries[cid].extraction_id, []).append((cid, fields_))
    users = {e.recipient_user_id for e in exts} | {e.requester_id for e in exts}
    staff_of = dict(Profile.objects.filter(user_id__in=users).values_list("user_id", "staff_no"))
    out = []
    for e in exts:
        digests = frozenset(row[1][0] for row in e.manifest if not row[3] and row[1])
        out.append(
            engine.ExtractionSource(
                id=e.pk,
                recipient=e.recipient_label,
                recipient_staff_no=staff_of.get(e.recipient_user_id, "") or "",
                requester_staff_no=e.requester_staff_no or staff_of.get(e.requester_id, "") or "",
                size=len(digests),
                digests=digests,
                digest=lambda p, k=keys: cell_digest(k, neutralise(p)),
                canaries=by_ext.get(e.pk, []),
            )
        )
    return out


def _masked(sample: list[dict]) -> list[dict]:
    return [
        {
            "row": r["row"],
            "policy_no": r["policy_no"],
            "name": masking.name(r.get("name") or ""),
            "id_no": masking.id_no(r.get("id_no") or ""),
            "mobile": masking.mobile(r.get("mobile") or ""),
        }
        for r in sample[:RECORDS_KEPT]
    ]


def outcome(leak: LeakFile) -> engine.TraceOutcome:
    """Trace a read leak file against the live book and history (no case, no audit)."""
    con = store.connect()
    try:
        book.register(con)
        parties = _parties_view(con)
        universe = con.execute("SELECT count(*) FROM w_policy").fetchone()[0]
        return engine.run(
            con,
            leak,
            parties=parties,
            history=store.source(con),
            policies="w_policy",
            extractions=_extractions(leak),
            universe=int(universe),
        )
    finally:
        con.close()


def trace_file(path: Path, *, user=None, client: str = "", note: str = "", name: str = "") -> LeakCase:
    """Trace a leaked file and keep the case; the trace is audited (watch.traced) in the same
    transaction as the case, so there is no case without its audit entry. LeakFileError when the
    file cannot be read."""
    path = Path(path)
    leak = read(path)
    out = outcome(leak)
    data = path.read_bytes()
    result = out.as_json()
    result.update(
        objects=out.objects,
        weak=out.weak,
        columns=out.columns,
        records=_masked(out.sample),
        seconds=out.seconds,
    )
    with transaction.atomic():
        case = LeakCase.objects.create(
            created_by=user if getattr(user, "pk", None) else None,
            client=(client or "")[:64],
            source_name=(name or path.name)[:200],
            note=(note or "")[:500],
            file_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            rows=out.rows,
            matched=out.matched,
            result=result,
        )
        top = ", ".join(f"{s['kind']}:{s['id']}:{s['score']:.3f}" for s in result["suspects"][:5])
        record(
            user,
            "watch.traced",
            case,
            None,
            {
                "rows": out.rows,
                "matched": out.matched,
                "suspects": len(result["suspects"]),
                "sha256": case.sha256,
            },
            f"trace {case.source_name}: {top}"[:500],
            client=client,
            model="leak_case",
        )
    return case


def visible_cases(user):
    """The leak cases a holder of leak.trace sees: all of them (the capability is company-wide)."""
    from custos.access.capabilities import can

    if not can(user, "leak.trace"):
        return LeakCase.objects.none()
    return LeakCase.objects.select_related("created_by")


def violation_staff_no(suspect: dict | None) -> str:
    """The staff number a violation for this suspect would name: the staff member, or the staff
    recipient (else the requester) of an extraction; "" for a partner outlet."""
    if not suspect:
        return ""
    if suspect["kind"] == "staff":
        return suspect["id"]
    if suspect["kind"] == "extraction":
        ev = suspect.get("evidence", {})
        return ev.get("recipient_staff_no") or ev.get("requester_staff_no") or ""
    return ""


def violation_prefill(user, ident: str):
    """The violation proposal a leak case starts (``?source=trace:<id>`` on discipline's form): its
    top suspect's staff number, the kind "resale", and a summary of counts and scores only — no
    customer data. None when the case does not exist, the user may not trace leaks, or the top
    suspect names no staff member (a partner outlet is a matter for the partnership app)."""
    from custos.discipline.models import EvidenceLink, Violation
    from custos.watch.sources import Prefill

    if not str(ident).isdigit():
        return None
    case = visible_cases(user).filter(pk=int(ident)).first()
    if case is None:
        return None
    top = case.top
    staff_no = violation_staff_no(top)
    if not staff_no:
        return None
    kinds = {"staff": _("员工"), "extraction": _("数据提取"), "partner": _("合作机构")}
    summary = _(
        "泄露案件 #%(id)s（%(name)s）：%(rows)s 行，匹配 %(matched)s 位客户；"
        "首要嫌疑：%(kind)s %(who)s，得分 %(score).2f。"
    ) % {
        "id": case.pk,
        "name": case.source_name,
        "rows": case.rows,
        "matched": case.matched,
        "kind": kinds.get(top["kind"], top["kind"]),
        "who": top["id"],
        "score": float(top.get("score") or 0),
    }
    return Prefill(
        staff_no=staff_no,
        kind=Violation.Kind.RESALE,
        summary=summary[:500],
        evidence_kind=EvidenceLink.Kind.LEAK,
        ref=f"trace:{case.pk}",
        note=summary[:300],
    )


def pdf_bytes(case: LeakCase, context: dict) -> bytes:
    """The leak-case report as a Chinese PDF with the Noto CJK font embedded (WeasyPrint), whatever
    the reader's language: it goes into the case file."""
    from django.template.loader import render_to_string
    from django.utils import timezone, translation
    from weasyprint import HTML

    from custos.remediation.letters import company

    with translation.override("zh-hans"):
        html = render_to_string(
            "watch/trace_pdf.html", {**context, "company": company(), "generated": timezone.localtime()}
        )
    return HTML(string=html).write_pdf()
