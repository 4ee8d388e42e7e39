"""Reconcile one check run's result with the findings in the database, set-wise.

The engine's result (a pyarrow table: check, policy_no, role, seq, field, value, proposed, detail) is
staged into a temporary table — executemany on SQLite, COPY on PostgreSQL — and compared with the open
findings by a handful of UPDATE and INSERT … SELECT statements; nothing goes through the ORM row by row.

For each identity (check, policy_no, role, seq, field):

- open and found again        → kept: last_seen_run, value, proposed, detail and the policy's
                                channel/branch/agent/partner are refreshed;
- open and not found          → closed (close_reason "passed"), but only when its check was enabled in
                                this run; a finding whose party (or, for policy-level checks, policy)
                                is gone from the book is closed ("gone") whatever its check;
- found and not open          → a new open row (opened_run = last_seen_run = this run); when the
                                identity was closed before, the new row points at its latest closed
                                row (`recurs`).

The caller runs `reconcile` inside one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from django.db import connection
from django.utils import timezone

from custos.book.models import Party, Policy
from custos.checks.models import CheckRun, Finding

IDENTITY = ("check", "policy_no", "role", "seq", "field")
COLUMNS = (*IDENTITY, "value", "proposed", "detail")
STAGE = "custos_finding_stage"
META = "custos_check_meta"
POLICY_ROLE = "policy"


@dataclass(frozen=True)
class CheckMeta:
    code: str
    category: str
    severity: str


@dataclass
class Counts:
    found: int = 0
    opened: int = 0
    kept: int = 0
    closed: int = 0


def normalise(result: pa.Table) -> pa.Table:
    """The engine's result with the contract's columns and types, one row per identity
    (the first value wins if the engine repeated an identity)."""
    for col in ("proposed", "detail"):
        if col not in result.column_names:
            result = result.append_column(col, pa.nulls(result.num_rows, pa.string()))
    missing = [c for c in COLUMNS if c not in result.column_names]
    if missing:
        raise ValueError(f"engine result lacks column(s): {', '.join(missing)}")
    t = result.select(list(COLUMNS)).cast(
        pa.schema(
            [
                ("check", pa.string()),
                ("policy_no", pa.string()),
                ("role", pa.string()),
                ("seq", pa.int64()),
                ("field", pa.string()),
                ("value", pa.string()),
                ("proposed", pa.string()),
                ("detail", pa.string()),
            ]
        )
    )
    for col in ("value", "proposed", "detail"):
        t = t.set_column(t.schema.get_field_index(col), col, pc.fill_null(t[col], ""))
    if t.num_rows == 0:
        return t
    deduped = t.group_by(list(IDENTITY), use_threads=False).aggregate(
        [("value", "first"), ("proposed", "first"), ("detail", "first")]
    )
    return deduped.rename_columns(list(COLUMNS)) if deduped.num_rows != t.num_rows else t


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _rows(table: pa.Table) -> Iterable[tuple]:
    """Rows to stage, value and proposed sealed as Finding stores them (custos.crypto)."""
    from custos.crypto.fields import keys

    k = keys()
    cols = [table[c].to_pylist() for c in COLUMNS]
    for c in ("value", "proposed"):
        seal = k.sealer(Finding._meta.get_field(c).ad)
        i = COLUMNS.index(c)
        cols[i] = [seal(v) for v in cols[i]]
    return zip(*cols, strict=True)


def _stage(cursor, result: pa.Table, metas: Iterable[CheckMeta]) -> None:
    """Create and fill the temporary staging tables for this transaction."""
    for t in (STAGE, META):
        cursor.execute(f"DROP TABLE IF EXISTS {t}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGE} (check_code varchar(16) NOT NULL, policy_no varchar(64) NOT NULL,"
        " role varchar(16) NOT NULL, seq integer NOT NULL, field varchar(32) NOT NULL, value text NOT NULL,"
        " proposed text NOT NULL, detail text NOT NULL)"
    )
    cursor.execute(
        f"CREATE TEMPORARY TABLE {META} (check_code varchar(16) PRIMARY KEY, category varchar(12) NOT NULL,"
        " severity varchar(8) NOT NULL)"
    )
    meta_rows = [(m.code, m.category, m.severity) for m in metas]
    if connection.vendor == "postgresql":
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(
            f"COPY {STAGE} (check_code, policy_no, role, seq, field, value, proposed, detail) FROM STDIN"
        ) as copy:
            for row in _rows(result):
                copy.write_row(row)
        with raw.copy(f"COPY {META} (check_code, category, severity) FROM STDIN") as copy:
            for row in meta_rows:
                copy.write_row(row)
    else:
        cursor.executemany(
            f"INSERT INTO {STAGE} (check_code, policy_no, role, seq, field, value, proposed, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            list(_rows(result)),
        )
        cursor.executemany(
            f"INSERT INTO {META} (check_code, category, severity) VALUES (%s, %s, %s)", meta_rows
        )
    cursor.execute(
        f"CREATE UNIQUE INDEX {STAGE}_identity ON {STAGE} (policy_no, role, seq, check_code, field)"
    )
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {STAGE}")


def _drop_stage(cursor) -> None:
    for t in (STAGE, META):
        cursor.execute(f"DROP TABLE IF EXISTS {t}")


def reconcile(run: CheckRun, result: pa.Table, metas: Iterable[CheckMeta], enabled: Iterable[str]) -> Counts:
    """Open, keep and close findings for `run` from the engine's `result`. Call inside a transaction."""
    metas = list(metas)
    known = {m.code for m in metas}
    result = normalise(result)
    unknown = sorted(set(result["check"].to_pylist()) - known)
    if unknown:
        raise ValueError(f"engine returned findings of checks not in the catalogue: {', '.join(unknown)}")
    enabled = sorted(set(enabled))
    f_t, pol_t, par_t = _q(Finding._meta.db_table), _q(Policy._meta.db_table), _q(Party._meta.db_table)
    now = timezone.now()
    counts = Counts(found=result.num_rows)
    same = (
        "s.check_code = f.check_code AND s.policy_no = f.policy_no AND s.role = f.role "
        "AND s.seq = f.seq AND s.field = f.field"
    )
    with connection.cursor() as c:
        _stage(c, result, metas)
        not_found = f"NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE {same})"

        # 1. close what is open and was not found again: first what is gone from the book (whatever
        #    its check), then what passed a check that was enabled in this run.
        c.execute(
            f"UPDATE {f_t} AS f SET status = 'closed', close_reason = 'gone', closed_run_id = %s, closed_at = %s"
            f" WHERE f.status = 'open' AND {not_found} AND ("
            f"   (f.role = %s AND NOT EXISTS (SELECT 1 FROM {pol_t} p"
            "       WHERE p.policy_no = f.policy_no AND p.gone_load_id IS NULL))"
            f"   OR (f.role <> %s AND NOT EXISTS (SELECT 1 FROM {par_t} y"
            "       WHERE y.policy_no = f.policy_no AND y.role = f.role AND y.seq = f.seq AND y.gone_load_id IS NULL)))",
            [run.pk, now, POLICY_ROLE, POLICY_ROLE],
        )
        counts.closed += c.rowcount
        if enabled:
            c.execute(
                f"UPDATE {f_t} AS f SET status = 'closed', close_reason = 'passed', closed_run_id = %s,"
                f" closed_at = %s WHERE f.status = 'open' AND f.check_code IN ({', '.join(['%s'] * len(enabled))})"
                f" AND {not_found}",
                [run.pk, now, *enabled],
            )
            counts.closed += c.rowcount

        # 2. keep what is open and found again; refresh the value and the policy's attributes.
        c.execute(
            f"UPDATE {f_t} AS f SET last_seen_run_id = %s, value = s.value, proposed = s.proposed, detail = s.detail,"
            " channel = COALESCE(p.channel, f.channel), branch_code = COALESCE(p.branch_code, f.branch_code),"
            " agent_no = COALESCE(p.agent_no, f.agent_no), partner_code = COALESCE(p.partner_code, f.partner_code)"
            f" FROM {STAGE} s LEFT JOIN {pol_t} p ON p.policy_no = s.policy_no"
            f" WHERE f.status = 'open' AND {same}",
            [run.pk],
        )
        counts.kept = c.rowcount

        # 3. open what was found and has no open row.
        c.execute(
            f"INSERT INTO {f_t} (check_code, policy_no, role, seq, field, category, severity, status,"
            " close_reason, value, proposed, detail, opened_run_id, last_seen_run_id, opened_at, settings_fingerprint, recurs_id,"
            " channel, branch_code, agent_no, partner_code)"
            " SELECT s.check_code, s.policy_no, s.role, s.seq, s.field, m.category, m.severity, 'open', '',"
            " s.value, s.proposed, s.detail, %s, %s, %s, %s,"
            f" (SELECT MAX(r.id) FROM {f_t} r WHERE r.check_code = s.check_code AND r.policy_no = s.policy_no"
            "   AND r.role = s.role AND r.seq = s.seq AND r.field = s.field AND r.status = 'closed'),"
            " COALESCE(p.channel, ''), COALESCE(p.branch_code, ''), COALESCE(p.agent_no, ''),"
            " COALESCE(p.partner_code, '')"
            f" FROM {STAGE} s JOIN {META} m ON m.check_code = s.check_code"
            f" LEFT JOIN {pol_t} p ON p.policy_no = s.policy_no"
            f" WHERE NOT EXISTS (SELECT 1 FROM {f_t} f WHERE f.status = 'open' AND {same})",
            [run.pk, run.pk, now, run.settings_fingerprint],
        )
        counts.opened = c.rowcount
        _drop_stage(c)
    return counts
