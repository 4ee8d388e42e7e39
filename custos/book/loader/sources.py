"""Where a book comes from: a folder, a .zip of one, one .xlsx workbook, or a single table file.

`open_book` resolves the source to a `Book`: which file holds which table, and a reader for each
that streams (row number, raw values). Raw values are str (CSV), or whatever the file holds
(xlsx: str/int/float/datetime; Parquet: str/int/float/Decimal/date/datetime); the validator
normalises them.
"""

import csv
import datetime as dt
import hashlib
import io
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from custos.domain.bookformat import TABLES

from .encoding import EncodingRejected, detect
from .errors import Issues, LoadFailure

TABLE_SUFFIXES = (".csv", ".parquet")
# Zip-bomb limits: total uncompressed bytes, entries, and compression ratio of large entries.
ZIP_MAX_TOTAL = int(os.environ.get("CUSTOS_ZIP_MAX_BYTES", 20 * 1024**3))
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_RATIO = 200
ZIP_RATIO_MIN_SIZE = 10 * 1024**2
csv.field_size_limit(1 << 20)  # a longer CSV field is an error, not a hang


class RowError(Exception):
    """A reader could not read a row (the rest of the file is skipped)."""

    def __init__(self, message: str, row: int | None = None, detail: str = ""):
        super().__init__(message)
        self.row = row  # the row number it names (of its reader: a range reader counts from its start)
        self.detail = detail


@dataclass
class TableFile:
    table: str
    name: str  # as shown in errors: file name inside the book, or "book.xlsx[sheet]"
    path: Path
    kind: str  # csv | parquet | xlsx
    sheet: str | None = None
    size: int = 0

    def read(self, issues: Issues) -> "Reader | None":
        try:
            if self.kind == "csv":
                return CsvReader(self)
            if self.kind == "parquet":
                return ParquetReader(self)
            return XlsxReader(self)
        except EncodingRejected as e:
            issues.error(self.name, None, None, str(e))
        except (OSError, ValueError, zipfile.BadZipFile, KeyError) as e:
            issues.error(self.name, None, None, f"cannot read {self.kind} file: {_one_line(e)}")
        except Exception as e:  # pyarrow raises its own errors on garbage
            issues.error(self.name, None, None, f"cannot read {self.kind} file: {_one_line(e)}")
        return None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


class Reader:
    header: list[str]

    def rows(self) -> Iterator[tuple[int, list]]:
        raise NotImplementedError

    def fraction(self) -> float:
        return 0.0

    def close(self) -> None:
        pass


class CsvReader(Reader):
    last_row = 1  # the row number of the last record read (the header is row 1)

    def __init__(self, tf: TableFile):
        self.path = tf.path
        self.encoding = detect(tf.path)
        self.raw = open(tf.path, "rb")  # noqa: SIM115 - closed by close()
        self.size = max(1, tf.size)
        self.text = open(tf.path, encoding=self.encoding, newline="")  # noqa: SIM115
        self.reader = csv.reader(self.text, strict=True)
        try:
            self.header = next(self.reader, [])
        except csv.Error as e:
            self.close()
            raise ValueError(f"header row: {e}")
        self.raw.close()

    @classmethod
    def byte_range(
        cls, path: Path, encoding: str, header: list, start: int, end: int, first_row: int = 2
    ) -> "CsvReader":
        """A reader of the records between two record boundaries of a CSV file (see
        `record_boundary`), with the header given; it numbers rows as if its first record
        followed the header (row 2), or from `first_row`."""
        self = cls.__new__(cls)
        self.path = path
        self.encoding = encoding
        self.header = header
        self.size = max(1, end - start)
        raw = _RangeRaw(path, start, end)
        self.text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding=encoding, newline="")
        self.reader = csv.reader(self.text, strict=True)
        self.start_row = self.last_row = first_row - 1
        return self

    start_row = 1

    def rows(self) -> Iterator[tuple[int, list]]:
        n = self.start_row
        it = iter(self.reader)
        while True:
            try:
                values = next(it)
            except StopIteration:
                return
            except csv.Error as e:
                raise RowError(f"row {n + 1}: CSV syntax: {e}", n + 1, f"CSV syntax: {e}")
            n += 1
            self.last_row = n
            if not values:  # blank line
                continue
            yield n, values

    def fraction(self) -> float:
        try:
            return min(1.0, self.text.buffer.tell() / self.size)
        except (OSError, ValueError):
            return 0.0

    def close(self) -> None:
        self.text.close()


