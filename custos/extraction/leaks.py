"""Leak tracing: given a leaked CSV or XLSX file, which extraction (and so which recipient) did its rows
come from? Canaries first (certain), then row order and whitespace marks against every generated
extraction's manifest (statistical); docs/extraction.md, "Tracing a leak".

    result = trace(path, progress=…)           # `custos extract trace FILE` calls this directly
    lt = accept_upload(upload, user, client)    # the page: store the upload, a queued LeakTrace …
    run(lt.pk)                                  # … that tasks.run_trace works through, with progress

The file is read as a stream: each distinct cell is classified and hashed once, canaries are looked
up a batch of rows at a time, and each row is kept only as its packed cell digests and its mark bit.
An upload larger than `conf.trace_max_bytes()` is refused before anything is stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit import service as audit
from custos.crypto.fields import Keys
from custos.domain import canary as cn
from custos.extraction import conf
from custos.extraction import workflow as wf
from custos.extraction.generation import _text, cell_digest
from custos.extraction.models import Canary, Extraction, LeakTrace

log = logging.getLogger(__name__)
S = Extraction.State
T = LeakTrace.Status
SUFFIXES = (".csv", ".xlsx")
Progress = Callable[[int, str], None]  # (percent 0-100, note)

_ID = re.compile(r"\d{17}[\dXx]")
_MOBILE = re.compile(r"(?:\+?86)?(1\d{10})")
_HAN_NAME = re.compile(r"[\u3400-\u9fff·]{2,8}")
_STRONG = {"id_no", "mobile"}
BATCH = 1000  # leaked rows per canary look-up
IN_CHUNK = 500  # values per IN (...) of a look-up: well below SQLite's bound on query parameters
SEEN_MAX = 200_000  # distinct cells whose digests are remembered (repeated codes and names)


class TraceRejected(wf.ExtractionError):
    """An upload that cannot be traced: wrong type, empty (400), or over the size limit (413)."""

    @classmethod
    def too_large(cls, limit: int) -> TraceRejected:
        exc = cls(
            _("文件超过泄露溯源的大小上限（%(limit)s MB，设置 CUSTOS_LEAK_TRACE_MAX_BYTES）。")
            % {"limit": limit // 1_000_000}
        )
        exc.status = 413
        return exc


# --- reading --------------------------------------------------------------------------------------------


class _Counted(io.RawIOBase):
    """A binary file that counts the bytes read through it (the CSV reader's progress)."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.f.readinto(b) or 0
        self.n += n
        return n


def iter_table(path: Path, progress: Progress | None = None) -> Iterator[list[str]]:
    """Every non-empty row of a leaked CSV or XLSX file (all sheets) as text cells, whitespace kept.
    progress(percent, note) is called now and then with how much of the file has been read."""
    path = Path(path)
    report = progress or (lambda _p, _n: None)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            total = sum(ws.max_row or 0 for ws in wb.worksheets) or 1
            done = 0
            for ws in wb.worksheets:
                for cells in ws.iter_rows(values_only=True):
                    done += 1
                    if done % 5000 == 0:
                        report(min(99, 100 * done // total), "")
                    vals = []
                    for v in cells:
                        if isinstance(v, float) and v.is_integer():
                            v = int(v)
                        vals.append(_text(v.date() if isinstance(v, dt.datetime) else v))
                    if any(vals):
                        yield vals
        finally:
            wb.close()
        return
    from custos.book.loader.encoding import detect

    size = max(1, path.stat().st_size)
    with open(path, "rb", buffering=0) as raw:
        counted = _Counted(raw)
        text = io.TextIOWrapper(io.BufferedReader(counted), encoding=detect(path), newline="")
        for i, r in enumerate(csv.reader(text)):
            if i % 5000 == 4999:
                report(min(99, 100 * counted.n // size), "")
            if any(r):
                yield r


def read_table(path: Path) -> list[list[str]]:
    """Every row of a leaked CSV or XLSX file (all sheets) as text cells, whitespace kept."""
    return list(iter_table(path))


# --- canaries ----------------------------------------------------------------------------------------------


def _row_cells(row: list[str]) -> set[str]:
    cells = {c.strip() for c in row if c and c.strip()}
    return cells | {c[1:] for c in cells if c.startswith("'")}


class _CanaryScan:
    """Finds canaries in leaked rows, a batch at a time. A canary counts when one row carries its ID
    number or mobile, or two of its fields: a name or an address alone is what real customers share
    with a synthetic one by chance (a real row named like a canary made a trace without canaries
    report one, 2026-11-26)."""

    def __init__(self, keys: Keys):
        self.keys = keys
        self.seen: dict[str, list[tuple[str, str]]] = {}  # cell -> (field, digest): hashed once
        self.hits: dict[int, set[str]] = {}  # canary id -> its fields found in one row

    def _digests(self, c: str) -> list[tuple[str, str]]:
        out = self.seen.get(c)
        if out is not None:
            return out
        out, k = [], self.keys
        if _ID.fullmatch(c):
            out.append(("id_no", k.tracing_index(c.upper(), "canary.id_no")))
        m = _MOBILE.fullmatch(re.sub(r"[\s-]", "", c))
        if m:
            out.append(("mobile", k.tracing_index(m.group(1), "canary.mobile")))
        if _HAN_NAME.fullmatch(c):
            out.append(("name", k.tracing_index(c, "canary.name")))
        if len(c) >= 8:
            out.append(("address", k.tracing_index(c, "canary.address")))
        if len(self.seen) >= SEEN_MAX:
            self.seen.clear()
        self.seen[c] = out
        return out

    def batch(self, rows: list[list[str]]) -> None:
        per_row: list[dict[str, set[str]]] = []
        wanted: dict[str, set[str]] = {"id_no": set(), "mobile": set(), "name": set(), "address": set()}
        for row in rows:
            found: dict[str, set[str]] = {f: set() for f in wanted}
            for c in _row_cells(row):
                for f, digest in self._digests(c):
                    found[f].add(digest)
            for f, digests in found.items():
                wanted[f] |= digests
            per_row.append(found)
        owners: dict[tuple[str, str], list[int]] = {}  # (field, digest) -> canaries with that value
        for f, digests in wanted.items():
            values = sorted(digests)
            for i in range(0, len(values), IN_CHUNK):
                for cid, digest in Canary.objects.filter(
                    **{f"{f}_bi__in": values[i : i + IN_CHUNK]}
                ).values_list("id", f"{f}_bi"):
                    owners.setdefault((f, digest), []).append(cid)
        if not owners:
            return
        for found in per_row:
            in_row: dict[int, set[str]] = {}
            for f, digests in found.items():
                for digest in digests:
                    for cid in owners.get((f, digest), ()):
                        in_row.setdefault(cid, set()).add(f)
            for cid, fields_ in in_row.items():
                if fields_ & _STRONG or len(fields_) >= 2:
                    self.hits.setdefault(cid, set()).update(fields_)

    def result(self) -> dict[int, list[str]]:
        return {cid: sorted(fields_) for cid, fields_ in self.hits.items()}


def _canary_hits(keys: Keys, rows: Iterable[list[str]]) -> dict[int, list[str]]:
    """canary id -> fields of it found in the leaked rows (see _CanaryScan)."""
    scan = _CanaryScan(keys)
    rows = list(rows)
    for i in range(0, len(rows), BATCH):
        scan.batch(rows[i : i + BATCH])
    return scan.result()


# --- candidates ------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    extraction: Extraction
    canaries: list[tuple[int, list[str]]] = field(default_factory=list)  # (canary id, fields found)
    matched: int = 0  # leaked rows found in the extraction
    ascending: int = 0
    pairs: int = 0
    marks_agree: int = 0
    p_order: float = 1.0
    p_marks: float = 1.0

    @property
    def strong_canaries(self) -> int:
        return sum(1 for _c, f in self.canaries if _STRONG & set(f))

    @property
    def p_value(self) -> float:
        return min(1.0, 2 * min(self.p_order, self.p_marks))

    @property
    def confidence(self) -> str:
        if self.strong_canaries:
            return "certain"
        if self.canaries and self.p_value < 1e-3:
            return "certain"
        if self.p_value < 1e-6:
            return "high"
        if self.p_value < 1e-3 or self.canaries:
            return "moderate"
        return "low"

    def statement(self) -> str:
        e = self.extraction
        parts = []
        if self.canaries:
            parts.append(
                _(
                    "含本次提取独有的诱饵记录 %(n)s 条（其中 %(s)s 条证件号码或手机号吻合）：诱饵是虚构客户，只出现在这一份文件中。"
                )
                % {"n": len(self.canaries), "s": self.strong_canaries}
            )
        if self.matched:
            parts.append(
                _(
                    "%(m)s 行与本次提取的记录吻合；行序一致 %(a)s/%(p)s，空白标记一致 %(k)s/%(m)s；非本文件而巧合达到此程度的概率约为 %(pv).1e。"
                )
                % {
                    "m": self.matched,
                    "a": self.ascending,
                    "p": self.pairs,
                    "k": self.marks_agree,
                    "pv": self.p_value,
                }
            )
        level = {
            "certain": _("结论：几乎可以确定来自此次提取"),
            "high": _("结论：很可能来自此次提取"),
            "moderate": _("结论：可能来自此次提取，需要更多证据"),
            "low": _("结论：证据不足"),
        }[self.confidence]
        who = e.recipient_label
        return f"{level}（#{e.pk}，{_('接收人')} {who}）。" + " ".join(parts)

    _STORED = ("matched", "ascending", "pairs", "marks_agree", "p_order", "p_marks")

    def stored(self) -> dict:
        """The evidence as stored on a LeakTrace (statements are worded when shown, in the reader's
        language)."""
        return {
            "extraction": self.extraction.pk,
            "canaries": [[cid, list(f)] for cid, f in self.canaries],
            **{k: getattr(self, k) for k in self._STORED},
        }

    @classmethod
    def from_stored(cls, d: dict, extraction: Extraction) -> Candidate:
        return cls(extraction, [(cid, list(f)) for cid, f in d["canaries"]], **{k: d[k] for k in cls._STORED})


@dataclass
class TraceResult:
    rows: int
    candidates: list[Candidate]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def stored(self) -> dict:
        return {"rows": self.rows, "candidates": [c.stored() for c in self.candidates]}

    @classmethod
    def from_stored(cls, d: dict) -> TraceResult:
        ids = [c["extraction"] for c in d.get("candidates", [])]
        exts = Extraction.objects.select_related("requester", "recipient_user", "approver").in_bulk(ids)
        cands = [
            Candidate.from_stored(c, exts[c["extraction"]])
            for c in d.get("candidates", [])
            if c["extraction"] in exts
        ]
        return cls(rows=d.get("rows", 0), candidates=cands)


# --- tracing --------------------------------------------------------------------------------------------


def trace(
    path: Path, user=None, client: str = "", progress: Progress | None = None, note: str = ""
) -> TraceResult:
    """Who received the rows of a leaked file? Canaries first (certain), then row order and whitespace
    marks against every generated extraction's manifest (statistical). With a user, the trace is
    audited (action extraction.trace: the candidates and their confidence); if the audit log cannot
    be written, AuditWriteError and no result."""
    report = progress or (lambda _p, _n: None)
    keys = Keys.from_keyring()
    scan = _CanaryScan(keys)
    leaked: list[tuple[bytes, bool]] = []  # per row: its distinct cell digests packed, its mark bit
    batch: list[list[str]] = []
    reading = _("读取文件")
    for row in iter_table(Path(path), lambda p, _n: report(p * 7 // 10, reading)):
        batch.append(row)
        digests = {cell_digest(keys, c) for c in row if c and c.strip()}
        leaked.append((b"".join(bytes.fromhex(d) for d in sorted(digests)), any(cn.has_mark(c) for c in row)))
        if len(batch) >= BATCH:
            scan.batch(batch)
            batch = []
    if batch:
        scan.batch(batch)
    del batch
    found: dict[int, Candidate] = {}
    canaries = Canary.objects.select_related("extraction").in_bulk(list(scan.hits))
    for cid, fields_ in scan.result().items():
        c = canaries[cid]
        found.setdefault(c.extraction_id, Candidate(c.extraction)).canaries.append((cid, fields_))
    exts = Extraction.objects.select_related("requester", "recipient_user", "approver").filter(
        state__in=[S.GENERATED, S.DOWNLOADED, S.EXPIRED], row_count__gt=0
    )
    total = max(1, exts.count())
    comparing = _("比对已生成的提取")
    for i, ext in enumerate(exts.iterator(chunk_size=20)):
        report(70 + 29 * i // total, comparing)
        _compare(ext, leaked, found)
    ranked = sorted(
        found.values(),
        key=lambda c: (-c.strong_canaries, -len(c.canaries), c.p_value, -c.matched, -c.extraction.pk),
    )
    if user is not None:
        wf.audit_event(
            user,
            "extraction.trace",
            [c.extraction.pk for c in ranked],
            (note or f"trace {Path(path).name}")
            + ": "
            + ", ".join(f"#{c.extraction.pk}:{c.confidence}" for c in ranked[:5]),
            client,
        )
    return TraceResult(rows=len(leaked), candidates=ranked)


def _compare(ext: Extraction, leaked: list[tuple[bytes, bool]], found: dict[int, Candidate]) -> None:
    """Match each leaked row to one row of ext (the row with most shared cell digests, if unique) and
    count row order and mark agreement."""
    index: dict[bytes, list[int]] = {}
    bits = {}
    for pos, digests, bit, _canary in ext.manifest:
        bits[pos] = bit
        for d in digests:
            index.setdefault(bytes.fromhex(d), []).append(pos)
    seq, agree = [], 0
    for packed, marked in leaked:
        votes: dict[int, int] = {}
        for j in range(0, len(packed), 8):
            for pos in index.get(packed[j : j + 8], ()):
                votes[pos] = votes.get(pos, 0) + 1
        if not votes:
            continue
        top = max(votes.values())
        best = [p for p, v in votes.items() if v == top]
        if len(best) != 1:
            continue
        seq.append(best[0])
        agree += int(bool(bits[best[0]]) == marked)
    if not seq and ext.pk not in found:
        return
    cand = found.setdefault(ext.pk, Candidate(ext))
    cand.matched, cand.marks_agree = len(seq), agree
    cand.ascending, cand.pairs = cn.ascending_pairs(seq)
    cand.p_order = cn.binomial_tail(cand.ascending, cand.pairs)
    cand.p_marks = cn.binomial_tail(agree, len(seq))


# --- the trace job: upload, run, result ------------------------------------------------------------------


def _uploads_dir() -> Path:
    d = conf.files_dir().parent / "traces"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def accept_upload(upload, user, client: str = "", note: str = "") -> LeakTrace:
    """Check an uploaded leaked file (type, size) and store it for the trace job: a queued LeakTrace.
    Refused (TraceRejected, nothing stored): not CSV/XLSX (400), empty (400), larger than
    conf.trace_max_bytes() (413)."""
    name = Path(upload.name or "").name[:200]
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise TraceRejected(_("只能比对 CSV 或 XLSX 文件。"))
    limit = conf.trace_max_bytes()
    if upload.size is None or upload.size > limit:
        raise TraceRejected.too_large(limit)
    if upload.size == 0:
        raise TraceRejected(_("文件为空。"))
    folder = _uploads_dir() / secrets.token_hex(16)
    folder.mkdir(mode=0o700)
    target = folder / f"leak{suffix}"
    digest, size = hashlib.sha256(), 0
    try:
        with open(target, "xb") as out:
            target.chmod(0o600)
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:  # the declared size was wrong
                    raise TraceRejected.too_large(limit)
                digest.update(chunk)
                out.write(chunk)
        return LeakTrace.objects.create(
            created_by=user if getattr(user, "pk", None) else None,
            client=client[:64],
            source_name=name,
            note=wf.clean_text(note)[:500],
            file_bytes=size,
            sha256=digest.hexdigest(),
            file_path=str(target),
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def discard_upload(lt: LeakTrace) -> None:
    """The leaked file holds personal data in clear: once its trace has ended it is deleted; the
    LeakTrace keeps its name, size and SHA-256."""
    if not lt.file_path:
        return
    folder = Path(lt.file_path).parent
    try:
        folder.resolve().relative_to(_uploads_dir().resolve())
    except ValueError:
        return
    shutil.rmtree(folder, ignore_errors=True)
    LeakTrace.objects.filter(pk=lt.pk).update(file_path="")


def run(trace_id: int) -> str:
    """Work through a queued LeakTrace: read and compare the stored file, keeping `progress` up to
    date; store the result (or the reason it failed), audit it, delete the file. Returns the status."""
    lt = LeakTrace.objects.select_related("created_by").get(pk=trace_id)
    if lt.status != T.QUEUED:
        return lt.status
    LeakTrace.objects.filter(pk=lt.pk).update(status=T.RUNNING, started_at=timezone.now(), progress=0)
    last = [0.0]

    def progress(pct: int, note: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            LeakTrace.objects.filter(pk=lt.pk).update(progress=max(0, min(99, pct)), progress_note=note[:200])

    try:
        result = trace(
            Path(lt.file_path),
            user=lt.created_by,
            client=lt.client,
            progress=progress,
            note=f"trace #{lt.pk} {lt.source_name}",
        )
    except audit.AuditWriteError:
        return _fail(lt, _("审计日志不可用，比对结果未保存。"))
    except Exception as exc:  # an unreadable upload: say so, keep nothing
        log.warning("leak trace %s failed: %s", lt.pk, exc)
        return _fail(lt, _("无法读取文件：%(e)s") % {"e": type(exc).__name__})
    finally:
        discard_upload(lt)
    LeakTrace.objects.filter(pk=lt.pk).update(
        status=T.DONE,
        progress=100,
        progress_note="",
        rows=result.rows,
        result=result.stored(),
        finished_at=timezone.now(),
    )
    return T.DONE


def _fail(lt: LeakTrace, error: str) -> str:
    LeakTrace.objects.filter(pk=lt.pk).update(status=T.FAILED, error=error[:500], finished_at=timezone.now())
    return T.FAILED


def discard_stale_uploads(older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete stored uploads of traces that never ran (no consumer) after a day; they fail."""
    n = 0
    cutoff = timezone.now() - older_than
    for lt in LeakTrace.objects.exclude(file_path="").filter(created_at__lt=cutoff):
        discard_upload(lt)
        if lt.status in (T.QUEUED, T.RUNNING):
            _fail(lt, _("比对任务未能执行，上传的文件已删除。"))
        n += 1
    return n
