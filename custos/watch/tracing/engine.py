"""The trace itself, independent of where its inputs come from (the live book and history, or a
benchmark's world): match the leaked rows, gather every source's holdings, rank by the guilt model.

    result = run(con, leak, parties=…, history=…, policies=…, extractions=[…], universe=n)

`con` is a DuckDB connection on which `history` (a table expression over the access history) and
`policies` (a table with policy_no, partner_code) can be read. Staff holdings are the distinct
policies each operator read (custos's own reads included); a partner outlet's, the policies it sold;
an extraction's, the policies it delivered (digests of its manifest). The history is scanned twice:
once for every operator's holdings (approximate distinct count, HyperLogLog), once for the reads of
the leaked policies.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from custos.watch.tracing import guilt
from custos.watch.tracing.leakfile import LeakFile
from custos.watch.tracing.matching import Match, match

READS_SHOWN = 20  # reads kept as evidence for each of the top suspects
TOP_EVIDENCE = 10  # suspects whose reads are listed


@dataclass
class ExtractionSource:
    """An extraction as a possible source: what it delivered, and the canaries of it in the file."""

    id: int
    recipient: str  # label
    recipient_staff_no: str = ""
    requester_staff_no: str = ""
    size: int = 0  # distinct policies delivered
    policies: frozenset[str] = frozenset()  # holdings by policy number (a benchmark's world) …
    digests: frozenset[str] = frozenset()  # … or by keyed digest (the manifest), with `digest`
    digest: Callable[[str], str] | None = None
    canaries: list = field(default_factory=list)  # [(canary id, [fields found])]


@dataclass
class TraceOutcome:
    rows: int
    matched: int  # leaked rows matched to one person
    objects: int  # distinct persons matched
    weak: int
    columns: dict
    suspects: list[guilt.Suspect]
    sample: list[dict]
    seconds: dict

    def as_json(self, limit: int = 50) -> dict:
        return {
            "matched": self.matched,
            "rows": self.rows,
            "suspects": [
                {"kind": s.kind, "id": s.id, "score": round(s.score, 6), "evidence": s.evidence}
                for s in self.suspects[:limit]
            ],
        }


ACTIONS = ("view", "search", "print", "export", "extract")
BULK = ("print", "export", "extract")  # a list taken in one go


def _staff(con, history: str) -> dict[str, tuple[int, int]]:
    """Every operator's holdings — distinct policies read, and of them printed or exported
    (approximate) — and, in temp table t_hr, one row per (operator, leaked object) they read: first
    and last read, reads by action."""
    bulk = ", ".join(f"'{a}'" for a in BULK)
    held = {
        s: (int(n), int(nb))
        for s, n, nb in con.execute(
            f"""SELECT staff_no, approx_count_distinct(policy_no),
                       approx_count_distinct(policy_no) FILTER (WHERE action IN ({bulk}))
                FROM {history}
                WHERE coalesce(partner_code, '') = '' AND coalesce(policy_no, '') <> '' GROUP BY staff_no"""
        ).fetchall()
    }
    per_action = ", ".join(f"count(*) FILTER (WHERE h.action = '{a}') AS n_{a}" for a in ACTIONS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE t_hr AS
            SELECT h.staff_no, m.obj, min(h.at_local) AS first, max(h.at_local) AS last, count(*) AS n, {per_action}
            FROM {history} h JOIN t_mt m ON m.policy_no = h.policy_no
            WHERE coalesce(h.partner_code, '') = '' GROUP BY h.staff_no, m.obj"""
    )
    return held


def _reads_shown(con, history: str, staff: list[str]) -> dict[str, list[dict]]:
    if not staff:
        return {}
    con.register("t_top", pa.table({"staff_no": staff}))
    rows = con.execute(
        f"""SELECT h.staff_no, h.at_local, h.action, h.policy_no, h.system FROM {history} h
            JOIN t_mt m ON m.policy_no = h.policy_no
            WHERE h.staff_no IN (SELECT staff_no FROM t_top) AND coalesce(h.partner_code, '') = ''
            QUALIFY row_number() OVER (PARTITION BY h.staff_no ORDER BY h.at_local, h.policy_no) <= {READS_SHOWN}
            ORDER BY h.staff_no, h.at_local """
    ).fetchall()
    con.unregister("t_top")
    out: dict[str, list[dict]] = defaultdict(list)
    for s, at, action, pol, system in rows:
        out[s].append(
            {"at": at.isoformat() if at else "", "action": action, "policy_no": pol, "system": system}
        )
    return out


