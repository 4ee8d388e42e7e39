"""Read models of persons for the pages and the API, through the access service.

    qs = persons_in_scope(ctx)                      # persons with at least one party in scope
    page = person_list(ctx, q="", number=1)         # a page of them, masked names (one read entry)
    person = person_for(ctx, "P00000012")           # NotFound unless a party of theirs is in scope
    view = person_view(ctx, person)                 # parties, values with source and date, XC
                                                    # conflicts, merges and splits, why linked

A user sees a person only through the parties in their scope, and only those parties: records,
conflicts, link evidence and review pairs that name a party outside the scope are left out (not
counted, not hinted at). Values are masked by the access service (``read_parties``,
``read_findings``), and every read is logged before it returns (ReadLogUnavailable: nothing).

"Why linked" scores every pair of the person's records in scope with the link run's saved model
(Splink 5 on DuckDB in memory, no blocking, without the term-frequency adjustment, which needs the
whole book): each comparison's level and partial match weight, and the pair's match weight. Only
level labels and weights leave this module, never a value.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from custos.access.service import PARTY_FIELDS, AccessContext
from custos.book.models import Party, Policy
from custos.identity.models import LinkEvent, LinkRun, Person, PersonRecord, ReviewPair, number_of, pid

XC_CODES = ("XC01", "XC02", "XC03")
PER_PAGE = 20
MAX_RECORDS = 200  # a person's parties shown on one page
EXPLAIN_RECORDS = 12  # "why linked" scores all pairs of up to this many records (66 pairs)
VALUE_FIELDS = [f for f in PARTY_FIELDS if f not in ("policy_no", "role", "seq", "relation")]
POLICY_FIELDS = ("policy_no", "channel", "branch_code", "agent_no", "partner_code", "applied_on",
                 "issued_on", "status", "product_name")  # fmt: skip

Key = tuple[str, str, int]
PID_RE = re.compile(r"P[0-9]{8}")  # a person id (custos.identity.models.pid)


# what the page shows for Splink's comparison names and level labels (engine/model.py)
COMPARISONS = {
    "name": _("姓名"), "birth_date": _("出生日期"), "id_no": _("证件号码"), "mobile": _("手机"),
    "address": _("地址"), "gender": _("性别"), "email": _("电子邮箱"),
}  # fmt: skip
LEVELS = {
    "exact": _("完全一致"), "same pinyin": _("拼音相同"),
    "pinyin Jaro-Winkler >= 0.92": _("拼音相似度 ≥ 0.92"), "pinyin Jaro-Winkler >= 0.8": _("拼音相似度 ≥ 0.8"),
    "day and month swapped": _("日月颠倒"), "one part off": _("年、月、日一项不同"),
    "15- and 18-digit forms": _("15 位与 18 位号码"), "one digit off or transposed": _("一位不同或相邻两位颠倒"),
    "same road and number": _("同一道路门牌"), "same estate or village": _("同一小区或村"),
    "else": _("不一致"), "null": _("缺失"),
}  # fmt: skip


def levels_shown(levels: dict) -> list[tuple[str, str]]:
    """(comparison, level) of a pair, as the page shows them."""
    return [(str(COMPARISONS.get(k, k)), str(LEVELS.get(v, v))) for k, v in (levels or {}).items()]


class NotFound(Exception):
    """No such person, or none of their parties is in the caller's scope (not told apart)."""


# --- scope ---------------------------------------------------------------------------------------


def records_in_scope(ctx: AccessContext) -> QuerySet[PersonRecord]:
    return PersonRecord.objects.filter(policy_no__in=ctx.policies().values("policy_no"))


def persons_in_scope(ctx: AccessContext) -> QuerySet[Person]:
    return Person.objects.filter(
        status=Person.Status.ACTIVE, id__in=records_in_scope(ctx).values("person_id")
    ).order_by("number")


def _keys_q(keys, prefix: str = "") -> Q:
    q = Q(pk__in=[])
    for p, r, s in keys:
        q |= Q(**{f"{prefix}policy_no": p, f"{prefix}role": r, f"{prefix}seq": s})
    return q


