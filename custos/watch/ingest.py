"""`custos watch ingest FILE…`: core systems' access logs into the history, all or nothing.

The format is book-format.md's "Access logs": CSV (UTF-8 or GB18030, a BOM is fine) or Parquet, one
row per read. Every file is read and checked before anything is written; any bad row fails the whole
ingest with errors naming file, row and column. A file whose bytes were ingested before is skipped
(registry of SHA-256 digests, `IngestedFile`), and each row carries a key (`row_key`) so that the
same read arriving again in another file (overlapping exports) is stored once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
from django.db import transaction

from custos.watch import conf, store

ACTIONS = ("view", "search", "print", "export")
REQUIRED = ("at", "system", "staff_no", "action", "policy_no", "rows")
OPTIONAL = ("partner_code", "query", "terminal")
MAX_ERRORS = 50


class IngestError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(errors[0] + more)


@dataclass
class Parsed:
    name: str
    digest: str
    kind: str
    rows: list[tuple] = field(default_factory=list)  # normalised, see _row()


@dataclass
class Result:
    files: list[dict] = field(default_factory=list)  # {name, rows, added, unknown_staff, skipped}

    @property
    def added(self) -> int:
        return sum(f["added"] for f in self.files)


def _tz() -> ZoneInfo:
    return ZoneInfo(str(conf.get("timezone")))


def parse_at(value, tz: ZoneInfo) -> dt.datetime:
    """A read's time, aware: ISO 8601 text or a datetime; no offset means the configured zone."""
    if isinstance(value, dt.datetime):
        at = value
    elif isinstance(value, str) and value.strip():
        at = dt.datetime.fromisoformat(value.strip())
    else:
        raise ValueError("empty")
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as e:
        raise IngestError([f"{name}: neither UTF-8 nor GB18030 (byte {e.start})"]) from None


def _records(path: Path, data: bytes) -> tuple[str, list[str], list]:
    """(kind, header, rows as lists of values) of one file."""
    name = path.name
    if data[:4] == b"PAR1" or path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001 - any unreadable Parquet is the file's error
            raise IngestError([f"{name}: not a readable Parquet file ({e})"]) from None
        header = [c.strip().lower() for c in table.column_names]
        cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return "parquet", header, list(zip(*cols, strict=True)) if cols else []
    text = _decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise IngestError([f"{name}: empty file (no header)"]) from None
    return "csv", header, list(reader)


def _text(v) -> str:
    return "" if v is None else str(v).strip()


