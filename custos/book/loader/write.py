"""Pass 2: write a validated book in one transaction, set-wise, through staging tables.

Per table: bulk-insert the spooled rows into a temporary staging table (executemany on SQLite,
COPY on PostgreSQL), then with plain SQL that both databases understand:

1. find the rows whose values changed (staging joined with the book table on the natural key);
   for parties, insert one PartyHistory row per changed value field;
2. update every matched row (values of the columns the file had, original, extra, last_load,
   gone_load cleared);
3. insert the new rows;
4. in a full load, mark rows the book no longer carries as gone (gone_load = this load).
"""

from collections.abc import Callable

from django.db import connection, transaction

from custos.book.models import MODELS, Branch, PartyHistory
from custos.crypto.fields import compare_sql
from custos.domain.bookformat import LOAD_ORDER, PARTY_VALUE_FIELDS, TABLES
from custos.integrity import loading as integrity

from .seal import crypto_columns, row_sealer
from .validate import Spool, Validated

REBUILD_INDEXES_FROM = 50_000  # rows of a first load above which plain indexes are rebuilt after it


def qn(name: str) -> str:
    return connection.ops.quote_name(name)


def write(validated: Validated, load_id: int, mode: str, progress: Callable[[float, str], None]) -> dict:
    counts: dict[str, dict[str, int]] = {}
    total = sum(s.rows for s in validated.spools.values()) or 1
    done = 0
    with transaction.atomic():
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                # one load at a time; a second one waits here
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('custos.book.load'))")
            else:
                # SQLite's default page cache (2 MB) thrashes on millions of index entries
                cur.execute("PRAGMA cache_size = -262144")
                cur.execute("PRAGMA temp.cache_size = -131072")
            for table in LOAD_ORDER:
                spool = validated.spools.get(table)
                if spool is None:
                    continue

                def sub(frac: float, note: str, _done=done, _n=spool.rows) -> None:
                    progress((_done + frac * _n) / total, note)

                counts[table] = _write_table(cur, spool, load_id, mode, sub)
                done += spool.rows
            if "branches" in validated.spools:
                _branch_paths(cur)
            if connection.vendor == "postgresql":
                # Fresh planner statistics for what was just written: without them PostgreSQL planned
                # the customer look-ups of a newly loaded 1 M-policy book as sequential scans until
                # autovacuum came round (2 requests/s instead of 305, 2026-11-26). About a second.
                for table in counts:
                    cur.execute(f"ANALYZE {qn(MODELS[table]._meta.db_table)}")
    return counts


