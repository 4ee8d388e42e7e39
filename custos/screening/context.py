"""The context store: what the cross-record checks may need about one application, found by index.

Built from a book snapshot with the engine's own prepared views on DuckDB (so the lookup keys are the
very normalised values the checks compare: ``pt.id_n``, ``mobile_n``, ``addr_n``, ``email_n``, ``pk``;
``stf``'s; the outlet tables' expressions), sealed, keys as HMAC blind indexes. Screened applications
are added as they come (``remember``). ``fetch`` returns, for one application, every row that shares a
key with it — and nothing else — so the cross-record checks see what the batch engine would see for
that party (docs/screening.md explains why that is exactly enough for each check).

Every party row carries its policy's channel, branch and partner: a screening key reads only the rows
of policies its scope covers (``Scope.sql``) and may replace a policy's rows only when its scope covers
the policy as custos holds it (``owner``); the book's own rows are never replaced by a screening.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from custos.checks.engine.snapshot import table_columns
from custos.crypto.fields import keys as crypto_keys
from custos.screening.models import ContextParty, ContextRef, IndexState

PARTY_TABLE = ContextParty._meta.db_table
REF_TABLE = ContextRef._meta.db_table
PARTY_COLUMNS = [c for c, _ in table_columns("parties")]
# rescreen: a book policy's rows replaced by a screening of it (written before screenings stopped
# touching the book's rows; read as the book's until the next build replaces them)
SOURCES = ("book", "screen", "rescreen")
BOOK_SOURCES = ("book", "rescreen")
SCOPE_COLUMNS = ("channel", "branch_code", "partner_code")
# A row of the context table: the party's key, where it came from, its sealed payload, its blind
# indexes and the policy's scope (written by the index build and by a screening call alike).
CONTEXT_COLUMNS = [
    "policy_no",
    "role",
    "seq",
    "source",
    "payload",
    "k_id",
    "k_mobile",
    "k_addr",
    "k_email",
    "k_pk",
    *SCOPE_COLUMNS,
]


@dataclass(frozen=True)
class Scope:
    """What a screening key covers (``Client.partner_codes``/``channels``/``branch_codes``): a policy
    is in scope when its value of every restricted dimension is one of the key's; an empty list
    restricts nothing (the insurer's own core system)."""

    partner_codes: tuple = ()
    channels: tuple = ()
    branch_codes: tuple = ()

    @classmethod
    def of(cls, client) -> Scope:
        return cls(
            tuple(client.partner_codes or ()), tuple(client.channels or ()), tuple(client.branch_codes or ())
        )

    def _dims(self):
        return (
            ("partner_code", self.partner_codes),
            ("channel", self.channels),
            ("branch_code", self.branch_codes),
        )

    def refuses(self, policy: dict) -> str | None:
        """The first dimension of ``policy`` (channel, branch_code, partner_code) outside the scope."""
        for col, allowed in self._dims():
            if allowed and (policy.get(col) or "") not in allowed:
                return col
        return None

    def sql(self, alias: str = "") -> tuple[str, list]:
        """`` AND …`` restricting party rows (table alias ``alias``) to the scope, and its parameters."""
        parts, params = [], []
        for col, allowed in self._dims():
            if allowed:
                parts.append(f"{alias}{col} IN ({', '.join(['%s'] * len(allowed))})")
                params.extend(allowed)
        return "".join(f" AND {p}" for p in parts), params


ANY = Scope()  # every policy (a key without a scope)


# blind-index kind of each lookup key (the kind keys the HMAC, so equal values of different kinds differ)
KIND = {
    "id": "id_no",
    "mobile": "screen_mobile",
    "addr": "screen_addr",
    "email": "screen_email",
    "pk": "screen_pk",
    "name": "screen_name",
    "staff_no": "screen_staff_no",
    "digits": "screen_digits",
    "block": "screen_ad04_block",
}
PARTY_AD = f"{PARTY_TABLE}.payload"
REF_AD = f"{REF_TABLE}.payload"


class Indexer:
    """Blind indexes of one process (cached per kind)."""

    def __init__(self):
        k = crypto_keys()
        self._by_kind = {name: k.blind_indexer(kind) for name, kind in KIND.items()}
        self.seal_party = k.sealer(PARTY_AD, deterministic=False)
        self.seal_ref = k.sealer(REF_AD, deterministic=False)
        self.open_party = k.opener(PARTY_AD)
        self.open_ref = k.opener(REF_AD)

    def __call__(self, name: str, value) -> str:
        return self._by_kind[name](value) if value not in (None, "") else ""


def _iso(v):
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def dumps(row: dict) -> str:
    return json.dumps(
        {k: _iso(v) for k, v in row.items() if v is not None}, ensure_ascii=False, separators=(",", ":")
    )


# --- building from a snapshot -----------------------------------------------------------------------


def build_from_load(load_id: int) -> IndexState:
    from custos.book.models import BookLoad

    load = BookLoad.objects.get(pk=load_id)
    state = IndexState.objects.first()
    if state and state.load_id == load.pk:
        return state
    return build_from_snapshot(Path(load.snapshot_path), load_id=load.pk)


def build_from_snapshot(
    snapshot_dir: Path, *, load_id: int | None = None, progress=None, refs_only: bool = False
) -> IndexState:
    """Replace the book's rows of the context store by the snapshot's (screened rows of policies the
    book does not hold are kept). One transaction: screenings see the old or the new book."""
    import custos.checks.engine  # noqa: F401
    from custos.checks.engine import duck
    from custos.checks.engine.prepare import addr, digits
    from custos.screening.evaluator import ad04_blocking

    started = time.monotonic()
    k1, k2 = ad04_blocking()
    ix = Indexer()
    con = duck.connect()
    try:
        duck.register_refs(con)
        duck.register_snapshot(con, Path(snapshot_dir))
        duck.prepare(con, role_scoped=False)
        cols = ", ".join(f"p.{c}" for c in PARTY_COLUMNS)
        n = len(PARTY_COLUMNS)
        counted = {"parties": 0}

        def party_rows():
            while batch := parties.fetchmany(20_000):
                for r in batch:
                    row = dict(zip(PARTY_COLUMNS, r[:n], strict=True))
                    id_n, mobile_n, addr_n, email_n, pk, channel, branch, partner = r[n:]
                    yield (
                        row["policy_no"],
                        row["role"],
                        int(row["seq"]),
                        "book",
                        ix.seal_party(dumps(row)),
                        ix("id", id_n),
                        ix("mobile", mobile_n),
                        ix("addr", addr_n),
                        ix("email", email_n),
                        ix("pk", pk),
                        channel or "",
                        branch or "",
                        partner or "",
                    )
                counted["parties"] += len(batch)
                if progress:
                    progress(counted["parties"])

        refs = []
        staff_cols = [c for c, _ in table_columns("staff")]
        for r in con.execute(
            f"SELECT {', '.join('s.' + c for c in staff_cols)}, f.id_n, f.mobile_n, f.name_n "
            "FROM staff s JOIN stf f ON f.staff_no = s.staff_no"
        ).fetchall():
            row = dict(zip(staff_cols, r[: len(staff_cols)], strict=True))
            id_n, mobile_n, name_n = r[len(staff_cols) :]
            refs.append(
                (
                    "staff",
                    row["staff_no"],
                    dumps(row),
                    ix("id", id_n),
                    ix("mobile", mobile_n),
                    ix("name", name_n),
                    ix("staff_no", row["staff_no"]),
                )
            )
        for kind, table, code in (
            ("branch", "branches", "branch_code"),
            ("partner", "partners", "partner_code"),
        ):
            tcols = [c for c, _ in table_columns(table)]
            for r in con.execute(
                f"SELECT {', '.join(tcols)}, {k1} AS k1, {k2} AS k2, a, ph FROM (SELECT {', '.join(tcols)}, "
                f"{addr('address')} AS a, {digits('phone')} AS ph FROM {table}) t"
            ).fetchall():
                row = dict(zip(tcols, r[: len(tcols)], strict=True))
                b1, b2, a, ph = r[len(tcols) :]
                block = ix("block", f"{b1}|{b2}") if b1 else ""
                refs.append((kind, row[code], dumps(row), block, ix("digits", ph), ix("addr", a), ""))
        has_blacklist = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'blacklist'"
        ).fetchone()[0]
        if has_blacklist:
            for i, r in enumerate(
                con.execute(
                    "SELECT b.staff_no, b.id_no, b.name, s.staff_no FROM blacklist b "
                    "LEFT JOIN stf s ON b.id_no IS NOT NULL AND upper(trim(b.id_no)) = s.id_n"
                ).fetchall()
            ):
                row = {"staff_no": r[0], "id_no": r[1], "name": r[2]}
                refs.append(
                    ("blacklist", f"{i}", dumps(row), "", "", ix("staff_no", r[3]), ix("staff_no", r[0]))
                )
        refs = [(k, ref, ix.seal_ref(p), *keys) for k, ref, p, *keys in refs]
        with transaction.atomic():
            with connection.cursor() as cur:
                if not refs_only:
                    cur.execute(f"DELETE FROM {PARTY_TABLE} WHERE source IN ('book', 'rescreen')")
                cur.execute(f"DELETE FROM {REF_TABLE}")
                _write(
                    cur,
                    REF_TABLE,
                    ["kind", "ref", "payload", "k1", "k2", "k3", "k4"],
                    refs,
                    conflict="kind, ref",
                )
                if not refs_only:
                    # the parties stream from DuckDB (by the parties cursor, after the other queries)
                    parties = con.execute(
                        f"SELECT {cols}, t.id_n, t.mobile_n, t.addr_n, t.email_n, t.pk, "
                        "pol.channel, pol.branch_code, pol.partner_code FROM parties p "
                        "JOIN pt t ON t.policy_no = p.policy_no AND t.role = p.role AND t.seq = p.seq "
                        "LEFT JOIN policies pol ON pol.policy_no = p.policy_no"
                    )
                    _write(
                        cur,
                        PARTY_TABLE,
                        CONTEXT_COLUMNS,
                        party_rows(),
                        conflict="policy_no, role, seq",
                    )
            previous = IndexState.objects.first()
            IndexState.objects.all().delete()
            state = IndexState.objects.create(
                load_id=load_id,
                snapshot_path=str(snapshot_dir),
                parties=previous.parties if refs_only and previous else counted["parties"],
                refs=len(refs),
                built_at=timezone.now(),
                seconds=round(time.monotonic() - started, 1),
            )
    finally:
        con.close()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {PARTY_TABLE}")
            cur.execute(f"ANALYZE {REF_TABLE}")
    return state