def parse_file(path: Path, known: KnownOperators, errors: list[str]) -> Parsed | None:
    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        errors.append(f"{name}: cannot be read ({e.strerror})")
        return None
    digest = hashlib.sha256(data).hexdigest()
    try:
        kind, header, records = _records(path, data)
    except IngestError as e:
        errors.extend(e.errors)
        return None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append(f"{name}, row 1, column {missing[0]}: missing column (required: {', '.join(REQUIRED)})")
        return None
    at_i = {c: header.index(c) for c in (*REQUIRED, *OPTIONAL) if c in header}
    tz = _tz()
    parsed = Parsed(name=name, digest=digest, kind=kind)
    first_row = 2 if kind == "csv" else 1  # CSV: the header is row 1, as a spreadsheet counts
    seen: dict[tuple, int] = defaultdict(int)
    for n, rec in enumerate(records, start=first_row):
        if len(errors) >= MAX_ERRORS:
            return None
        if kind == "csv" and not any(v.strip() for v in rec):
            continue
        if kind == "csv" and len(rec) != len(header):
            errors.append(f"{name}, row {n}: {len(rec)} values for {len(header)} columns")
            continue

        def get(c, rec=rec):
            return rec[at_i[c]] if c in at_i else None

        try:
            at = parse_at(get("at"), tz)
        except (ValueError, TypeError):
            errors.append(f"{name}, row {n}, column at: not an ISO 8601 timestamp: {_text(get('at'))[:40]!r}")
            continue
        action = _text(get("action")).lower()
        if action not in ACTIONS:
            errors.append(
                f"{name}, row {n}, column action: unknown action {action[:20]!r} ({', '.join(ACTIONS)})"
            )
            continue
        staff_no = _text(get("staff_no"))
        if not staff_no:
            errors.append(f"{name}, row {n}, column staff_no: empty")
            continue
        system = _text(get("system"))
        if not system:
            errors.append(f"{name}, row {n}, column system: empty")
            continue
        policy_no = _text(get("policy_no"))
        if not policy_no and action != "search":
            errors.append(f"{name}, row {n}, column policy_no: empty (only a search may match nothing)")
            continue
        raw_rows = get("rows")
        if raw_rows is None or _text(raw_rows) == "":
            rows = 1 if policy_no else 0
        else:
            try:
                rows = int(raw_rows) if isinstance(raw_rows, int) else int(_text(raw_rows))
            except ValueError:
                errors.append(f"{name}, row {n}, column rows: not an integer: {_text(raw_rows)[:20]!r}")
                continue
            if rows < 0:
                errors.append(f"{name}, row {n}, column rows: negative")
                continue
        at_utc = at.astimezone(dt.UTC)
        partner_code = _text(get("partner_code"))
        values = (
            at_utc.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            system,
            staff_no,
            partner_code,
            action,
            policy_no,
            _text(get("query")),
            str(rows),
            _text(get("terminal")),
        )
        seen[values] += 1
        key = row_key(values, seen[values])
        local = at.astimezone(tz).replace(tzinfo=None)
        parsed.rows.append(
            (
                key,
                at_utc,
                local,
                system,
                staff_no,
                partner_code,
                action,
                policy_no,
                values[6],
                rows,
                values[8],
                known.knows(staff_no, partner_code),
            )
        )
    return parsed


def row_key(values: tuple, ordinal: int) -> str:
    """A read's identity: its normalised values (time in UTC to the microsecond) and its ordinal among
    identical rows of the same file — two identical reads in one file stay two, the same read in two
    files is one. (The set-wise reader, `fastparse`, computes the same key in SQL.)"""
    return hashlib.sha256("\x1f".join((*values, str(ordinal))).encode()).hexdigest()[:32]


class KnownOperators:
    """The book's staff and partner users: an operator not among them is kept, flagged `known=false`."""

    def __init__(self) -> None:
        from custos.access.models import Profile
        from custos.book.models import Partner, Staff

        self.staff = set(Staff.objects.values_list("staff_no", flat=True))
        self.partner_users = set(
            Profile.objects.exclude(partner_code="").exclude(staff_no="").values_list("staff_no", flat=True)
        )
        self.partners = set(Partner.objects.values_list("partner_code", flat=True))

    def knows(self, staff_no: str, partner_code: str) -> bool:
        if partner_code:
            return partner_code in self.partners or staff_no in self.partner_users
        return staff_no in self.staff or staff_no in self.partner_users


def _tables(rows: list[tuple], source: str) -> dict[dt.date, pa.Table]:
    by_day: dict[dt.date, list[tuple]] = defaultdict(list)
    for r in rows:
        by_day[r[2].date()].append(r)
    out = {}
    names = [f.name for f in store.SCHEMA]
    for day, rs in by_day.items():
        cols = list(zip(*rs, strict=True))
        arrays = {names[i]: list(cols[i]) for i in range(len(cols))}
        arrays["source"] = [source] * len(rs)
        out[day] = pa.table(arrays, schema=store.SCHEMA)
    return out


def ingest(paths: list[Path]) -> Result:
    """Ingest access-log files: all of them or, on any error, none (IngestError lists the errors)."""
    from custos.watch import fastparse

    offset = fastparse.fixed_offset(_tz())
    if offset is not None:
        return _ingest_setwise(paths, offset)
    return _ingest_rows(paths)


