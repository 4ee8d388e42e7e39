"""custos's own reads join the history: the audit log's reads of parties, as access-log rows of
``system = custos``, one per policy an entry showed.

Idempotent twice over: each export takes the entries after the last one an earlier export took
(`IngestedFile.last_seq`), and its rows are written as an ingested file's are (`fastparse.write_new`:
on a day the history holds, only reads not stored there yet), so that an entry exported again would
add nothing.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
from django.db import transaction
from django.db.models import Max

from custos.watch import fastparse, ingest, store

# audit action -> access-log action
ACTION_MAP = {
    "lookup": "search",
    "customer_list": "view",
    "api": "view",
    "detail": "view",
    "unmask": "view",
    "task_view": "view",
    "letter": "print",
    "export": "export",
    "extract": "export",
}
BATCH = 5000


def export_audit() -> dict:
    """Append custos's reads recorded since the last export; returns {"entries", "rows", "added"}."""
    from custos.access.models import Profile
    from custos.audit.models import AuditEntry
    from custos.book.models import Party
    from custos.watch.models import IngestedFile

    since = IngestedFile.objects.filter(kind=IngestedFile.Kind.AUDIT).aggregate(m=Max("last_seq"))["m"] or -1
    entries = list(
        AuditEntry.objects.filter(seq__gt=since, model="party", action__in=list(ACTION_MAP), outcome="ok")
        .order_by("seq")
        .values("seq", "at_us", "username", "staff_no", "action", "record_ids", "client")
    )
    last = AuditEntry.objects.aggregate(m=Max("seq"))["m"]
    if not entries:
        return {"entries": 0, "rows": 0, "added": 0}
    partner_of = dict(Profile.objects.exclude(partner_code="").values_list("user__username", "partner_code"))
    party_ids = {int(i) for e in entries for i in json.loads(e["record_ids"]) if str(i).isdigit()}
    policy_of: dict[int, str] = {}
    ids = sorted(party_ids)
    for i in range(0, len(ids), BATCH):
        policy_of.update(Party.objects.filter(pk__in=ids[i : i + BATCH]).values_list("pk", "policy_no"))
    known = ingest.KnownOperators.from_book()
    tz = ingest._tz()
    rows = []
    for e in entries:
        policies = sorted({policy_of[int(i)] for i in json.loads(e["record_ids"]) if int(i) in policy_of})
        staff_no = e["staff_no"] or e["username"]
        partner_code = partner_of.get(e["username"], "")
        at = dt.datetime.fromtimestamp(e["at_us"] / 1e6, tz=dt.UTC)
        local = at.astimezone(tz).replace(tzinfo=None)
        action = ACTION_MAP[e["action"]]
        for p in policies:
            rows.append(
                (at, local, "custos", staff_no, partner_code, action, p, "", len(policies), e["client"],
                 known.knows(staff_no, partner_code))
            )  # fmt: skip
    first, final = entries[0]["seq"], max(entries[-1]["seq"], last or 0)
    part = f"audit-{first}-{final}"
    by_day = ingest.tables_by_day(rows, part)
    staged = store.Staged()
    con = store.connect()
    try:
        added = 0
        if by_day:
            table = pa.concat_tables(
                t.append_column("day", pa.array([d] * t.num_rows, pa.date32())) for d, t in by_day.items()
            )
            con.register("audit_rows", table)
            added = fastparse.write_new(con, staged, "SELECT * FROM audit_rows", sorted(by_day), part)
        with transaction.atomic():
            days = [r[1].date() for r in rows]
            f = IngestedFile.objects.create(
                digest=f"audit:{first}-{final}",
                name=f"audit log {first}–{final}",
                kind=IngestedFile.Kind.AUDIT,
                rows=len(rows),
                added=added,
                unknown_staff=sum(1 for r in rows if not r[10]),
                first_day=min(days) if days else None,
                last_day=max(days) if days else None,
                last_seq=final,
            )
            ingest._record_ingest(f)
            con.close()
            staged.commit()
    except BaseException:
        con.close()
        staged.discard()
        raise
    return {"entries": len(entries), "rows": len(rows), "added": added}
