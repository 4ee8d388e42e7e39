"""Reading and checking an access-log file set-wise: Arrow's CSV reader (or DuckDB's Parquet reader),
then the checks, times, row keys and the book's operators in one DuckDB statement — no Python work per
row. Same rules, messages and row keys as `ingest.parse_file` (the per-row reader, kept for zones
whose offset changes: daylight saving)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from custos.watch import ingest, store

WS = "' \t\r\n'"


def fixed_offset(tz: ZoneInfo) -> int | None:
    """The zone's offset in seconds when it has been the same since 1992 (Asia/Shanghai), else None."""
    offs = {tz.utcoffset(dt.datetime(y, m, 1)) for y in range(1992, 2041) for m in (1, 7)}
    return int(next(iter(offs)).total_seconds()) if len(offs) == 1 else None


def _read(path: Path, data: bytes, name: str) -> tuple[str, pa.Table | str]:
    """(kind, Arrow table of text columns | SQL source for DuckDB)."""
    if data[:4] == b"PAR1" or path.suffix.lower() == ".parquet":
        return "parquet", "read_parquet(" + "'" + str(path).replace("'", "''") + "')"
    text = ingest._decode(data, name)
    first = text.split("\n", 1)[0]
    import csv

    header = next(csv.reader([first]), [])
    if not header:
        raise ingest.IngestError([f"{name}: empty file (no header)"])
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as e:
        raise ingest.IngestError([f"{name}: {str(e).splitlines()[0]}"]) from None
    return "csv", table.rename_columns([c.strip().lower() for c in table.column_names])


def parse(
    path: Path, con: duckdb.DuckDBPyConnection, known: ingest.KnownOperators, offset: int, errors: list[str]
):
    """Register the checked rows of one file as DuckDB view ``f_<n>`` and return (Parsed without
    rows, view name, row count), or None with `errors` filled."""
    import hashlib

    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        errors.append(f"{name}: cannot be read ({e.strerror})")
        return None
    digest = hashlib.sha256(data).hexdigest()
    try:
        kind, src = _read(path, data, name)
    except ingest.IngestError as e:
        errors.extend(e.errors)
        return None
    view = f"raw_{digest[:12]}"
    if isinstance(src, pa.Table):
        con.register(view, src)
        cols = src.column_names
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {src}")
        cols = [
            c.strip().lower()
            for c in con.execute(f"SELECT * FROM {view} LIMIT 0").fetch_arrow_table().column_names
        ]
    missing = [c for c in ingest.REQUIRED if c not in cols]
    if missing:
        errors.append(
            f"{name}, row 1, column {missing[0]}: missing column (required: {', '.join(ingest.REQUIRED)})"
        )
        return None
    real = {c.strip().lower(): c for c in (src.column_names if isinstance(src, pa.Table) else cols)}
    if not isinstance(src, pa.Table):
        real = {
            c.strip().lower(): c
            for c in con.execute(f"SELECT * FROM {view} LIMIT 0").fetch_arrow_table().column_names
        }

    def col(c):
        if c not in real:
            return "''"
        return f"trim(coalesce(CAST(\"{real[c]}\" AS VARCHAR), ''), {WS})"

    first_row = 2 if kind == "csv" else 1
    # an offset after the time of day: Z, or a + or - past the date (string functions, not a regexp)
    has_off = (
        "(length(at_s) > 10 AND (suffix(at_s, 'Z') OR suffix(at_s, 'z')"
        " OR contains(substr(at_s, 11), '+') OR contains(substr(at_s, 11), '-')))"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE chk_{view} AS
        SELECT n, at_s, system, staff_no, partner_code, lower(action_s) AS action, policy_no, query, rows_s, terminal,
          CASE WHEN {has_off} THEN make_timestamp(epoch_us(try_cast(at_s AS TIMESTAMPTZ)))
               ELSE try_cast(at_s AS TIMESTAMP) - INTERVAL ({offset}) SECOND END AS at_utc,
          CASE WHEN rows_s = '' THEN (CASE WHEN policy_no = '' THEN 0 ELSE 1 END)
               ELSE try_cast(rows_s AS BIGINT) END AS rows
        FROM (
          SELECT row_number() OVER () + {first_row - 1} AS n, {col("at")} AS at_s, {col("system")} AS system,
                 {col("staff_no")} AS staff_no, {col("partner_code")} AS partner_code, {col("action")} AS action_s,
                 {col("policy_no")} AS policy_no, {col("query")} AS query, {col("rows")} AS rows_s,
                 {col("terminal")} AS terminal
          FROM {view}
        )
        """
    )
    acts = ", ".join(f"'{a}'" for a in ingest.ACTIONS)
    bad = con.execute(
        f"""
        SELECT n, CASE
          WHEN at_utc IS NULL THEN 'at'
          WHEN action NOT IN ({acts}) THEN 'action'
          WHEN staff_no = '' THEN 'staff_no'
          WHEN system = '' THEN 'system'
          WHEN policy_no = '' AND action <> 'search' THEN 'policy_no'
          WHEN rows IS NULL THEN 'rows'
          WHEN rows < 0 THEN 'rows<0'
        END AS what, at_s, action, rows_s
        FROM chk_{view} WHERE what IS NOT NULL ORDER BY n LIMIT {ingest.MAX_ERRORS}
        """
    ).fetchall()
    for n, what, at_s, action, rows_s in bad:
        errors.append(
            {
                "at": f"{name}, row {n}, column at: not an ISO 8601 timestamp: {at_s[:40]!r}",
                "action": f"{name}, row {n}, column action: unknown action {action[:20]!r} ({', '.join(ingest.ACTIONS)})",
                "staff_no": f"{name}, row {n}, column staff_no: empty",
                "system": f"{name}, row {n}, column system: empty",
                "policy_no": f"{name}, row {n}, column policy_no: empty (only a search may match nothing)",
                "rows": f"{name}, row {n}, column rows: not an integer: {rows_s[:20]!r}",
                "rows<0": f"{name}, row {n}, column rows: negative",
            }[what]
        )
    if bad:
        return None
    _register_known(con, known)
    out = f"f_{view}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT
          left(sha256(concat_ws(chr(31), strftime(at_utc, '%Y-%m-%dT%H:%M:%S.%f'), system, staff_no, partner_code,
                 action, policy_no, query, CAST(rows AS VARCHAR), terminal,
                 CAST(row_number() OVER (PARTITION BY at_utc, system, staff_no, partner_code, action, policy_no,
                                                      query, rows, terminal ORDER BY n) AS VARCHAR))), 32) AS row_key,
          at_utc AS "at", at_utc + INTERVAL ({offset}) SECOND AS at_local, system, staff_no, partner_code, action,
          policy_no, query, rows, terminal,
          CASE WHEN partner_code <> '' THEN partner_code IN (SELECT c FROM k_partners)
                                            OR staff_no IN (SELECT c FROM k_partner_users)
               ELSE staff_no IN (SELECT c FROM k_staff) OR staff_no IN (SELECT c FROM k_partner_users) END AS known,
          CAST(at_utc + INTERVAL ({offset}) SECOND AS DATE) AS day
        FROM chk_{view}
        """
    )
    con.execute(f"DROP TABLE chk_{view}")
    n, unknown, lo, hi = con.execute(
        f"SELECT count(*), count(*) FILTER (NOT known), min(day), max(day) FROM {out}"
    ).fetchone()
    return {"name": name, "digest": digest, "kind": kind, "table": out, "rows": n, "unknown": unknown,
            "first_day": lo, "last_day": hi}  # fmt: skip