def person_for(ctx: AccessContext, person_id: str) -> Person:
    """The person behind ``person_id`` (a merged person: the one they were merged into), when a party
    of theirs is in scope; NotFound otherwise."""
    if not PID_RE.fullmatch(str(person_id).strip().upper()):
        raise NotFound(person_id)
    number = number_of(str(person_id).strip().upper())
    person = Person.objects.filter(number=number).first()
    for _hop in range(20):  # a merged person points to the person they went to
        if person is None or person.status == Person.Status.ACTIVE or person.merged_into_id is None:
            break
        person = person.merged_into
    if person is None or not records_in_scope(ctx).filter(person=person).exists():
        raise NotFound(person_id)
    return person


def scoped_keys(ctx: AccessContext, person: Person) -> list[Key]:
    return [
        (p, r, s)
        for p, r, s in records_in_scope(ctx)
        .filter(person=person)
        .order_by("policy_no", "role", "seq")
        .values_list("policy_no", "role", "seq")[:MAX_RECORDS]
    ]


# --- the list --------------------------------------------------------------------------------------


@dataclass
class Listing:
    page: object
    rows: list[dict] = field(default_factory=list)


def person_list(
    ctx: AccessContext, q: str = "", number=1, per_page: int = PER_PAGE, action: str = ""
) -> Listing:
    """A page of the persons in scope (filtered by a person id or a policy number), each with its
    parties in scope counted and a masked name; one read entry for the page."""
    qs = persons_in_scope(ctx)
    q = (q or "").strip()
    if q and PID_RE.fullmatch(q.upper()):
        qs = qs.filter(number=number_of(q.upper()))
    elif q:
        qs = qs.filter(id__in=records_in_scope(ctx).filter(policy_no__iexact=q).values("person_id"))
    qs = qs.annotate(
        n_records=Count("records", filter=Q(records__policy_no__in=ctx.policies().values("policy_no")))
    )
    paginator = Paginator(qs.values("id", "number", "n_records"), per_page)
    pg = paginator.get_page(number)
    shown = list(pg.object_list)
    ids = [r["id"] for r in shown]
    recs = list(
        records_in_scope(ctx).filter(person_id__in=ids).values_list("person_id", "policy_no", "role", "seq")
    )
    by_person: dict[int, list[Key]] = {}
    for person_id, p, r, s in recs:
        by_person.setdefault(person_id, []).append((p, r, s))
    channels: dict[str, str] = dict(
        Policy.objects.filter(policy_no__in={k[0] for k in _flat(by_person)}).values_list(
            "policy_no", "channel"
        )
    )
    first = {pid_: sorted(keys)[0] for pid_, keys in by_person.items()}
    parties = ctx.read_parties(
        Party.objects.filter(_keys_q(first.values())) if first else Party.objects.none(),
        action=action or "customer_list",
        fields=["policy_no", "role", "seq", "name", "gender", "birth_date"],
        purpose=f"list; page {pg.number}",
        limit=per_page,
    )
    masked = {(r["policy_no"], r["role"], r["seq"]): r for r in parties}
    conflicts = _open_conflicts_count(_flat(by_person))
    rows = []
    for r in shown:
        keys = by_person.get(r["id"], [])
        head = masked.get(first.get(r["id"]), {})
        rows.append(
            {
                "person_id": pid(r["number"]),
                "records": len(keys),
                "policies": len({k[0] for k in keys}),
                "channels": sorted({channels.get(k[0], "") for k in keys} - {""}),
                "name": head.get("name", ""),
                "gender": head.get("gender", ""),
                "birth_date": head.get("birth_date", ""),
                "conflicts": sum(conflicts.get(k, 0) for k in keys),
            }
        )
    return Listing(page=pg, rows=rows)


def _flat(by_person: dict) -> list[Key]:
    return [k for keys in by_person.values() for k in keys]


def _open_conflicts_count(keys: list[Key]) -> dict[Key, int]:
    from custos.checks.models import Finding

    if not keys:
        return {}
    out: dict[Key, int] = {}
    rows = (
        Finding.objects.filter(check_code__in=XC_CODES, status=Finding.Status.OPEN)
        .filter(_keys_q(keys))
        .values_list("policy_no", "role", "seq")
    )
    for k in rows:
        out[k] = out.get(k, 0) + 1
    return out