def _write_table(cur, spool: Spool, load_id: int, mode: str, progress) -> dict[str, int]:
    table = TABLES[spool.table]
    model = MODELS[spool.table]
    target = qn(model._meta.db_table)
    stage = qn(f"custos_stage_{spool.table}")
    changed = qn(f"custos_changed_{spool.table}")
    cols = list(table.column_names)
    sealed, bidx = crypto_columns(model)
    all_cols = [*cols, "original", "extra", *(f.column for f in bidx)]
    # the validator seals while it spools (in its two processes); otherwise seal here
    seal = None if spool.sealed else row_sealer(model, [*cols, "original", "extra"])
    col_list = ", ".join(qn(c) for c in all_cols)
    cur.execute(f"SELECT 1 FROM {target} LIMIT 1")
    if cur.fetchone() is None:
        # The first load of this table (nothing to compare, update or mark gone): the rows go
        # straight into the book table, without a staging table and a merge.
        extra_cols, extra_vals = ["first_load_id", "last_load_id", "gone_load_id"], (load_id, load_id, None)
        if model is Branch:
            extra_cols, extra_vals = [*extra_cols, "path"], (*extra_vals, "")
        dropped = (
            _drop_secondary_indexes(cur, model._meta.db_table) if spool.rows >= REBUILD_INDEXES_FROM else []
        )
        tagged = integrity.FirstLoad(cur, model, all_cols) if integrity.spec_for(model) else None
        if tagged:  # customer rows: numbered here and tagged as they are written (custos.integrity)
            extra_cols, seal = [*tagged.COLUMNS, *extra_cols], tagged.wrap(seal)
        _fill_stage(cur, spool, target, [*all_cols, *extra_cols], progress, suffix=extra_vals, seal=seal)
        if tagged:
            tagged.finish(cur)
        if dropped:
            progress(0.8, f"writing {spool.table}: indexing")
            for sql in dropped:
                cur.execute(sql)
        progress(1.0, f"wrote {spool.table}")
        return {"new": spool.rows, "updated": 0, "unchanged": 0, "gone": 0}
    cur.execute(f"DROP TABLE IF EXISTS {stage}")
    cur.execute(f"DROP TABLE IF EXISTS {changed}")
    cur.execute(f"CREATE TEMPORARY TABLE {stage} AS SELECT {col_list} FROM {target} WHERE 1 = 0")
    _fill_stage(cur, spool, stage, all_cols, progress, seal=seal)
    if connection.vendor == "postgresql":
        cur.execute(f"ANALYZE {stage}")
    progress(0.7, f"writing {spool.table}: merging")
    key_join = " AND ".join(f"t.{qn(k)} = s.{qn(k)}" for k in table.key)
    present = [c for c in cols if c in spool.present and c not in table.key]
    distinct = " OR ".join(_distinct("t", "s", c, sealed) for c in present) or "1 = 0"
    cur.execute(
        f"CREATE TEMPORARY TABLE {changed} AS SELECT t.id AS tid, "
        + ", ".join(f"s.{qn(c)} AS {qn(c)}" for c in present or [table.key[0]])
        + f" FROM {stage} s JOIN {target} t ON {key_join} WHERE {distinct}"
    )
    cur.execute(f"SELECT COUNT(*) FROM {changed}")
    n_changed = cur.fetchone()[0]
    if spool.table == "parties" and n_changed:
        hist = qn(PartyHistory._meta.db_table)
        for f in PARTY_VALUE_FIELDS:
            if f not in present:
                continue
            cur.execute(
                f"INSERT INTO {hist} (policy_no, role, seq, field, old_value, new_value, load_id) "
                f"SELECT t.policy_no, t.role, t.seq, %s, "
                f"COALESCE(CAST(t.{qn(f)} AS TEXT), ''), COALESCE(CAST(c.{qn(f)} AS TEXT), ''), %s "
                f"FROM {changed} c JOIN {target} t ON t.id = c.tid "
                f"WHERE {_distinct('t', 'c', f, sealed)}",
                [f, load_id],
            )
    marker = integrity.new_marker() if integrity.spec_for(model) else None
    retag = []  # customer rows whose values change get a marker, then their new tag (custos.integrity)
    if marker:
        covered = " OR ".join(_distinct(target, "s", c, sealed) for c in [*present, "original", "extra"])
        retag = [f"integrity_tag = CASE WHEN {covered} THEN '{marker}' ELSE integrity_tag END"]
    sets = ", ".join(
        [
            f"{qn(c)} = s.{qn(c)}"
            for c in [*present, "original", "extra", *(b.column for b in bidx if b.source in present)]
        ]
        + [f"last_load_id = {int(load_id)}", "gone_load_id = NULL", *retag]
    )
    target_key = " AND ".join(f"{target}.{qn(k)} = s.{qn(k)}" for k in table.key)
    cur.execute(f"UPDATE {target} SET {sets} FROM {stage} s WHERE {target_key}")
    matched = cur.rowcount
    extra_cols, extra_vals = "", ""
    if model is Branch:
        extra_cols, extra_vals = ", path", ", ''"
    if marker:
        extra_cols, extra_vals = ", integrity_tag", f", '{marker}'"
    cur.execute(
        f"INSERT INTO {target} ({col_list}, first_load_id, last_load_id, gone_load_id{extra_cols}) "
        f"SELECT {', '.join('s.' + qn(c) for c in all_cols)}, {int(load_id)}, {int(load_id)}, NULL{extra_vals} "
        f"FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {key_join})"
    )
    new = cur.rowcount
    gone = 0
    if mode == "full":
        cur.execute(
            f"UPDATE {target} SET gone_load_id = %s WHERE gone_load_id IS NULL AND last_load_id <> %s",
            [load_id, load_id],
        )
        gone = cur.rowcount
    if marker:
        integrity.finish_merge(cur, model, load_id, marker)
    cur.execute(f"DROP TABLE {changed}")
    cur.execute(f"DROP TABLE {stage}")
    progress(1.0, f"wrote {spool.table}")
    return {"new": new, "updated": n_changed, "unchanged": matched - n_changed, "gone": gone}