def _register_known(con, known: ingest.KnownOperators) -> None:
    for view, values in (
        ("k_staff", known.staff),
        ("k_partners", known.partners),
        ("k_partner_users", known.partner_users),
    ):
        try:
            con.execute(f"SELECT 1 FROM {view} LIMIT 0")
            continue
        except duckdb.CatalogException:
            pass
        con.register(f"{view}_a", pa.table({"c": sorted(values)}, schema=pa.schema([("c", pa.string())])))
        con.execute(f"CREATE TEMP TABLE {view} AS SELECT c FROM {view}_a")


def fresh_by_day(con, parsed: dict, part: str) -> tuple[dict[dt.date, pa.Table], int]:
    """The file's rows not yet in the history (nor in files before it in this ingest, table
    ``seen``), as Arrow tables by day; their number."""
    t = parsed["table"]
    if parsed["rows"] == 0:
        return {}, 0
    hist = store.source(con, parsed["first_day"], parsed["last_day"])
    try:
        con.execute("SELECT 1 FROM seen LIMIT 0")
    except duckdb.CatalogException:
        con.execute("CREATE TEMP TABLE seen (row_key VARCHAR)")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE new_{t} AS SELECT * FROM {t}
            WHERE row_key NOT IN (SELECT row_key FROM {hist}) AND row_key NOT IN (SELECT row_key FROM seen)"""
    )
    con.execute(f"INSERT INTO seen SELECT row_key FROM new_{t}")
    out, total = {}, 0
    cols = [f.name for f in store.SCHEMA if f.name != "source"]
    for (day,) in con.execute(f"SELECT DISTINCT day FROM new_{t} ORDER BY day").fetchall():
        tbl = con.execute(
            f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)}, ? AS source FROM new_{t} WHERE day = ?",
            [part, day],
        ).fetch_arrow_table()
        tbl = tbl.set_column(1, "at", tbl.column("at").cast(pa.timestamp("us", tz="UTC")))
        out[day] = tbl.cast(store.SCHEMA)
        total += tbl.num_rows
    return out, total