# --- one person ------------------------------------------------------------------------------------


def person_view(ctx: AccessContext, person: Person, *, action: str = "lookup", explain: bool = True) -> dict:
    """Everything the person page shows, for the caller's scope: {person_id, records, values,
    conflicts, events, review, why}. Two read entries (parties, findings) before anything returns."""
    from custos.checks.services import read_findings

    keys = scoped_keys(ctx, person)
    purpose = f"person {person.pid}"
    parties = ctx.read_parties(
        Party.objects.filter(_keys_q(keys)),
        action=action,
        fields=PARTY_FIELDS,
        purpose=purpose,
        limit=MAX_RECORDS,
        include_id=True,
    )
    policies = {
        p["policy_no"]: p
        for p in Policy.objects.filter(policy_no__in={k[0] for k in keys}).values(*POLICY_FIELDS)
    }
    from custos.checks.models import Finding

    findings = read_findings(
        ctx,
        Finding.objects.filter(check_code__in=XC_CODES, status=Finding.Status.OPEN).filter(_keys_q(keys)),
        action,
        purpose=purpose,
    )
    flagged: dict[tuple[Key, str], list[str]] = {}
    for f in findings:
        flagged.setdefault(((f["policy_no"], f["role"], f["seq"]), f["field"]), []).append(f["check_code"])
    records = []
    for r in parties:
        key = (r["policy_no"], r["role"], r["seq"])
        pol = policies.get(r["policy_no"], {})
        records.append(
            {
                **r,
                "key": key,
                "policy": pol,
                "date": pol.get("applied_on") or pol.get("issued_on"),
                "flags": {f: flagged.get((key, f), []) for f in VALUE_FIELDS},
            }
        )
    records.sort(key=lambda r: (r["date"] is None, r["date"] or "", r["policy_no"], r["role"], r["seq"]))
    in_scope = set(keys)
    return {
        "person_id": person.pid,
        "person": person,
        "records": records,
        "values": _values(records),
        "channels": sorted({r["policy"].get("channel", "") for r in records} - {""}),
        "conflicts": sorted(findings, key=lambda f: (f["check_code"], f["policy_no"], f["role"], f["seq"])),
        "events": _events(ctx, person, in_scope),
        "review": _review(ctx, in_scope),
        "why": explain_links(ctx, keys, parties) if explain else None,
    }


def _values(records: list[dict]) -> list[dict]:
    """Per field, each value shown (masked) with its sources: policy, role, channel and date."""
    out = []
    for f in VALUE_FIELDS:
        seen: dict[str, dict] = {}
        for r in records:
            v = r.get(f)
            if v in (None, ""):
                continue
            entry = seen.setdefault(str(v), {"value": v, "sources": [], "flags": []})
            entry["sources"].append(
                {
                    "policy_no": r["policy_no"],
                    "role": r["role"],
                    "seq": r["seq"],
                    "channel": r["policy"].get("channel", ""),
                    "date": r["date"],
                }  # fmt: skip
            )
            entry["flags"] += [c for c in r["flags"][f] if c not in entry["flags"]]
        missing = [r for r in records if r.get(f) in (None, "")]
        if seen or missing:
            out.append(
                {
                    "field": f,
                    "values": list(seen.values()),
                    "missing": [
                        {"policy_no": r["policy_no"], "role": r["role"], "seq": r["seq"], "flags": r["flags"][f]}
                        for r in missing
                    ],
                    "span": len(seen) + len(missing),
                    "conflict": any(e["flags"] for e in seen.values()) or any(m["flags"] for m in (
                        {"flags": r["flags"][f]} for r in missing)),
                }
            )  # fmt: skip
    return out


