"""Pass 1: read every table file once, check everything, collect all errors, and spool the clean
rows (marshalled batches in a temporary file) for pass 2. Nothing touches the book tables here.

Memory stays bounded: rows stream from the reader to the spool; only key sets are held (the keys
of branches, staff, partners and policies for reference checks, and each table's keys while it is
read for duplicate checks).
"""

import json
import logging
import marshal
import operator
import os
import pickle
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path

from django.db import connection

from custos.book.models import MODELS
from custos.domain.bookformat import LOAD_ORDER, TABLES, Table
from custos.domain.codes import LOOKUPS

from .errors import Issue, Issues, literal
from .mapping import Mapping
from .seal import row_sealer
from .sources import (
    Book,
    CsvReader,
    ParquetReader,
    RowError,
    TableFile,
    XlsxReader,
    excel_text,
    record_boundary,
)
from .values import (
    CACHE_MAX,
    CONTROL,
    Bad,
    CodeConv,
    DateConv,
    DecimalConv,
    IntConv,
    MonthConv,
    TimestampConv,
    clean_text,
    needs_care,
)

TEXT_MAX = 20_000  # TextField columns and extra columns
SPOOL_BATCH = 5_000
MAX_OCCURRENCES = 5  # of one unresolved reference value, for messages
# CSV files from this size are checked by two processes (CUSTOS_LOAD_WORKERS=1: one process)
PARALLEL_FROM = int(os.environ.get("CUSTOS_LOAD_PARALLEL_FROM", 32 << 20))
log = logging.getLogger(__name__)


@dataclass
class Spool:
    """Clean rows of one table, ready for the database: column values, original JSON, extra JSON.

    Values are str, int or None only (dates and timestamps as the database's text), so batches
    are marshalled: several times faster than pickle. Each batch is stored as an 8-byte length and
    `marshal.dumps` bytes: `marshal.load` on a file object reads value by value through Python's
    I/O layer, which cost more than the validation itself."""

    table: str
    path: Path
    rows: int = 0
    columns: tuple[str, ...] = ()
    present: tuple[str, ...] = ()  # format columns the file had
    more: list[Path] = field(default_factory=list)  # further spool files (of a second process), in order
    sealed: bool = False  # personal values sealed and blind indexes appended (custos.book.loader.seal)

    def batches(self):
        for path in (self.path, *self.more):
            with open(path, "rb") as f:
                while head := f.read(8):
                    yield marshal.loads(f.read(int.from_bytes(head, "little")))  # noqa: S302 - our own file


@dataclass
class Validated:
    spools: dict[str, Spool] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    tmpdir: tempfile.TemporaryDirectory | None = None

    def close(self) -> None:
        if self.tmpdir:
            self.tmpdir.cleanup()


@dataclass
class Context:
    """What the check of every table file of one load shares."""

    mapping: Mapping
    mode: str
    issues: Issues
    tmp: Path  # where the spools go
    keysets: dict[str, set[str]] = field(default_factory=dict)  # keys of the tables read so far
    # References into a table that could not be read (or, in a full load, is not in the book) are
    # not checked: the error about that table says enough.
    unchecked: set[str] = field(default_factory=set)


@dataclass
class FileCheck:
    """One table file being checked."""

    ctx: Context
    tf: TableFile
    table: Table
    reader: object
    progress: Callable[[float, str], None]


@dataclass
class Pass:
    """One pass of the row check over a reader (the whole file, or one half of a large CSV file):
    where its rows, errors, keys and unresolved references go. `record` (a list or None) receives
    (key, row) of each first occurrence of a key."""

    reader: object
    issues: Issues
    sink: object
    own_keys: set
    refs: list
    progress: Callable[[float, str], None]
    record: list | None = None


@dataclass(frozen=True)
class RowShape:
    """How the slow path reads a row of one file."""

    fname: str
    header: list[str]
    ncols: int
    plan: list[tuple]  # (index in the row, column name, output position, converter, max length, not_empty)
    empty_row: list
    lenient: bool  # xlsx and Parquet: missing trailing cells are empty