def _write(cur, table: str, cols: list[str], rows: list[tuple], *, conflict: str) -> None:
    names = ", ".join(cols)
    update = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in conflict.split(", "))
    if connection.vendor == "postgresql":
        cur.execute(f"CREATE TEMP TABLE tmp_ctx (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
        cur.execute("ALTER TABLE tmp_ctx DROP COLUMN id")
        with cur.copy(f"COPY tmp_ctx ({names}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        cur.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM tmp_ctx "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {update}"
        )
        cur.execute("DROP TABLE tmp_ctx")
    else:
        cur.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(cols))}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {update}",
            rows,
        )


# --- per application ----------------------------------------------------------------------------------


def _in(values) -> tuple[str, list]:
    vals = sorted({v for v in values if v})
    if not vals:
        return "(NULL)", []
    return "(" + ", ".join(["%s"] * len(vals)) + ")", vals


@dataclass
class Owner:
    """The policy number as custos already holds it."""

    in_book: bool  # the policy is one of the book's (its changes and visits count; its rows are the book's)
    held: set  # (channel, branch_code, partner_code) of the policy in the book and in the store
    existing: set  # (role, seq) of the policy's rows in the store

    def refused_by(self, scope: Scope) -> bool:
        """The policy is held outside ``scope``: a screening under it may neither read nor replace it."""
        return any(scope.refuses(dict(zip(SCOPE_COLUMNS, h, strict=True))) for h in self.held)