def _events(ctx: AccessContext, person: Person, in_scope: set[Key]) -> list[dict]:
    """The person's merges and splits, with only the records and evidence pairs in scope."""
    scoped = set(records_in_scope(ctx).values_list("policy_no", "role", "seq")) if in_scope else set()
    out = []
    for e in LinkEvent.objects.filter(Q(from_person=person) | Q(to_person=person)).select_related(
        "from_person", "to_person", "run"
    )[:50]:
        moved = [tuple(k) for k in e.records if tuple(k) in scoped]
        if not moved:
            continue
        pairs = [
            p
            for p in (e.evidence or {}).get("pairs", [])
            if tuple(p["l"]) in scoped and tuple(p["r"]) in scoped
        ]
        out.append(
            {
                "id": e.pk,
                "kind": e.kind,
                "kind_label": e.get_kind_display(),
                "run": e.run_id,
                "at": e.run.finished_at or e.run.started_at,
                "from": e.from_person.pid,
                "to": e.to_person.pid,
                "records": moved,
                "pairs": pairs,
                "reversed_at": e.reversed_at,
                "reversal_note": e.reversal_note,
            }
        )
    return out


def _review(ctx: AccessContext, in_scope: set[Key]) -> list[ReviewPair]:
    if not in_scope:
        return []
    qs = ReviewPair.objects.filter(status=ReviewPair.Status.OPEN).filter(
        _keys_q(in_scope, "l_") | _keys_q(in_scope, "r_")
    )
    pairs = list(review_scoped(ctx, qs))
    for p in pairs:
        p.shown = levels_shown(p.levels)
    return pairs


def review_scoped(ctx: AccessContext, qs: QuerySet[ReviewPair] | None = None) -> QuerySet[ReviewPair]:
    """Review pairs both of whose records are in the caller's scope."""
    qs = ReviewPair.objects.all() if qs is None else qs
    policies = ctx.policies().values("policy_no")
    return qs.filter(l_policy_no__in=policies, r_policy_no__in=policies)


def review_pair_for(ctx: AccessContext, pk) -> ReviewPair:
    pair = review_scoped(ctx).filter(pk=pk).first() if str(pk).isdigit() and len(str(pk)) < 12 else None
    if pair is None:
        raise NotFound(pk)
    return pair


def person_of(key: Key) -> str:
    rec = (
        PersonRecord.objects.filter(policy_no=key[0], role=key[1], seq=key[2])
        .select_related("person")
        .first()
    )
    return rec.person.pid if rec else ""


# --- why linked ------------------------------------------------------------------------------------

EXPLAIN_FIELDS = ["name", "gender", "birth_date", "id_no", "mobile", "address", "email"]


def explain_links(ctx: AccessContext, keys: list[Key], parties: list[dict]) -> dict | None:
    """Each pair of the person's records in scope scored with the run's model: {run, pairs: [{l, r,
    weight, probability, comparisons: [{name, level, weight}]}]}; None without a finished run."""
    run = LinkRun.objects.filter(status=LinkRun.Status.DONE).exclude(model={}).order_by("-id").first()
    if run is None or len(keys) < 2:
        return None
    ids = [r["id"] for r in parties][:EXPLAIN_RECORDS]
    if len(ids) < 2:
        return None
    from custos.integrity import services as integrity

    # the same parties the page has just read (scoped, logged), in clear on the server only and
    # checked against their integrity tags (Tampered refuses the read like any other)
    found = integrity.read_checked(
        ctx, Party, ids, ["policy_no", "role", "seq", *EXPLAIN_FIELDS], "person_view"
    )
    rows = [found[i] for i in ids if i in found]
    return {"run": run.pk, "pairs": score_pairs(run.model, rows), "capped": len(parties) > EXPLAIN_RECORDS}