def _ingest_setwise(paths: list[Path], offset: int) -> Result:
    from custos.watch import fastparse
    from custos.watch.models import IngestedFile

    errors: list[str] = []
    known = KnownOperators()
    con = store.connect()
    try:
        parsed = [p for p in (fastparse.parse(Path(x), con, known, offset, errors) for x in paths) if p]
        if errors:
            raise IngestError(errors)
        result = Result()
        done = set(
            IngestedFile.objects.filter(digest__in=[p["digest"] for p in parsed]).values_list(
                "digest", flat=True
            )
        )
        staged = store.Staged()
        try:
            todo = []
            for p in parsed:
                if p["digest"] in done:
                    result.files.append(
                        {
                            "name": p["name"],
                            "rows": p["rows"],
                            "added": 0,
                            "unknown_staff": 0,
                            "skipped": True,
                        }
                    )
                    continue
                done.add(p["digest"])
                tables, added = fastparse.fresh_by_day(con, p, p["digest"][:16])
                staged.write(tables, p["digest"][:16])
                todo.append((p, added))
            if not todo:
                staged.discard()
                return result
            with transaction.atomic():
                for p, added in todo:
                    f = IngestedFile.objects.create(
                        digest=p["digest"],
                        name=p["name"][:500],
                        kind=p["kind"],
                        rows=p["rows"],
                        added=added,
                        unknown_staff=p["unknown"],
                        first_day=p["first_day"],
                        last_day=p["last_day"],
                    )
                    _record_ingest(f)
                    result.files.append(
                        {"name": p["name"], "rows": f.rows, "added": added, "unknown_staff": f.unknown_staff,
                         "skipped": False}
                    )  # fmt: skip
                staged.commit()
        except BaseException:
            staged.discard()
            raise
    finally:
        con.close()
    return result


def _ingest_rows(paths: list[Path]) -> Result:
    """The per-row reader (zones with daylight saving)."""
    from custos.watch.models import IngestedFile

    errors: list[str] = []
    known = KnownOperators()
    parsed = [p for p in (parse_file(Path(x), known, errors) for x in paths) if p is not None]
    if errors:
        raise IngestError(errors)
    result = Result()
    done = set(
        IngestedFile.objects.filter(digest__in=[p.digest for p in parsed]).values_list("digest", flat=True)
    )
    todo = []
    for p in parsed:
        if p.digest in done:
            result.files.append(
                {"name": p.name, "rows": len(p.rows), "added": 0, "unknown_staff": 0, "skipped": True}
            )
            continue
        done.add(p.digest)
        todo.append(p)
    if not todo:
        return result
    con = store.connect()
    try:
        all_days = sorted({r[2].date() for p in todo for r in p.rows})
        have = store.existing_keys(con, all_days)
    finally:
        con.close()
    staged = store.Staged()
    fresh_by_file = []
    try:
        for p in todo:
            fresh = [r for r in p.rows if r[0] not in have]
            have.update(r[0] for r in fresh)
            fresh_by_file.append(fresh)
            staged.write(_tables(fresh, p.digest[:16]), p.digest[:16])
        with transaction.atomic():
            for p, fresh in zip(todo, fresh_by_file, strict=True):
                day_list = [r[2].date() for r in p.rows]
                f = IngestedFile.objects.create(
                    digest=p.digest,
                    name=p.name[:500],
                    kind=p.kind,
                    rows=len(p.rows),
                    added=len(fresh),
                    unknown_staff=sum(1 for r in p.rows if not r[11]),
                    first_day=min(day_list) if day_list else None,
                    last_day=max(day_list) if day_list else None,
                )
                _record_ingest(f)
                result.files.append(
                    {
                        "name": p.name,
                        "rows": f.rows,
                        "added": f.added,
                        "unknown_staff": f.unknown_staff,
                        "skipped": False,
                    }
                )
            staged.commit()
    except BaseException:
        staged.discard()
        raise
    return result


def _record_ingest(f) -> None:
    from custos.audit.record import record

    record(
        None,
        "watch.ingested",
        f,
        None,
        {"name": f.name, "rows": f.rows, "added": f.added, "unknown_staff": f.unknown_staff},
    )