class _RangeRaw(io.RawIOBase):
    """Raw bytes [start, end) of a file."""

    def __init__(self, path: Path, start: int, end: int):
        self.f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.f.seek(start)
        self.left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.left <= 0:
            return 0
        view = memoryview(b)[: self.left]
        n = self.f.readinto(view)
        self.left -= n
        return n

    def close(self) -> None:
        self.f.close()
        super().close()


def record_boundary(path: Path, pos: int) -> int | None:
    """Offset just after the first line break at or after `pos` that ends a CSV record (an even
    number of quote characters before it: RFC 4180 doubles quotes inside quoted fields), or None.
    Safe in UTF-8 and GB18030: neither uses the bytes of '"' or LF inside a multi-byte character."""
    quotes = 0
    with open(path, "rb") as f:
        done = 0
        while done < pos:
            chunk = f.read(min(16 << 20, pos - done))
            if not chunk:
                return None
            quotes += chunk.count(b'"')
            done += len(chunk)
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return None
            at = 0
            while (nl := chunk.find(b"\n", at)) >= 0:
                quotes += chunk.count(b'"', at, nl)
                if quotes % 2 == 0:
                    return done + nl + 1
                at = nl + 1
            quotes += chunk.count(b'"', at)
            done += len(chunk)


class ParquetReader(Reader):
    BATCH = 65_536

    def __init__(self, tf: TableFile):
        import pyarrow.parquet as pq

        self.file = pq.ParquetFile(tf.path)
        self.header = list(self.file.schema_arrow.names)
        self.total = max(1, self.file.metadata.num_rows)
        self.done = 0

    def rows(self) -> Iterator[tuple[int, list]]:
        n = 1
        for batch in self.file.iter_batches(batch_size=self.BATCH):
            cols = [c.to_pylist() for c in batch.columns]
            for values in zip(*cols, strict=True):
                n += 1
                yield n, list(values)
            self.done += batch.num_rows

    def fraction(self) -> float:
        return self.done / self.total

    def close(self) -> None:
        self.file.close()


class XlsxReader(Reader):
    def __init__(self, tf: TableFile):
        import openpyxl

        self.wb = openpyxl.load_workbook(tf.path, read_only=True, data_only=False)
        self.ws = self.wb[tf.sheet]
        self.total = max(1, self.ws.max_row or 1)
        self.rows_iter = self.ws.iter_rows()
        self.n = 0
        first = next(self.rows_iter, ())
        self.header = ["" if c.value is None else str(c.value) for c in first]
        while self.header and not self.header[-1].strip():  # formatted but empty columns
            self.header.pop()
        self.formulas: list[tuple[int, int, str]] = []  # (row, column index, cell) found in rows()

    def rows(self) -> Iterator[tuple[int, list]]:
        n = 1
        for cells in self.rows_iter:
            n += 1
            self.n = n
            values = []
            for i, c in enumerate(cells):
                v = c.value
                if c.data_type == "f":
                    self.formulas.append((n, i, c.coordinate))
                    v = None
                elif isinstance(v, float) and v.is_integer():
                    v = int(v)
                values.append(v)
            while values and values[-1] is None:
                values.pop()
            if not values:
                continue
            yield n, values

    def fraction(self) -> float:
        return min(1.0, self.n / self.total)

    def close(self) -> None:
        self.wb.close()


@dataclass
class Book:
    """A resolved source: table files found, and files that were ignored."""

    label: str
    tables: dict[str, TableFile] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    cleanup: Callable[[], None] | None = None

    def close(self) -> None:
        if self.cleanup:
            self.cleanup()


def sha256_of(source: Path) -> str:
    h = hashlib.sha256()
    if source.is_dir():
        for p in sorted(q for q in source.rglob("*") if q.is_file()):
            h.update(p.relative_to(source).as_posix().encode() + b"\0")
            _hash_file(h, p)
            h.update(b"\0")
    else:
        _hash_file(h, source)
    return h.hexdigest()


def _hash_file(h, path: Path) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def _aliases(file_aliases: dict[str, list[str]]) -> dict[str, str]:
    """lower-case file stem -> table."""
    out = {name: name for name in TABLES}
    for table, names in file_aliases.items():
        for n in names:
            out[n.strip().lower()] = table
    return out