def owner(policy_no: str) -> Owner:
    """Whether the book holds the policy, and with which channel/branch/partner the book and the store
    hold it (two indexed look-ups)."""
    from custos.book.models import Policy

    with connection.cursor() as cur:
        cur.execute(
            f"SELECT channel, branch_code, partner_code FROM {Policy._meta.db_table} "
            "WHERE policy_no = %s AND gone_load_id IS NULL",
            [policy_no],
        )
        book = cur.fetchall()
        cur.execute(
            f"SELECT source, role, seq, channel, branch_code, partner_code FROM {PARTY_TABLE} WHERE policy_no = %s",
            [policy_no],
        )
        stored = cur.fetchall()
    held = {tuple(v or "" for v in r) for r in book} | {tuple(v or "" for v in r[3:]) for r in stored}
    in_book = bool(book) or any(r[0] in BOOK_SOURCES for r in stored)
    return Owner(in_book, held, {(r[1], r[2]) for r in stored})


@dataclass
class Context:
    tables: dict[
        str, list[dict]
    ]  # book-format rows per table (parties, staff, branches, partners, blacklist)


def fetch(keys: list[dict], policy: dict, ix: Indexer, min_applicants: int, scope: Scope = ANY) -> Context:
    """Rows of other policies in ``scope``, and staff, outlets and blacklist entries, sharing a key with
    the application (its parties' normalised values ``keys``, from the evaluator), as book-format dicts
    per table — one round trip (two when a shared value reaches ``min_applicants`` and families must be
    linked). Parties of policies outside the scope are never read."""
    policy_no = policy["policy_no"]
    in_scope, p_scope = scope.sql()
    app = [k for k in keys if k["role"] == "applicant"]
    ids = [ix("id", k["id_n"]) for k in keys]
    mobiles = [ix("mobile", k["mobile_n"]) for k in app]
    addrs = [ix("addr", k["addr_n"]) for k in app]
    emails = [ix("email", k["email_n"]) for k in app]
    # staff (PH05 phones, SC02/AD04 ID numbers, SC02 names, SC03 the agent), outlets (PH07, AD04),
    # blacklist (SC03)
    cust = [k for k in keys if k["role"] in ("applicant", "insured")]
    phones = [ix("mobile", k["mobile_n"]) for k in cust] + [ix("mobile", k["phone_n"]) for k in cust]
    names = [ix("name", k["name_n"]) for k in keys if k["role"] == "beneficiary"]
    digits = [ix("digits", k["mobile_digits_k"]) for k in app] + [
        ix("digits", k["phone_digits_k"]) for k in app
    ]
    blocks = [ix("block", f"{k['block1']}|{k['block2']}") for k in app if k["block1"]]
    agent = ix("staff_no", policy.get("agent_no"))
    s_id, p_id = _in(ids)
    s_mo, p_mo = _in(mobiles)
    s_ad, p_ad = _in(addrs)
    s_em, p_em = _in(emails)
    s_ph, p_ph = _in(phones)
    s_nm, p_nm = _in(names)
    s_dg, p_dg = _in(digits)
    s_bl, p_bl = _in(blocks)
    parties: dict[tuple, str] = {}
    refs: list[tuple[str, str]] = []
    groups: dict[tuple[str, str], set] = {}
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT source, policy_no, role, seq, payload, k_pk, k_mobile, k_addr, k_email FROM {PARTY_TABLE} "
            f"WHERE policy_no <> %s AND (k_id IN {s_id} OR (role = 'applicant' AND "
            f"(k_mobile IN {s_mo} OR k_addr IN {s_ad} OR k_email IN {s_em}))){in_scope} "
            f"UNION ALL SELECT kind, '', '', 0, payload, '', '', '', '' FROM {REF_TABLE} WHERE "
            f"(kind = 'staff' AND (k1 IN {s_id} OR k2 IN {s_ph} OR k3 IN {s_nm} OR k4 = %s)) "
            f"OR (kind IN ('branch', 'partner') AND (k1 IN {s_bl} OR k2 IN {s_dg} OR k3 IN {s_ad})) "
            f"OR (kind = 'blacklist' AND (k3 = %s OR k4 = %s))",
            [
                policy_no,
                *p_id,
                *p_mo,
                *p_ad,
                *p_em,
                *p_scope,
                *p_id,
                *p_ph,
                *p_nm,
                agent,
                *p_bl,
                *p_dg,
                *p_ad,
                agent,
                agent,
            ],
        )
        for source, pno, role, seq, payload, k_pk, k_mo, k_ad, k_em in cur.fetchall():
            if source not in SOURCES:
                refs.append((source, payload))
                continue
            parties[(pno, role, seq)] = payload
            if role == "applicant" and k_pk:
                for name, k, mine in (
                    ("mobile", k_mo, mobiles),
                    ("addr", k_ad, addrs),
                    ("email", k_em, emails),
                ):
                    if k and k in mine:
                        groups.setdefault((name, k), set()).add(k_pk)
        # Families (PH06/AD05/EM02) link people who are applicant and insured on one policy anywhere in
        # the book: when a shared value reaches the threshold, fetch every policy of its people.
        own = {ix("pk", k["pk"]) for k in app if k["pk"]}
        hop = set()
        for members in groups.values():
            if len(members | own) >= min_applicants:
                hop |= members | own
        if hop:
            s_pk, p_pk = _in(hop)
            cur.execute(
                f"SELECT policy_no, role, seq, payload FROM {PARTY_TABLE} WHERE role IN ('applicant', 'insured') "
                f"AND policy_no <> %s{in_scope} AND policy_no IN (SELECT policy_no FROM {PARTY_TABLE} "
                f"WHERE k_pk IN {s_pk} AND role IN ('applicant', 'insured'){in_scope})",
                [policy_no, *p_scope, *p_pk, *p_scope],
            )
            for pno, role, seq, payload in cur.fetchall():
                parties[(pno, role, seq)] = payload
    tables: dict[str, list[dict]] = {"parties": [json.loads(ix.open_party(p)) for p in parties.values()]}
    table = {"staff": "staff", "branch": "branches", "partner": "partners", "blacklist": "blacklist"}
    for kind, payload in refs:
        tables.setdefault(table[kind], []).append(json.loads(ix.open_ref(payload)))
    return Context(tables)