def _max_length(table: str, column: str) -> int:
    f = MODELS[table]._meta.get_field(column)
    return f.max_length or TEXT_MAX


def _converter(col, mapping: Mapping, table: str):
    if col.codes:
        return CodeConv(col.codes, LOOKUPS[col.codes], mapping.codes.get(col.codes))
    if col.type == "date":
        return DateConv(long_term=(table == "parties" and col.name == "id_valid_until"))
    if col.type == "timestamp":
        return TimestampConv(db_text=True)
    if col.type == "int":
        return IntConv()
    if col.type == "decimal":
        return DecimalConv()
    if col.type == "month":
        return MonthConv()
    return None


class _Refs:
    """Values of a reference column not found in the book (yet): value -> first rows."""

    def __init__(self):
        self.missing: dict[str, list[int]] = {}
        self.counts: dict[str, int] = {}

    def add(self, value: str, row: int) -> None:
        rows = self.missing.setdefault(value, [])
        self.counts[value] = self.counts.get(value, 0) + 1
        if len(rows) < MAX_OCCURRENCES:
            rows.append(row)


def validate(
    book: Book,
    mapping: Mapping,
    mode: str,
    issues: Issues,
    progress: Callable[[float, str], None],
) -> Validated:
    out = Validated(tmpdir=tempfile.TemporaryDirectory(prefix="custos-spool-"))
    for name in book.ignored:
        issues.warning(name, None, None, "not a table of the book format: ignored", "not_a_table")
    for table in LOAD_ORDER:
        if mode == "full" and TABLES[table].required and table not in book.tables:
            issues.error(
                f"{table}.csv",
                None,
                None,
                f"required table {table} is missing from the book",
                "missing_table",
            )
    ctx = Context(mapping, mode, issues, Path(out.tmpdir.name))
    if mode == "full":
        ctx.unchecked = {t for t in LOAD_ORDER if t not in book.tables}
    total = sum(tf.size for tf in book.tables.values()) or 1
    done = 0
    for table in LOAD_ORDER:
        tf = book.tables.get(table)
        if tf is None:
            continue

        def sub(frac: float, note: str, _done=done, _tf=tf) -> None:
            progress((_done + frac * _tf.size) / total, note)

        spool = _validate_table(ctx, tf, TABLES[table], sub)
        done += tf.size
        if spool is None:
            ctx.unchecked.add(table)
        if spool is not None:
            out.spools[table] = spool
            out.row_counts[table] = spool.rows
    return out


def _validate_table(
    ctx: Context, tf: TableFile, table: Table, progress: Callable[[float, str], None]
) -> Spool | None:
    fname = tf.name
    issues = ctx.issues
    reader = tf.read(issues)
    if reader is None:
        return None
    try:
        return _read_rows(FileCheck(ctx, tf, table, reader, progress))
    except RowError as e:
        issues.error(fname, None, None, f"{e}; the rest of the file was not read", "unreadable_row")
    except Exception as e:  # a reader failing mid-file (corrupt parquet/xlsx)
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        issues.error(fname, None, None, f"cannot read the file: {msg}", "unreadable")
    finally:
        reader.close()
    return None