def score_pairs(model: dict, rows: list[dict]) -> list[dict]:
    """Score every pair of these party rows (clear values, on the server) with ``model``: levels and
    weights only come back."""
    import logging

    import pyarrow as pa
    from splink import DuckDBAPI, Linker, SettingsCreator

    from custos.crypto.snapshot import offline_connect
    from custos.identity.engine import features

    if len(rows) < 2:
        return []
    cols = {c: [r.get(c) for r in rows] for c in ["policy_no", "role", "seq", *EXPLAIN_FIELDS]}
    table = pa.table(
        {
            **{c: pa.array([None if v in (None, "") else str(v) for v in cols[c]], pa.string())
               for c in ["policy_no", "role", "name", "gender", "id_no", "mobile", "address", "email"]},
            "seq": pa.array([int(v) for v in cols["seq"]], pa.int64()),
            "birth_date": pa.array(cols["birth_date"], pa.date32()),
        }
    )  # fmt: skip
    settings = copy.deepcopy(model)
    settings["blocking_rules_to_generate_predictions"] = []  # every pair of these few records
    settings["retain_intermediate_calculation_columns"] = True
    settings["retain_matching_columns"] = True  # the gamma columns come with them (values stay here)
    settings.pop("additional_columns_to_retain", None)
    labels = {}
    for c in settings["comparisons"]:
        levels = [lvl for lvl in c["comparison_levels"] if not lvl.get("is_null_level")]
        labels[c["output_column_name"]] = {
            len(levels) - 1 - i: lvl.get("label_for_charts", "") for i, lvl in enumerate(levels)
        }
        for lvl in c["comparison_levels"]:  # term frequencies need the whole book: left out here
            lvl.pop("tf_adjustment_column", None)
            lvl.pop("tf_adjustment_weight", None)
    con = offline_connect()
    try:
        con.register("parties_in", table)
        con.execute("CREATE TEMP TABLE parties_src AS SELECT * FROM parties_in")
        features.build_records(con)
        db_api = DuckDBAPI(connection=con)
        linker = Linker(
            db_api.register("records"), SettingsCreator.from_path_or_dict(settings), log_level=logging.ERROR
        )
        out = linker.inference.predict().as_pyarrow_table().to_pylist()
        keys = {
            u: (p, r, s)
            for u, p, r, s in con.execute("SELECT unique_id, policy_no, role, seq FROM records").fetchall()
        }
    finally:
        con.close()
    pairs = []
    for row in out:
        comps = []
        for name in labels:
            g = row.get(f"gamma_{name}")
            mw = row.get(f"mw_{name}")
            if mw is None and row.get(f"bf_{name}") is not None:  # Splink 4 names
                bf = row[f"bf_{name}"]
                mw = math.log2(bf) if bf and bf > 0 else None
            level = "null" if g == -1 else labels[name].get(g, str(g))
            comps.append(
                {
                    "name": name,
                    "level": level,
                    "label": str(COMPARISONS.get(name, name)),
                    "level_label": str(LEVELS.get(level, level)),
                    "weight": None if mw is None else round(float(mw), 2),
                }  # fmt: skip
            )
        pairs.append(
            {
                "l": keys[row["unique_id_l"]],
                "r": keys[row["unique_id_r"]],
                "weight": round(float(row["match_weight"]), 2),
                "probability": float(row["match_probability"]),
                "comparisons": comps,
            }
        )
    pairs.sort(key=lambda p: (-p["weight"], p["l"], p["r"]))
    return pairs


def review_rows(ctx: AccessContext, limit: int = 200) -> list[dict]:
    """The open review pairs in scope, strongest first, each side with its party masked (one read
    entry for the page) and its current person."""
    pairs = list(
        review_scoped(ctx).filter(status=ReviewPair.Status.OPEN).order_by("-match_weight", "id")[:limit]
    )
    keys = {k for p in pairs for k in (p.left, p.right)}
    parties = ctx.read_parties(
        Party.objects.filter(_keys_q(keys)) if keys else Party.objects.none(),
        action="lookup",
        fields=["policy_no", "role", "seq", "name", "gender", "birth_date", "id_no", "mobile"],
        purpose="identity review queue",
        limit=2 * limit,
    )
    masked = {(r["policy_no"], r["role"], r["seq"]): r for r in parties}
    owners = dict(
        ((p, r, s), number)
        for p, r, s, number in PersonRecord.objects.filter(_keys_q(keys)).values_list(
            "policy_no", "role", "seq", "person__number"
        )
    ) if keys else {}  # fmt: skip
    return [
        {
            "pair": p,
            "levels": levels_shown(p.levels),
            "sides": [
                {"key": k, "party": masked.get(k, {}), "person": pid(owners[k]) if k in owners else ""}
                for k in (p.left, p.right)
            ],
        }
        for p in pairs
    ]
