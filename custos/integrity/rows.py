"""Integrity tags in the database: computing and writing them for rows custos writes, checking them
for rows it reads. The set-wise loader (custos.book.loader.write) tags the rows it inserts itself
and calls `retag_marked`/`tag_history` for the rows its merge changed; every ORM write of a tagged
model goes through `Tagged.save` or `TaggedQuerySet` (update, bulk_create) and re-tags the rows it
wrote, after checking that they were intact (an ORM write never blesses a row changed behind
custos's back). Raw SQL writes bypass all of this: that is what `custos integrity verify` finds.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, models, transaction

from . import tags as T

CHUNK = 500
TEMP_FROM = 5000  # rows above which tags are written through a temporary table

REASONS = {
    "untagged": "no integrity tag: written behind custos's back",
    "altered": "does not match its integrity tag: changed behind custos's back",
    "party": "does not match its integrity tag: the row or its history (book_partyhistory) was changed",
}


@dataclass(frozen=True)
class Failure:
    table: str
    id: int
    key: str  # the natural key, "/"-joined
    reason: str  # untagged | altered | party

    def line(self) -> str:
        return f"{self.table} {self.key} (id {self.id}): {REASONS[self.reason]}"

    def as_dict(self) -> dict:
        return {"table": self.table, "id": self.id, "key": self.key, "reason": self.reason}


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


def spec_of(model) -> T.Spec:
    """The spec of a tagged model (or a spec itself)."""
    return model if isinstance(model, T.Spec) else T.SPECS[model._meta.db_table]


def key_of(spec: T.Spec, row) -> str:
    """The natural key of a selected row (id, tag, id text, components…)."""
    return "/".join(row[3 + spec.names.index(k)] for k in spec.key)


def failure(spec: T.Spec, row) -> Failure:
    reason = "untagged" if not row[1] else "party" if spec.history else "altered"
    return Failure(spec.db_table, row[0], key_of(spec, row), reason)


def select_sql(spec: T.Spec, where: str, extra: list[str] = ()) -> str:
    cols = T.select_exprs(spec, connection.vendor, qn, "t") + [f"t.{qn(c)}" for c in extra]
    return f"SELECT {', '.join(cols)} FROM {qn(spec.db_table)} t WHERE {where}"


def _in(ids) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _chunks(ids, n=CHUNK):
    ids = list(ids)
    for i in range(0, len(ids), n):
        yield ids[i : i + n]


# --- party history digests ------------------------------------------------------------------------


def history_digests(cur, party_keys: set[tuple[str, str, str]]) -> tuple[dict, list[Failure]]:
    """{(policy_no, role, seq): XOR of the stored tags of its history rows} for the given parties,
    and the history rows among them whose own tag fails."""
    spec, out, bad = T.HISTORY, {}, []
    if not party_keys:
        return out, bad
    tag_of = T.tagger(spec.db_table)
    policies = sorted({k[0] for k in party_keys})
    for chunk in _chunks(policies):
        cur.execute(select_sql(spec, f"t.policy_no IN ({', '.join(['%s'] * len(chunk))})"), chunk)
        for row in cur.fetchall():
            k = (row[3], row[4], row[5])
            if k not in party_keys:
                continue
            out[k] = T.xor(out.get(k, T.ZERO), row[1])
            if tag_of(row[2:]) != row[1]:
                bad.append(failure(spec, row))
    return out, bad


def _comps(spec: T.Spec, row, digests: dict | None) -> tuple:
    comps = row[2 : 3 + len(spec.columns)]
    if spec.history:
        comps = (*comps, digests.get((row[3], row[4], row[5]), T.ZERO))
    return comps


# --- checking -------------------------------------------------------------------------------------


def check(model, ids, extra: list[str] = ()) -> tuple[dict, list[Failure]]:
    """Check the rows `ids` of a tagged model: ({id: selected row}, failures). A party's history rows
    are checked with it. `extra` columns are selected raw after the components (for reads)."""
    spec = spec_of(model)
    tag_of = T.tagger(spec.db_table)
    found, bad = {}, []
    with connection.cursor() as cur:
        for chunk in _chunks(ids):
            cur.execute(select_sql(spec, f"t.id IN ({_in(chunk)})", list(extra)))
            rows = cur.fetchall()
            digests = {}
            if spec.history:
                digests, hist_bad = history_digests(cur, {(r[3], r[4], r[5]) for r in rows})
                bad += hist_bad
            for row in rows:
                found[row[0]] = row
                if not row[1] or tag_of(_comps(spec, row, digests)) != row[1]:
                    bad.append(failure(spec, row))
    return found, bad


def require_intact(model, ids) -> None:
    from .errors import Tampered

    _found, bad = check(model, ids)
    if bad:
        raise Tampered(bad)


def fetch_verified(model, ids, fields: list[str]) -> tuple[dict[int, dict], list[Failure]]:
    """The rows `ids` ({id: {field: value as the ORM gives it}}) read in the same statement that
    checks their tags, and the failures. A row is returned only when the read checked it."""
    concrete = [model._meta.get_field(f) for f in fields]
    found, bad = check(model, ids, [f.column for f in concrete])
    spec = spec_of(model)
    at = 3 + len(spec.columns)
    out = {}
    for pk, row in found.items():
        values = {}
        for f, raw in zip(concrete, row[at:], strict=True):
            if hasattr(f, "from_db_value"):
                values[f.name] = f.from_db_value(raw, None, connection)
            elif raw is not None:
                values[f.name] = f.to_python(raw)
            else:
                values[f.name] = None
        out[pk] = values
    return out, bad


# --- tagging --------------------------------------------------------------------------------------


def write_tags(cur, spec: T.Spec, pairs: list[tuple[str, int]]) -> None:
    """Store (tag, id) pairs: executemany, or a temporary table and one UPDATE … FROM when many."""
    t = qn(spec.db_table)
    if len(pairs) < TEMP_FROM:
        cur.executemany(f"UPDATE {t} SET integrity_tag = %s WHERE id = %s", pairs)
        return
    cur.execute("DROP TABLE IF EXISTS custos_retag")
    cur.execute("CREATE TEMPORARY TABLE custos_retag (tag VARCHAR(32), id BIGINT PRIMARY KEY)")
    if connection.vendor == "postgresql":
        with (
            connection.connection.cursor() as pcur,
            pcur.copy("COPY custos_retag (tag, id) FROM STDIN") as cp,
        ):
            for p in pairs:
                cp.write_row(p)
    else:
        cur.executemany("INSERT INTO custos_retag (tag, id) VALUES (%s, %s)", pairs)
    cur.execute(f"UPDATE {t} SET integrity_tag = r.tag FROM custos_retag r WHERE {t}.id = r.id")
    cur.execute("DROP TABLE custos_retag")


def _retag_where(cur, spec: T.Spec, where: str, params=()) -> int:
    """Re-tag every row matching `where` (t.… columns) with its current values."""
    tag_of = T.tagger(spec.db_table)
    cur.execute(select_sql(spec, where), list(params))
    rows = cur.fetchall()
    digests = {}
    if spec.history:
        digests, _bad = history_digests(cur, {(r[3], r[4], r[5]) for r in rows})
    pairs = [(tag_of(_comps(spec, r, digests)), r[0]) for r in rows]
    write_tags(cur, spec, pairs)
    return len(pairs)


def retag(model, ids) -> int:
    """Tag the rows `ids` of a tagged model with their current values (history rows: their
    parties too). Run it inside the transaction that wrote them."""
    spec = spec_of(model)
    n = 0
    with transaction.atomic(), connection.cursor() as cur:
        for chunk in _chunks(ids):
            n += _retag_where(cur, spec, f"t.id IN ({_in(chunk)})")
            if spec is T.HISTORY:
                cur.execute(
                    f"SELECT p.id FROM {qn(T.PARTY.db_table)} p JOIN {qn(spec.db_table)} h ON "
                    f"h.policy_no = p.policy_no AND h.role = p.role AND h.seq = p.seq WHERE h.id IN ({_in(chunk)})"
                )
                parties = sorted({r[0] for r in cur.fetchall()})
                for pchunk in _chunks(parties):
                    _retag_where(cur, T.PARTY, f"t.id IN ({_in(pchunk)})")
    return n


def failing_ids(model) -> set[int]:
    """The ids of the rows of a tagged model that fail their tag now (a full check of its table)."""
    from .services import verify

    spec = spec_of(model)
    res = verify(only=(T.HISTORY, spec) if spec.history else (spec,), keep=None)
    return {f.id for f in res.failures if f.table == spec.db_table}


def is_tagged(model) -> bool:
    return model._meta.db_table in T.SPECS


def tagged_models() -> list:
    from custos.book.models import Partner, Party, PartyHistory, Staff

    return [PartyHistory, Party, Staff, Partner]


def failing_by_model() -> dict:
    return {m: failing_ids(m) for m in tagged_models()}


def retag_all_but(failing: dict) -> None:
    """Every tagged table re-tagged, but the rows in `failing` (history first: parties cover it)."""
    for model, bad in failing.items():
        retag_all(model, skip=bad)


def retag_all(model, batch: int = 20_000, skip: set[int] = frozenset()) -> int:
    """Re-tag every row of a tagged model but the ids `skip` (those that failed before, so that a
    re-tagging never blesses a row changed behind custos's back): after blind-index key
    replacement, and in the migration that introduced the tags. By id in batches."""
    spec = spec_of(model)
    n, last = 0, 0
    with transaction.atomic(), connection.cursor() as cur:
        while True:
            cur.execute(f"SELECT id FROM {qn(spec.db_table)} WHERE id > %s ORDER BY id LIMIT {batch}", [last])
            ids = [r[0] for r in cur.fetchall()]
            if not ids:
                return n
            where = "t.id >= %s AND t.id <= %s"
            if skip := [i for i in ids if i in skip]:
                where += f" AND t.id NOT IN ({_in(skip)})"
            n += _retag_where(cur, spec, where, [ids[0], ids[-1]])
            last = ids[-1]


def tag_history(cur, load_id: int) -> int:
    """The loader: tag the history rows a load inserted (before `retag_marked` of the parties)."""
    return _retag_where(cur, T.HISTORY, "t.load_id = %s", [load_id])


def retag_marked(cur, db_table: str, marker: str) -> int:
    """The loader: tag the rows its merge inserted or changed (their tag set to `marker`)."""
    return _retag_where(cur, T.SPECS[db_table], "t.integrity_tag = %s", [marker])


# --- the ORM --------------------------------------------------------------------------------------


class TaggedQuerySet(models.QuerySet):
    """update() and bulk_create() keep the integrity tags (a row changed behind custos's back is
    refused: Tampered)."""

    def update(self, **kwargs):
        if set(kwargs) == {"integrity_tag"}:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            ids = list(self.values_list("pk", flat=True))
            require_intact(self.model, ids)
            n = super().update(**kwargs)
            retag(self.model, ids)
        return n

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            retag(self.model, [o.pk for o in created if o.pk is not None])
        return created

    bulk_create.alters_data = True


class Tagged(models.Model):
    """A customer row carrying a keyed integrity tag (custos.integrity.tags)."""

    integrity_tag = models.CharField(max_length=32, blank=True, default="", db_default="", editable=False)

    objects = TaggedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        with transaction.atomic():
            if not self._state.adding and self.pk is not None:
                require_intact(type(self), [self.pk])
            super().save(*args, **kwargs)
            retag(type(self), [self.pk])

    save.alters_data = True