def run(
    con: duckdb.DuckDBPyConnection,
    leak: LeakFile,
    *,
    parties,
    history: str,
    policies: str,
    extractions: list[ExtractionSource],
    universe: int,
) -> TraceOutcome:
    t0 = time.perf_counter()
    m: Match = match(con, parties, leak.records)
    t1 = time.perf_counter()
    con.register("t_mt", m.policies)
    n_obj = len(m.persons)
    obj_policies: dict[int, list[str]] = defaultdict(list)
    for obj, pol in zip(
        m.policies.column("obj").to_pylist(), m.policies.column("policy_no").to_pylist(), strict=True
    ):
        obj_policies[obj].append(pol)
    holders: dict[int, int] = Counter()  # |V_t|
    suspects: list[guilt.Suspect] = []

    # staff: what they read
    held = _staff(con, history)
    t2 = time.perf_counter()
    for obj, v in con.execute("SELECT obj, count(*) FROM t_hr GROUP BY obj").fetchall():
        holders[obj] += v
    per_action = ", ".join(f"sum(n_{a})::BIGINT" for a in ACTIONS)
    bulk_hit = " + ".join(f"n_{a}" for a in BULK)
    for s, hits, bulk_hits, n, first, last, *by_action in con.execute(
        f"""SELECT staff_no, count(*), count(*) FILTER (WHERE {bulk_hit} > 0), sum(n)::BIGINT, min(first),
                   max(last), {per_action} FROM t_hr GROUP BY staff_no"""
    ).fetchall():
        n_held, n_bulk = held.get(s, (0, 0))
        suspects.append(
            guilt.Suspect(
                "staff",
                s,
                held=max(n_held, int(hits)),
                hits=int(hits),
                bulk_held=max(n_bulk, int(bulk_hits)) if bulk_hits else 0,
                bulk_hits=int(bulk_hits),
                evidence={
                    "reads": int(n),
                    "actions": {a: int(k) for a, k in zip(ACTIONS, by_action, strict=True) if k},
                    "first_read": first.isoformat() if first else "",
                    "last_read": last.isoformat() if last else "",
                },
            )
        )

    # partner outlets: what they sold
    sold = con.execute(
        f"""SELECT p.partner_code, count(DISTINCT p.policy_no) AS held,
                   list(DISTINCT m.obj) FILTER (WHERE m.obj IS NOT NULL) AS objs
            FROM {policies} p LEFT JOIN t_mt m ON m.policy_no = p.policy_no
            WHERE coalesce(p.partner_code, '') <> '' GROUP BY p.partner_code"""
    ).fetchall()
    for code, n_held, objs in sold:
        objs = objs or []
        if not objs:
            continue
        for o in objs:
            holders[o] += 1
        suspects.append(
            guilt.Suspect("partner", code, held=int(n_held), hits=len(objs), evidence={"sold": int(n_held)})
        )

    # extractions: what they delivered; a canary names the recipient outright
    digests: dict[int, set[str]] = {}
    for e in extractions:
        if e.digest is not None and not digests:
            digests = {o: {e.digest(p) for p in pols} for o, pols in obj_policies.items()}
        if e.digest is not None:
            objs = [o for o, ds in digests.items() if ds & e.digests]
        else:
            objs = [o for o, pols in obj_policies.items() if any(p in e.policies for p in pols)]
        if not objs and not e.canaries:
            continue
        for o in objs:
            holders[o] += 1
        suspects.append(
            guilt.Suspect(
                "extraction",
                str(e.id),
                held=max(e.size, len(objs), 1),
                hits=len(objs),
                certain=bool(e.canaries),
                evidence={
                    "recipient": e.recipient,
                    "recipient_staff_no": e.recipient_staff_no,
                    "requester_staff_no": e.requester_staff_no,
                    "rows": e.size,
                    "canaries": [[cid, list(f)] for cid, f in e.canaries],
                },
            )
        )
    ranked = guilt.rank(suspects, n_obj, universe)
    top = ranked[:TOP_EVIDENCE]
    top_staff = [s.id for s in top if s.kind == "staff"]
    objs_of: dict[str, list[int]] = defaultdict(list)
    if top_staff:
        con.register("t_top", pa.table({"staff_no": top_staff}))
        for s, obj in con.execute(
            "SELECT staff_no, obj FROM t_hr WHERE staff_no IN (SELECT staff_no FROM t_top)"
        ).fetchall():
            objs_of[s].append(obj)
        con.unregister("t_top")
    shown = _reads_shown(con, history, top_staff)
    for i, s in enumerate(ranked):
        s.evidence.update(
            held=s.held,
            hits=s.hits,
            coverage=round(s.hits / n_obj, 4) if n_obj else 0.0,
            precision=round(s.hits / s.held, 4) if s.held else 0.0,
            loglik=round(s.loglik, 2),
        )
        if s.bulk_hits:
            s.evidence.update(bulk_held=s.bulk_held, bulk_hits=s.bulk_hits, explained_by=s.explained_by)
        if i < TOP_EVIDENCE and s.kind == "staff":
            s.evidence["pgm_guilt"] = round(guilt.pgm_guilt([holders[o] for o in objs_of[s.id]]), 6)
            s.evidence["reads_shown"] = shown.get(s.id, [])
    t3 = time.perf_counter()
    con.unregister("t_mt")
    con.execute("DROP TABLE IF EXISTS t_hr")
    return TraceOutcome(
        rows=leak.rows,
        matched=len(m.matched_rows),
        objects=n_obj,
        weak=m.weak,
        columns=leak.columns,
        suspects=ranked,
        sample=m.sample,
        seconds={"match": round(t1 - t0, 3), "history": round(t2 - t1, 3), "rank": round(t3 - t2, 3)},
    )