def _read_rows(fc: FileCheck) -> Spool | None:
    tf, reader, table, progress = fc.tf, fc.reader, fc.table, fc.progress
    ctx = fc.ctx
    mapping, mode, issues, keysets, unchecked = ctx.mapping, ctx.mode, ctx.issues, ctx.keysets, ctx.unchecked
    fname = tf.name
    name = table.name
    colmap = mapping.columns.get(name, {})
    # header -> format column (or None: extra)
    header = [("" if h is None else str(h)).strip().lstrip("\ufeff").strip() for h in reader.header]
    targets: list[str | None] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        low = h.lower()
        col = colmap.get(low) or (low if low in table.column_names else None)
        if not h:
            issues.error(fname, 1, f"#{i + 1}", "empty column name in the header", "empty_header")
        elif (col or h) in seen:
            issues.error(fname, 1, h, "column appears twice in the header", "duplicate_column")
            col = None
        else:
            seen[col or h] = i
        if col is None and h:
            issues.warning(fname, 1, h, "column is not in the book format: kept as extra", "extra_column")
        targets.append(col)
    present = {c for c in targets if c}
    for col in table.columns:
        if col.required and col.name not in present:
            issues.error(fname, 1, col.name, "required column is missing", "missing_column")
    # plan: (index in the row, column name, output position, converter, max length, not_empty)
    out_cols = table.column_names
    pos = {c: i for i, c in enumerate(out_cols)}
    plan = []
    for i, col in enumerate(targets):
        if col is None:
            continue
        c = table.column(col)
        plan.append((i, col, pos[col], _converter(c, mapping, name), _max_length(name, col), c.not_empty))
    extras = [(i, header[i]) for i, c in enumerate(targets) if c is None and header[i]]
    empty_row = [None if table.column(c).type != "text" else "" for c in out_cols]
    key_pos = [pos[k] for k in table.key]
    key_of_keyset = len(table.key) == 1
    key_cols = ",".join(table.key)
    own_keys: set = set()
    refs = [
        (pos[col], col, ref_table, _Refs(), (pos[ref[3][0]], ref[3][1]) if len(ref) > 3 else None)
        for ref in table.references
        for col, ref_table in [ref[:2]]
        if col in present and ref_table not in unchecked and (len(ref) < 4 or ref[3][0] in present)
    ]
    ncols = len(header)
    is_xlsx = isinstance(reader, XlsxReader)
    spool = Spool(name, ctx.tmp / f"{name}.spool", columns=out_cols, present=tuple(sorted(present)))
    sink = open(spool.path, "wb")  # noqa: SIM115
    # seal personal values as batches are spooled: a forked second process seals its half
    seal = row_sealer(MODELS[name], [*out_cols, "original", "extra"])
    spool.sealed = seal is not None
    # Fast path for the common row: all text, as many fields as the header, no blanks to strip,
    # no full-width characters, no control characters (one regex over the joined row says so).
    fast_ok = isinstance(reader, CsvReader)
    src_idx = [targets.index(c) if c in present else ncols for c in out_cols]
    take = itemgetter(*src_idx)
    typed = []
    for c in table.columns:
        if c.name not in present:
            continue
        conv = _converter(c, mapping, name)
        if conv is not None:
            cache = conv.lookup if isinstance(conv, CodeConv) else {}
            typed.append((pos[c.name], cache, conv, c.name, isinstance(conv, CodeConv)))
    limits = [
        _max_length(name, c.name) if (c.name in present and c.type == "text" and not c.codes) else 1 << 30
        for c in table.columns
    ]
    need = [pos[c.name] for c in table.columns if c.not_empty and c.name in present]
    need_get = itemgetter(*need) if len(need) > 1 else (lambda r, _p=need[0]: (r[_p],)) if need else None
    key_get = itemgetter(*key_pos)
    absent_none = [p for c, p in pos.items() if c not in present and empty_row[p] is None]
    gt = operator.gt
    shape = RowShape(fname, header, ncols, plan, empty_row, is_xlsx or isinstance(reader, ParquetReader))

    def scan(p: Pass) -> int:
        """Check the rows of one reader; spool them to its sink; returns how many there were."""
        reader, issues, sink, own_keys, refs, progress, record = (
            p.reader,
            p.issues,
            p.sink,
            p.own_keys,
            p.refs,
            p.progress,
            p.record,
        )
        batch: list[tuple] = []
        nrows = 0
        last = time.monotonic()
        err = issues.error
        for rownum, values in reader.rows():
            nrows += 1
            row = None
            if fast_ok and len(values) == ncols:
                joined = "\x1f".join(values)
                if joined.count("\x1f") == ncols - 1 and not needs_care(joined):
                    values.append("")
                    row = list(take(values))
                    values.pop()
                    if (need_get is not None and "" in need_get(row)) or any(map(gt, map(len, row), limits)):
                        row = None  # let the slow path name the column
                    else:
                        for p in absent_none:  # after the length check: len(None) fails
                            row[p] = None
                        original = None
                        for p, cache, conv, col, is_code in typed:
                            v = row[p]
                            if not v:
                                if not is_code:
                                    row[p] = None
                                continue
                            out = cache.get(v)
                            if out is None:
                                try:
                                    out = conv(v)
                                except Bad as e:
                                    err(fname, rownum, col, *e.parts)
                                    row[p] = None if not is_code else ""
                                    continue
                                if not is_code and len(cache) < CACHE_MAX:
                                    cache[v] = out
                            row[p] = out
            if row is None:
                row, original = _slow_row(values, rownum, shape, err)
                if row is None:
                    continue
            # keys (also of rows with errors: a bad cell must not make every reference to the row fail)
            if key_of_keyset:
                key = row[key_pos[0]]
            else:
                key = "\x1f".join(map(str, key_get(row)))
            if key in own_keys:
                issues.add(_duplicate(fname, rownum, key_cols, key))
            elif key:
                own_keys.add(key)
                if record is not None:
                    record.append((key, rownum))
            for p, _col, ref_table, pending, when in refs:
                v = row[p]
                if v and v not in keysets.get(ref_table, ()) and (when is None or row[when[0]] == when[1]):
                    pending.add(v, rownum)
            extra = None
            if extras:
                for i, h in extras:
                    v = values[i]
                    if v is None or v == "":
                        continue
                    v = v if isinstance(v, str) else excel_text(v)
                    if len(v) > TEXT_MAX:
                        err(
                            fname,
                            rownum,
                            h,
                            f"value has {len(v)} characters, more than the {TEXT_MAX} allowed",
                            "too_long",
                        )
                        continue
                    if extra is None:
                        extra = {}
                    extra[h] = v
            if not issues:
                batch.append(
                    (
                        *row,
                        None if original is None else json.dumps(original, ensure_ascii=False),
                        None if extra is None else json.dumps(extra, ensure_ascii=False),
                    )
                )
                if len(batch) >= SPOOL_BATCH:
                    _dump(seal(batch) if seal else batch, sink)
                    batch = []
            if not nrows & 0x3FFF:
                now = time.monotonic()
                if now - last > 0.2:
                    last = now
                    progress(reader.fraction(), f"checking {fname}: {nrows:,} rows")
        if batch and not issues:
            _dump(seal(batch) if seal else batch, sink)
        return nrows

    err = issues.error
    split = _split(tf, reader)
    main = Pass(reader, issues, sink, own_keys, refs, progress)
    try:
        if split is None:
            nrows = scan(main)
        else:
            nrows = _scan_in_two(scan, split, fc, main, spool)
        if is_xlsx:
            for rownum, i, coord in reader.formulas:
                err(
                    fname,
                    rownum,
                    header[i] if i < len(header) else None,
                    f"cell {coord} holds a formula",
                    "formula",
                )
    finally:
        sink.close()
    spool.rows = nrows
    # references: the table itself (self references), then the database in delta mode
    if key_of_keyset:
        keysets[name] = own_keys
    for _p, col, ref_table, pending, _when in refs:
        known = own_keys if ref_table == name else None
        unresolved = {v: r for v, r in pending.missing.items() if known is None or v not in known}
        if unresolved and mode == "delta":
            in_db = _existing_keys(ref_table, list(unresolved))
            unresolved = {v: r for v, r in unresolved.items() if v not in in_db}
        ref_key = TABLES[ref_table].key[0]
        for v, rows in unresolved.items():
            more = pending.counts[v] - len(rows)
            for r in rows:
                suffix = f" (and {more} more rows)" if more and r == rows[-1] else ""
                rest = f" is not a {ref_key} in {ref_table}{suffix}"
                err(fname, r, col, f"{v[:64]!r}{rest}", "reference", "{value!r}" + literal(rest), v[:64])
    progress(1.0, f"checked {fname}: {nrows:,} rows")
    return spool


