"""Reading, checking and writing access-log files set-wise, in DuckDB: no Python work per row.

Each file is read by DuckDB (``read_csv`` with every column as text, or ``read_parquet``) and passed
over twice: (1) one aggregate query checks every row (times, actions, counts, empty fields) and counts
rows per day and rows by operators the book does not know; when a row is bad, a second query over
the file in order names the first bad rows (file, row, column); (2) a partitioned ``COPY`` writes the
rows as one encrypted Parquet file per day into the staging directory (`store.Staged`). Times: a
fixed offset when the configured zone has had one since 1992 (Asia/Shanghai), else DuckDB's ICU
time-zone functions (daylight saving).

Idempotency at the row level (docs/watch.md): on a day the history (or an earlier file of the same
ingest) already holds, the file's rows are compared as a multiset with the rows stored there — a
read that arrives again in an overlapping export is dropped, two identical reads in one file stay
two (a file with three copies of a read where the history holds two adds one).

A CSV that is not UTF-8 is transcoded from GB18030 into a temporary UTF-8 copy first (streamed).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from custos.watch import store

ACTIONS = ("view", "search", "print", "export")
REQUIRED = ("at", "system", "staff_no", "action", "policy_no", "rows")
OPTIONAL = ("partner_code", "query", "terminal")
MAX_ERRORS = 50
VALUE_COLS = ("at", "system", "staff_no", "partner_code", "action", "policy_no", "query", "rows", "terminal")
CHUNK = 16 << 20
TRIMMED = {"at": "at_s", "rows": "rows_s"}  # checked_sql's names of the trimmed values


class IngestError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(errors[0] + more)


def fixed_offset(tz: ZoneInfo) -> int | None:
    """The zone's offset in seconds when it has been the same since 1992 (Asia/Shanghai), else None."""
    offs = {tz.utcoffset(dt.datetime(y, m, 1)) for y in range(1992, 2041) for m in (1, 7)}
    return int(next(iter(offs)).total_seconds()) if len(offs) == 1 else None


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class Known:
    """The book's operators: staff numbers, partner outlets, partner users (`known` of a read)."""

    staff: set[str] = field(default_factory=set)
    partners: set[str] = field(default_factory=set)
    partner_users: set[str] = field(default_factory=set)

    @classmethod
    def from_book(cls) -> Known:
        from custos.access.models import Profile
        from custos.book.models import Partner, Staff

        return cls(
            set(Staff.objects.values_list("staff_no", flat=True)),
            set(Partner.objects.values_list("partner_code", flat=True)),
            set(
                Profile.objects.exclude(partner_code="")
                .exclude(staff_no="")
                .values_list("staff_no", flat=True)
            ),
        )

    def knows(self, staff_no: str, partner_code: str) -> bool:
        if partner_code:
            return partner_code in self.partners or staff_no in self.partner_users
        return staff_no in self.staff or staff_no in self.partner_users

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        for view, values in (
            ("k_staff", self.staff),
            ("k_partners", self.partners),
            ("k_partner_users", self.partner_users),
        ):
            con.register(f"{view}_a", pa.table({"c": sorted(values)}, schema=pa.schema([("c", pa.string())])))
            con.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT c FROM {view}_a")
            con.unregister(f"{view}_a")


KNOWN_SQL = (
    "CASE WHEN partner_code <> '' THEN partner_code IN (SELECT c FROM k_partners)"
    " OR staff_no IN (SELECT c FROM k_partner_users)"
    " ELSE staff_no IN (SELECT c FROM k_staff) OR staff_no IN (SELECT c FROM k_partner_users) END"
)


@dataclass
class Source:
    """One access-log file as DuckDB reads it, and what the checking pass found."""

    path: Path
    name: str
    kind: str  # csv | parquet
    digest: str = ""
    raw: str = ""  # SQL table expression of the file's columns as read
    cols: dict[str, str] = field(default_factory=dict)  # format column -> the file's column
    rows: int = 0
    unknown: int = 0
    per_day: dict[dt.date, int] = field(default_factory=dict)
    trim: set[str] | None = None  # columns with values in spaces (None: not checked yet)

    @property
    def first_day(self) -> dt.date | None:
        return min(self.per_day) if self.per_day else None

    @property
    def last_day(self) -> dt.date | None:
        return max(self.per_day) if self.per_day else None


def _header(path: Path, name: str) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    if first.startswith(codecs.BOM_UTF8):
        first = first[3:]
    try:
        line = first.decode("utf-8")
    except UnicodeDecodeError:
        try:
            line = first.decode("gb18030")
        except UnicodeDecodeError:
            raise IngestError([f"{name}: neither UTF-8 nor GB18030 (in the header)"]) from None
    header = next(csv.reader([line.rstrip("\r\n")]), [])
    if not any(h.strip() for h in header):
        raise IngestError([f"{name}: empty file (no header)"])
    return header


