"""`custos watch ingest FILE…`: core systems' access logs into the history, all or nothing.

The format is book-format.md's "Access logs": CSV (UTF-8 or GB18030, a BOM is fine) or Parquet, one
row per read. Every file is checked before anything is written; any bad row fails the whole ingest
with errors naming file, row and column. A file whose bytes were ingested before is skipped
(registry of SHA-256 digests, `IngestedFile`), and a read that arrives again in another file
(overlapping exports) is stored once (`fastparse.write_new`).

The work per row is DuckDB's (`custos/watch/fastparse.py`); this module orders it: digests (in a
thread, while DuckDB checks the previous file), the checking pass of every file, then the writing
pass into a staging directory, then the registry rows and the audit record in one transaction, and
only then are the day files moved into the history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
from django.db import transaction

from custos.watch import conf, fastparse, store
from custos.watch.fastparse import ACTIONS, MAX_ERRORS, OPTIONAL, REQUIRED, IngestError  # noqa: F401

KnownOperators = fastparse.Known  # the name the rest of the app knows it by


@dataclass
class Result:
    files: list[dict] = field(default_factory=list)  # {name, rows, added, unknown_staff, skipped}

    @property
    def added(self) -> int:
        return sum(f["added"] for f in self.files)


def _tz() -> ZoneInfo:
    return ZoneInfo(str(conf.get("timezone")))


def digest(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks (hashlib releases the GIL: it runs beside DuckDB)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(fastparse.CHUNK):
            h.update(chunk)
    return h.hexdigest()


class Pipeline:
    """Check and stage files into the history at ``root`` (default: the configured one); nothing
    reaches the history before `commit()`. Used by `ingest()` (with the registry and the audit
    record around it) and by the ingest benchmark."""

    def __init__(self, known: fastparse.Known, root: Path | None = None) -> None:
        self.tz = _tz()
        self.offset = fastparse.fixed_offset(self.tz)
        self.staged = store.Staged(root)
        self.con = store.connect()
        self.staged.root.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=".ingest-", dir=self.staged.root.parent))
        mem = str(conf.get("ingest_memory"))
        self.con.execute(f"SET temp_directory = {fastparse._text(str(self.tmp / 'spill'))}")
        self.con.execute(f"SET memory_limit = {fastparse._text(mem)}")
        self.con.execute("SET preserve_insertion_order = false")
        fastparse.session_zone(self.con, str(self.tz))
        known.register(self.con)

    def check(self, path: Path, errors: list[str]) -> fastparse.Source | None:
        path = Path(path)
        try:
            src = fastparse.open_source(self.con, path)
            try:
                errors.extend(fastparse.check(self.con, src, str(self.tz), self.offset))
            except duckdb.Error as e:
                if "Invalid unicode" not in str(e) or src.kind != "csv":
                    raise IngestError([fastparse.csv_error(src.name, e)]) from None
                utf8 = fastparse.transcode(path, self.tmp / f"{len(list(self.tmp.iterdir()))}.csv", path.name)
                src = fastparse.open_source(self.con, path, utf8)
                errors.extend(fastparse.check(self.con, src, str(self.tz), self.offset))
        except IngestError as e:
            errors.extend(e.errors)
            return None
        except duckdb.Error as e:
            errors.append(fastparse.csv_error(path.name, e))
            return None
        except OSError as e:
            errors.append(f"{path.name}: cannot be read ({e.strerror})")
            return None
        return src

    def write(self, src: fastparse.Source, part: str) -> int:
        if not src.rows:
            return 0
        rows = fastparse.rows_sql(src, str(self.tz), self.offset, part)
        return fastparse.write_new(self.con, self.staged, rows, sorted(src.per_day), part)

    def commit(self) -> None:
        self._close()
        self.staged.commit()

    def discard(self) -> None:
        self._close()
        self.staged.discard()

    def _close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


def ingest(paths: list[Path]) -> Result:
    """Ingest access-log files: all of them or, on any error, none (IngestError lists the errors)."""
    from custos.watch.models import IngestedFile

    paths = [Path(p) for p in paths]
    errors: list[str] = []
    result = Result()
    pipe = Pipeline(fastparse.Known.from_book())
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            digests = [pool.submit(digest, p) for p in paths]
            done = set()
            todo: list[tuple[fastparse.Source, str]] = []
            for p, fut in zip(paths, digests, strict=True):
                try:
                    d = fut.result()
                except OSError as e:
                    errors.append(f"{p.name}: cannot be read ({e.strerror})")
                    continue
                if d in done or IngestedFile.objects.filter(digest=d).exists():
                    result.files.append(
                        {"name": p.name, "rows": 0, "added": 0, "unknown_staff": 0, "skipped": True}
                    )
                    continue
                done.add(d)
                if len(errors) >= MAX_ERRORS:
                    break
                src = pipe.check(p, errors)
                if src is not None:
                    src.digest = d
                    todo.append((src, d))
        if errors:
            raise IngestError(errors[:MAX_ERRORS])
        if not todo:
            pipe.discard()
            return result
        added = [pipe.write(src, d[:16]) for src, d in todo]
        with transaction.atomic():
            for (src, d), n in zip(todo, added, strict=True):
                f = IngestedFile.objects.create(
                    digest=d,
                    name=src.name[:500],
                    kind=src.kind,
                    rows=src.rows,
                    added=n,
                    unknown_staff=src.unknown,
                    first_day=src.first_day,
                    last_day=src.last_day,
                )
                _record_ingest(f)
                result.files.append(
                    {
                        "name": src.name,
                        "rows": src.rows,
                        "added": n,
                        "unknown_staff": src.unknown,
                        "skipped": False,
                    }
                )
            pipe.commit()
    except BaseException:
        pipe.discard()
        raise
    return result


def tables_by_day(rows: list[tuple], source: str) -> dict[dt.date, pa.Table]:
    """Rows (at UTC aware, at_local, system, staff_no, partner_code, action, policy_no, query, rows,
    terminal, known) as Arrow tables of SCHEMA by local day (custos's own reads, audit_export)."""
    by_day: dict[dt.date, list[tuple]] = defaultdict(list)
    for r in rows:
        by_day[r[1].date()].append(r)
    out = {}
    names = [f.name for f in store.SCHEMA]
    for day, rs in by_day.items():
        cols = list(zip(*rs, strict=True))
        arrays = {names[i]: list(cols[i]) for i in range(len(cols))}
        arrays["source"] = [source] * len(rs)
        out[day] = pa.table(arrays, schema=store.SCHEMA)
    return out


def _record_ingest(f) -> None:
    from custos.audit.record import record

    record(
        None,
        "watch.ingested",
        f,
        None,
        {"name": f.name, "rows": f.rows, "added": f.added, "unknown_staff": f.unknown_staff},
    )