def _workers() -> int:
    try:
        return int(os.environ.get("CUSTOS_LOAD_WORKERS", "0")) or (os.cpu_count() or 1)
    except ValueError:
        return 1


def _split(tf: TableFile, reader) -> tuple[int, int] | None:
    """(first data byte, a record boundary near the middle) of a large CSV file whose second half
    a second process can check; None when the file is checked in one go."""
    if (
        not isinstance(reader, CsvReader)
        or tf.size < PARALLEL_FROM
        or _workers() < 2
        or not hasattr(os, "fork")
    ):
        return None
    start = record_boundary(tf.path, 0)
    if start is None:
        return None
    mid = record_boundary(tf.path, max(start, tf.size // 2))
    if mid is None or mid >= tf.size:
        return None
    return start, mid


def _scan_in_two(scan, split: tuple[int, int], fc: FileCheck, main: Pass, spool: Spool) -> int:
    """Check a large CSV file in two processes: this one reads the first half while a forked child
    (which inherits the key sets of the tables read before) reads the second. The child returns its
    errors, keys and unresolved references with row numbers counted from its own start; they are
    shifted and merged here in row order, so the result is the same as reading the file in one go.
    If the child fails, this process reads the second half itself."""
    tf, reader, table = fc.tf, fc.reader, fc.table
    issues, own_keys, refs = main.issues, main.own_keys, main.refs
    start, mid = split
    first = CsvReader.byte_range(tf.path, reader.encoding, reader.header, start, mid)
    child_spool = spool.path.with_suffix(".2.spool")
    result = spool.path.with_suffix(".2.result")
    pid = os.fork()
    if pid == 0:  # the child: no database, no progress, leave by os._exit only
        code = 1
        try:
            second = CsvReader.byte_range(tf.path, reader.encoding, reader.header, mid, tf.size)
            child_issues = Issues()
            child_refs = [(p, c, t, _Refs(), w) for p, c, t, _, w in refs]
            record: list = []
            row_error = None
            with open(child_spool, "wb") as csink:
                try:
                    n = scan(
                        Pass(second, child_issues, csink, set(), child_refs, lambda f, note: None, record)
                    )
                except RowError as e:
                    n, row_error = 0, (e.row, e.detail or str(e))
            second.close()
            with open(result, "wb") as f:
                pickle.dump(
                    (
                        n,
                        child_issues.errors,
                        child_issues.error_count,
                        record,
                        [(r.missing, r.counts) for _p, _c, _t, r, _w in child_refs],
                        row_error,
                    ),
                    f,
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
            code = 0
        finally:
            os._exit(code)
    try:
        n1 = scan(replace(main, reader=first))
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        first.close()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not result.exists():
        log.warning("second validation process failed (status %s): checking the rest here", status)
        second = CsvReader.byte_range(
            tf.path, reader.encoding, reader.header, mid, tf.size, first.last_row + 1
        )
        try:
            return n1 + scan(replace(main, reader=second))
        finally:
            second.close()
    with open(result, "rb") as f:
        n2, errors, error_count, record, child_refs, row_error = pickle.load(f)  # noqa: S301 - our own file
    result.unlink()
    spool.more.append(child_spool)
    off = first.last_row - 1
    shifted = [e.at_row(None if e.row is None else e.row + off) for e in errors]
    key_cols = ",".join(table.key)
    for key, row in record:
        if key in own_keys:
            shifted.append(_duplicate(tf.name, row + off, key_cols, key))
        else:
            own_keys.add(key)
    shifted.sort(key=lambda e: e.row or 0)
    for e in shifted:
        issues.add(e)
    issues.error_count += error_count - len(errors)
    for (_p, _c, _t, pending, _w), (missing, counts) in zip(refs, child_refs, strict=True):
        for v, rows in missing.items():
            mine = pending.missing.setdefault(v, [])
            mine.extend(r + off for r in rows[: max(0, MAX_OCCURRENCES - len(mine))])
            pending.counts[v] = pending.counts.get(v, 0) + counts[v]
    if row_error is not None:
        row, detail = row_error
        raise RowError(f"row {row + off}: {detail}", row + off, detail)
    return n1 + n2


def _duplicate(fname: str, row: int, key_cols: str, key: str) -> Issue:
    shown = key.replace("\x1f", "/")
    return Issue(
        fname, row, key_cols, f"duplicate key {shown!r}", "duplicate_key", "duplicate key {value!r}", shown
    )


def _dump(batch: list[tuple], sink) -> None:
    data = marshal.dumps(batch)
    sink.write(len(data).to_bytes(8, "little"))
    sink.write(data)


def _slow_row(values, rownum: int, shape: RowShape, err):
    """Row by row, value by value: strips, converts full-width characters, keeps the original,
    names every bad cell (`err`: Issues.error of the pass). Returns (row, original); row is None
    when the row cannot be read at all, and bad cells are left empty (the error is recorded, so
    nothing is written anyway)."""
    fname, header, ncols, plan, empty_row, lenient = (
        shape.fname,
        shape.header,
        shape.ncols,
        shape.plan,
        shape.empty_row,
        shape.lenient,
    )
    if len(values) != ncols:
        if lenient:
            if len(values) < ncols:
                values = values + [None] * (ncols - len(values))
            elif any(v is not None for v in values[ncols:]):
                err(fname, rownum, None, f"row has {len(values)} cells, the header {ncols}", "row_width")
                return None, None
            else:
                values = values[:ncols]
        else:
            err(fname, rownum, None, f"row has {len(values)} fields, the header {ncols}", "row_width")
            return None, None
    bad = False
    for i, v in enumerate(values):
        if isinstance(v, str) and (m := CONTROL.search(v)):
            what = "NUL byte" if m[0] == "\x00" else f"control character U+{ord(m[0]):04X}"
            err(fname, rownum, header[i] or f"#{i + 1}", f"{what} in the value", "control_character")
            bad = True
    if bad:
        return None, None
    row = list(empty_row)
    original = None
    for i, col, p, conv, maxlen, not_empty in plan:
        v = values[i]
        if v is None:
            s = ""
        elif v.__class__ is str:
            s = clean_text(v)
            if s != v:
                if original is None:
                    original = {}
                original[col] = v
        else:
            if conv is not None and hasattr(conv, "native"):
                try:
                    row[p] = conv.native(v)
                    continue
                except TypeError:
                    pass
                except Bad as e:
                    err(fname, rownum, col, *e.parts)
                    bad = True
                    continue
            s = clean_text(excel_text(v))
        if not s:
            if not_empty:
                err(fname, rownum, col, "must not be empty", "empty")
                bad = True
            continue
        if len(s) > maxlen:
            err(
                fname,
                rownum,
                col,
                f"value has {len(s)} characters, more than the {maxlen} allowed",
                "too_long",
            )
            bad = True
            continue
        if conv is None:
            row[p] = s
        else:
            try:
                row[p] = conv(s)
            except Bad as e:
                err(fname, rownum, col, *e.parts)
                bad = True
    return row, original


def _existing_keys(table: str, values: list[str]) -> set[str]:
    model = MODELS[table]
    key = TABLES[table].key[0]
    found: set[str] = set()
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        for i in range(0, len(values), 500):
            chunk = values[i : i + 500]
            marks = ",".join(["%s"] * len(chunk))
            cur.execute(
                f"SELECT {qn(key)} FROM {qn(model._meta.db_table)} WHERE {qn(key)} IN ({marks})",
                chunk,
            )
            found.update(r[0] for r in cur.fetchall())
    return found