def transcode(path: Path, out: Path, name: str) -> Path:
    """A UTF-8 copy of a GB18030 file, streamed; IngestError naming the byte where neither fits."""
    dec = codecs.getincrementaldecoder("gb18030")()
    done = 0
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(CHUNK):
            try:
                dst.write(dec.decode(chunk))
            except UnicodeDecodeError as e:
                raise IngestError([f"{name}: neither UTF-8 nor GB18030 (byte {done + e.start})"]) from None
            done += len(chunk)
        try:
            dst.write(dec.decode(b"", final=True))
        except UnicodeDecodeError:
            raise IngestError([f"{name}: neither UTF-8 nor GB18030 (byte {done})"]) from None
    return out


def open_source(con: duckdb.DuckDBPyConnection, path: Path, read_path: Path | None = None) -> Source:
    """The file as a DuckDB table expression, its columns mapped to the format's (any case and
    order); IngestError for a missing column or an unreadable file."""
    path = Path(path)
    name = path.name
    read_path = read_path or path
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1" or path.suffix.lower() == ".parquet":
        raw = f"read_parquet({_text(str(read_path))}, file_row_number = true)"
        try:
            names = [d[0] for d in con.execute(f"SELECT * FROM {raw} LIMIT 0").description]
        except duckdb.Error as e:
            raise IngestError([f"{name}: not a readable Parquet file ({str(e).splitlines()[0]})"]) from None
        names = [n for n in names if n != "file_row_number"]
        src = Source(path, name, "parquet", raw=raw)
    else:
        header = _header(read_path, name)
        names = [f"c{i}" for i in range(len(header))]
        types = ", ".join(f"'{n}': 'VARCHAR'" for n in names)
        raw = (
            f"read_csv({_text(str(read_path))}, header = true, auto_detect = false, delim = ',',"
            f" quote = '\"', escape = '\"', strict_mode = true, columns = {{{types}}})"
        )
        src = Source(path, name, "csv", raw=raw)
        names = dict(zip(names, header, strict=True))
    labels = names if isinstance(names, dict) else {n: n for n in names}
    for real, label in labels.items():
        src.cols.setdefault(label.strip().lower(), real)
    missing = [c for c in REQUIRED if c not in src.cols]
    if missing:
        raise IngestError(
            [f"{name}, row 1, column {missing[0]}: missing column (required: {', '.join(REQUIRED)})"]
        )
    return src


def session_zone(con: duckdb.DuckDBPyConnection, tz: str) -> None:
    """Times without an offset are read in ``tz`` (checked_sql)."""
    con.execute(f"SET TimeZone = {_text(tz)}")


def checked_sql(src: Source, tz: str, offset: int | None, trim: set[str] | None = None) -> str:
    """Every row with its values trimmed of surrounding spaces (``trim``: only these columns, the
    writing pass's, once the checking pass knows which need it), its time in UTC and local, ``rows``
    as a number, and ``what``: the first check it fails (NULL when it passes)."""

    def col(c):
        if c not in src.cols:
            return "''"
        value = f"coalesce(CAST(\"{src.cols[c]}\" AS VARCHAR), '')"
        return f"trim({value})" if trim is None or c in trim else value

    # one cast: a time with an offset keeps it, one without is local time in the session's zone,
    # which the ingest connection sets to the configured zone (`session_zone`)
    utc = "timezone('UTC', try_cast(at_s AS TIMESTAMPTZ))"
    if offset is not None:
        local = f"at_utc + INTERVAL ({offset}) SECOND"
    else:
        local = f"timezone({_text(tz)}, timezone('UTC', at_utc))"
    raws = "".join(f', "{real}" AS "r_{c}"' for c, real in src.cols.items() if c in VALUE_COLS)
    acts = ", ".join(f"'{a}'" for a in ACTIONS)
    rownum = "file_row_number + 1" if src.kind == "parquet" else "NULL::BIGINT"
    return f"""
    SELECT *, {local} AS at_local, CAST({local} AS DATE) AS day,
      CASE
        WHEN at_utc IS NULL THEN 'at'
        WHEN action NOT IN ({acts}) THEN 'action'
        WHEN staff_no = '' THEN 'staff_no'
        WHEN system = '' THEN 'system'
        WHEN policy_no = '' AND action <> 'search' THEN 'policy_no'
        WHEN "rows" IS NULL THEN 'rows'
        WHEN "rows" < 0 THEN 'rows<0'
      END AS what
    FROM (
      SELECT *,
        {utc} AS at_utc,
        CASE WHEN rows_s = '' THEN (CASE WHEN policy_no = '' THEN 0 ELSE 1 END)
             ELSE try_cast(rows_s AS BIGINT) END AS "rows"
      FROM (
        SELECT {rownum} AS n, {col("at")} AS at_s, {col("system")} AS system, {col("staff_no")} AS staff_no,
               {col("partner_code")} AS partner_code, lower({col("action")}) AS action,
               {col("policy_no")} AS policy_no, {col("query")} AS query, {col("rows")} AS rows_s,
               {col("terminal")} AS terminal{raws}
        FROM {src.raw}
      )
    )
    """