def open_book(source: Path, file_aliases: dict[str, list[str]], issues: Issues) -> Book:
    if not source.exists():
        raise LoadFailure(f"{source}: no such file or directory")
    aliases = _aliases(file_aliases)
    suffix = source.suffix.lower()
    if source.is_dir():
        book = Book(source.name)
        _scan_folder(book, source, aliases, issues)
        return book
    if suffix == ".zip":
        tmp = tempfile.TemporaryDirectory(prefix="custos-book-")
        book = Book(source.name, cleanup=tmp.cleanup)
        try:
            ok = _extract_zip(source, Path(tmp.name), issues)
        except BaseException:
            tmp.cleanup()
            raise
        if ok:
            _scan_folder(book, Path(tmp.name), aliases, issues)
        return book
    if suffix in (".xlsx", ".xlsm"):
        book = Book(source.name)
        _scan_workbook(book, source, aliases, issues)
        return book
    if suffix in TABLE_SUFFIXES:
        book = Book(source.name)
        table = aliases.get(source.stem.lower())
        if table is None:
            raise LoadFailure(f"{source.name}: file name matches no table of the book format")
        book.tables[table] = TableFile(table, source.name, source, suffix[1:], size=source.stat().st_size)
        return book
    raise LoadFailure(f"{source.name}: not a folder, .zip, .xlsx, .csv or .parquet")


def _scan_folder(book: Book, root: Path, aliases: dict[str, str], issues: Issues) -> None:
    files = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    has_tables = any(p.is_file() and p.suffix.lower() in TABLE_SUFFIXES for p in files)
    dirs = [p for p in files if p.is_dir()]
    if not has_tables and len(dirs) == 1:  # a zip of a folder: descend into it
        return _scan_folder(book, dirs[0], aliases, issues)
    workbooks = [p for p in files if p.is_file() and p.suffix.lower() in (".xlsx", ".xlsm")]
    if not has_tables and len(workbooks) == 1:
        return _scan_workbook(book, workbooks[0], aliases, issues)
    for p in sorted(files):
        if p.is_symlink() or not p.is_file():
            book.ignored.append(p.name)
            continue
        table = aliases.get(p.stem.lower()) if p.suffix.lower() in TABLE_SUFFIXES else None
        if table is None:
            book.ignored.append(p.name)
            continue
        if table in book.tables:
            issues.error(p.name, None, None, f"table {table} is also in {book.tables[table].name}")
            continue
        book.tables[table] = TableFile(table, p.name, p, p.suffix.lower()[1:], size=p.stat().st_size)


def _scan_workbook(book: Book, path: Path, aliases: dict[str, str], issues: Issues) -> None:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as e:
        issues.error(path.name, None, None, f"cannot read workbook: {_one_line(e)}")
        return
    try:
        names = list(wb.sheetnames)
    finally:
        wb.close()
    size = path.stat().st_size
    for sheet in names:
        table = aliases.get(sheet.strip().lower())
        if table is None:
            book.ignored.append(f"{path.name}[{sheet}]")
            continue
        if table in book.tables:
            issues.error(f"{path.name}[{sheet}]", None, None, f"table {table} is also in another sheet")
            continue
        book.tables[table] = TableFile(
            table, f"{path.name}[{sheet}]", path, "xlsx", sheet=sheet, size=max(1, size // len(names))
        )


def _extract_zip(source: Path, dest: Path, issues: Issues) -> bool:
    """Extract safely; every unsafe entry is an error. Returns False when nothing may be read."""
    name = source.name
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as e:
        issues.error(name, None, None, f"not a readable zip file: {_one_line(e)}")
        return False
    with zf:
        infos = zf.infolist()
        if len(infos) > ZIP_MAX_ENTRIES:
            issues.error(name, None, None, f"zip has {len(infos)} entries (limit {ZIP_MAX_ENTRIES})")
            return False
        total = sum(i.file_size for i in infos)
        if total > ZIP_MAX_TOTAL:
            issues.error(name, None, None, f"zip would expand to {total} bytes (limit {ZIP_MAX_TOTAL})")
            return False
        ok = True
        for info in infos:
            entry = info.filename
            p = PurePosixPath(entry.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                issues.error(name, None, None, f"entry {entry!r} points outside the book")
                ok = False
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                issues.error(name, None, None, f"entry {entry!r} is a symbolic link")
                ok = False
                continue
            if info.file_size > ZIP_RATIO_MIN_SIZE and info.file_size > ZIP_MAX_RATIO * max(
                1, info.compress_size
            ):
                issues.error(name, None, None, f"entry {entry!r} compresses {info.file_size} bytes too well")
                ok = False
        if not ok:
            return False
        written = 0
        for info in infos:
            target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    got = 0
                    while chunk := src.read(1 << 20):
                        got += len(chunk)
                        written += len(chunk)
                        if got > info.file_size or written > ZIP_MAX_TOTAL:
                            issues.error(name, None, None, f"entry {info.filename!r} is larger than declared")
                            return False
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
                issues.error(name, None, None, f"entry {info.filename!r}: {_one_line(e)}")
                return False
    return True


# Used by the validator to turn reader values into text.
def excel_text(v) -> str:
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)