def remember(
    policy: dict,
    parties: list[dict],
    keys: list[dict],
    ix: Indexer,
    existing: set = frozenset(),
    scope: Scope = ANY,
) -> None:
    """Add (or replace) a screened application's parties in the store, with its policy's channel,
    branch and partner; they feed later screenings in scopes covering them. Rows of the policy the
    application no longer has (``existing`` minus the new ones) are deleted. The caller has made sure
    the policy is not the book's and is held, if at all, inside the key's scope (``owner``); the
    statements below touch only rows of source "screen" inside ``scope`` all the same, so neither a book
    row nor another scope's row is replaced here, even by a concurrent screening."""
    if not parties:
        return
    by = {(k["policy_no"], k["role"], int(k["seq"])): k for k in keys}
    policy_no = parties[0]["policy_no"]
    held_as = [policy.get(c) or "" for c in SCOPE_COLUMNS]
    rows = []
    for p in parties:
        k = by.get((p["policy_no"], p["role"], int(p["seq"])), {})
        rows.append(
            (
                p["policy_no"],
                p["role"],
                int(p["seq"]),
                "screen",
                ix.seal_party(dumps(p)),
                ix("id", k.get("id_n")),
                ix("mobile", k.get("mobile_n")),
                ix("addr", k.get("addr_n")),
                ix("email", k.get("email_n")),
                ix("pk", k.get("pk")),
                *held_as,
            )
        )
    cols = CONTEXT_COLUMNS
    gone = set(existing) - {(r[1], r[2]) for r in rows}
    in_scope, p_scope = scope.sql(f"{PARTY_TABLE}.")
    with connection.cursor() as cur:
        for role, seq in gone:
            cur.execute(
                f"DELETE FROM {PARTY_TABLE} WHERE policy_no = %s AND role = %s AND seq = %s "
                f"AND source = 'screen'{in_scope}",
                [policy_no, role, seq, *p_scope],
            )
        values = ", ".join(["(" + ", ".join(["%s"] * len(cols)) + ")"] * len(rows))
        update = ", ".join(f"{c} = excluded.{c}" for c in cols[4:])
        cur.execute(
            f"INSERT INTO {PARTY_TABLE} ({', '.join(cols)}) VALUES {values} "
            f"ON CONFLICT (policy_no, role, seq) DO UPDATE SET {update} "
            f"WHERE {PARTY_TABLE}.source = 'screen'{in_scope}",
            [*(x for r in rows for x in r), *p_scope],
        )