_LINE = re.compile(r"CSV Error on Line: (\d+)")
_COLS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def csv_error(name: str, e: duckdb.Error) -> str:
    """DuckDB's CSV error as one line naming the file and row."""
    msg = str(e)
    line = _LINE.search(msg)
    where = f"{name}, row {line.group(1)}" if line else name
    cols = _COLS.search(msg)
    if cols:
        return f"{where}: {cols.group(2)} values for {cols.group(1)} columns"
    lines = [x.strip() for x in msg.splitlines() if x.strip()]
    detail = next(
        (x for x in lines[1:] if not x.startswith(("Original Line", "Possible", "*")) and ":" not in x[:12]),
        lines[0] if lines else "unreadable",
    )
    return f"{where}: not a readable CSV row ({detail[:120]})"


def check(con: duckdb.DuckDBPyConnection, src: Source, tz: str, offset: int | None) -> list[str]:
    """The checking pass: fills src.rows, src.unknown, src.per_day; returns the errors (at most
    MAX_ERRORS, first rows first). Raises duckdb.Error for an unreadable CSV (see csv_error)."""
    sql = checked_sql(src, tz, offset)
    present = [c for c in VALUE_COLS if c in src.cols]
    spaced = ", ".join(
        f"bool_or(length(coalesce(CAST(\"r_{c}\" AS VARCHAR), '')) <> length({TRIMMED.get(c, c)}))"
        for c in present
    )
    stats = con.execute(
        f"""SELECT day, count(*), count(*) FILTER (NOT ({KNOWN_SQL})), count(what), {spaced}
            FROM ({sql}) GROUP BY day"""
    ).fetchall()
    bad = sum(r[3] for r in stats)
    if bad:
        return _bad_rows(con, src, sql)
    src.trim = {c for i, c in enumerate(present) if any(r[4 + i] for r in stats)}
    src.rows = sum(r[1] for r in stats)
    src.unknown = sum(r[2] for r in stats)
    src.per_day = {r[0]: r[1] for r in stats if r[0] is not None}
    return []


def _bad_rows(con: duckdb.DuckDBPyConnection, src: Source, sql: str) -> list[str]:
    """The first bad rows, in file order (CSV: one thread, so that the rows are numbered as the file
    has them; the header is row 1, as a spreadsheet counts; blank lines are not rows)."""
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.execute("SET threads = 1")
    try:
        if src.kind == "csv":
            sql = f"SELECT * REPLACE (row_number() OVER () + 1 AS n) FROM ({sql})"
        rows = con.execute(
            f"SELECT n, what, at_s, action, rows_s FROM ({sql}) WHERE what IS NOT NULL ORDER BY n LIMIT {MAX_ERRORS}"
        ).fetchall()
    finally:
        con.execute(f"SET threads = {int(threads)}")
    name = src.name
    out = []
    for n, what, at_s, action, rows_s in rows:
        out.append(
            {
                "at": f"{name}, row {n}, column at: not an ISO 8601 timestamp: {at_s[:40]!r}",
                "action": f"{name}, row {n}, column action: unknown action {action[:20]!r} ({', '.join(ACTIONS)})",
                "staff_no": f"{name}, row {n}, column staff_no: empty",
                "system": f"{name}, row {n}, column system: empty",
                "policy_no": f"{name}, row {n}, column policy_no: empty (only a search may match nothing)",
                "rows": f"{name}, row {n}, column rows: not an integer: {rows_s[:20]!r}",
                "rows<0": f"{name}, row {n}, column rows: negative",
            }[what]
        )
    return out


def rows_sql(src: Source, tz: str, offset: int | None, part: str) -> str:
    """The file's rows as the history stores them (SCHEMA's columns and ``day``)."""
    return f"""
    SELECT timezone('UTC', at_utc) AS "at", at_local, system, staff_no, partner_code, action, policy_no,
           query, "rows", terminal, {KNOWN_SQL} AS known, {_text(part)} AS source, day
    FROM ({checked_sql(src, tz, offset, src.trim)})
    """


def write_new(
    con: duckdb.DuckDBPyConnection, staged: store.Staged, rows: str, days: list[dt.date], part: str
) -> int:
    """Stage the rows of ``rows`` (SQL) that are new: on a day the history or an earlier file of
    this ingest holds, only the copies of a read beyond those stored there. Returns the rows added."""
    r = staged.root
    overlap = [d for d in days if store.day_files(r, d) or staged.by_day.get(d)]
    if not overlap:
        select = rows
    else:
        have = store.files_source(
            con, r, [f for d in overlap for f in store.day_files(r, d) + staged.by_day.get(d, [])]
        )
        keys = ", ".join(f'"{c}"' for c in VALUE_COLS)
        listing = ", ".join(f"DATE '{d.isoformat()}'" for d in overlap)
        select = f"""
        WITH x AS ({rows})
        SELECT * FROM x WHERE day NOT IN ({listing})
        UNION ALL
        SELECT * EXCLUDE (rn, have) FROM (
          SELECT x.*, row_number() OVER (PARTITION BY {keys}) AS rn FROM x WHERE day IN ({listing})
        ) y LEFT JOIN (
          SELECT {keys}, count(*) AS have FROM {have} WHERE day IN ({listing}) GROUP BY ALL
        ) h USING ({keys})
        WHERE rn > coalesce(have, 0)
        """
    return staged.copy(con, select, part)