def _distinct(a: str, b: str, col: str, sealed) -> str:
    """Has the value changed? Sealed columns compare their synthetic nonce: equal plaintexts have
    equal nonces under every data key (custos.crypto.fields)."""
    x, y = f"{a}.{qn(col)}", f"{b}.{qn(col)}"
    if col in sealed:
        return f"{compare_sql(x)} IS DISTINCT FROM {compare_sql(y)}"
    return f"{x} IS DISTINCT FROM {y}"


def _drop_secondary_indexes(cur, db_table: str) -> list[str]:
    """Drop the plain (non-unique, not constraint) indexes of a table; returns the statements that
    create them again. Building an index once after a bulk insert is much cheaper than keeping it
    up to date row by row (random-order inserts into e.g. the channel and agent indexes)."""
    if connection.vendor == "postgresql":
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
            "JOIN pg_index x ON x.indexrelid = c.oid "
            "WHERE i.tablename = %s AND i.schemaname = current_schema() AND NOT x.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)",
            [db_table],
        )
    else:
        cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL "
            "AND sql NOT LIKE 'CREATE UNIQUE%%'",
            [db_table],
        )
    found = cur.fetchall()
    for name, _sql in found:
        cur.execute(f"DROP INDEX {qn(name)}")
    return [sql for _name, sql in found]


def _fill_stage(
    cur, spool: Spool, stage: str, all_cols: list[str], progress, suffix: tuple = (), seal=None
) -> None:
    """Bulk-insert the spooled rows (personal values sealed by `seal`, each row followed by the
    `suffix` values) into `stage`."""
    done = 0
    n = max(1, spool.rows)
    raw = connection.connection
    col_list = ", ".join(qn(c) for c in all_cols)
    if connection.vendor == "postgresql":
        with raw.cursor() as pcur, pcur.copy(f"COPY {stage} ({col_list}) FROM STDIN") as cp:
            write_row = cp.write_row
            for batch in spool.batches():
                if seal is not None:
                    batch = seal(batch)
                if suffix:
                    for row in batch:
                        write_row((*row, *suffix))
                else:
                    for row in batch:
                        write_row(row)
                done += len(batch)
                progress(0.6 * done / n, f"writing {spool.table}: {done:,} rows")
        return
    marks = ", ".join("?" * len(all_cols))
    sql = f"INSERT INTO {stage} ({col_list}) VALUES ({marks})"
    for batch in spool.batches():
        if seal is not None:
            batch = seal(batch)
        if suffix:
            batch = [(*row, *suffix) for row in batch]
        raw.executemany(sql, batch)
        done += len(batch)
        progress(0.6 * done / n, f"writing {spool.table}: {done:,} rows")


def _branch_paths(cur) -> None:
    """Materialised path "/HO/GD/GZ/" of every branch, for scope prefix filters."""
    t = qn(Branch._meta.db_table)
    cur.execute(f"SELECT id, branch_code, parent_code, path FROM {t}")
    rows = cur.fetchall()
    parent = {code: p for _id, code, p, _path in rows}
    updates = []
    for id_, code, _p, old in rows:
        chain, seen, c = [], set(), code
        while c and c not in seen:
            seen.add(c)
            chain.append(c)
            c = parent.get(c)
        path = "/" + "/".join(reversed(chain)) + "/"
        if path != old:
            updates.append((path, id_))
    if updates:
        cur.executemany(f"UPDATE {t} SET path = %s WHERE id = %s", updates)
