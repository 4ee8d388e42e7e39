"""Screen a partner's batch file (`custos screen FILE`): a book-format folder, .zip or .xlsx workbook
with ``policies`` and ``parties`` (``changes`` optional), or one flat CSV/XLSX sheet with policy and
party columns on each row (one row per party). Each policy is one application (application id = the
policy number unless an ``application_id`` column is given), screened as the API screens it."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from custos.book.loader.errors import Issues, LoadFailure
from custos.book.loader.sources import Book, TableFile, open_book
from custos.domain.bookformat import TABLES
from custos.screening import service

POLICY_COLS = set(TABLES["policies"].column_names)
PARTY_COLS = set(TABLES["parties"].column_names)


class BatchError(Exception):
    """The file cannot be screened; str() names file, row and column."""


def _text(v):
    if isinstance(v, dt.datetime | dt.date):
        return v.date().isoformat() if isinstance(v, dt.datetime) else v.isoformat()
    return v


def _rows(tf: TableFile, issues: Issues):
    reader = tf.read(issues)
    if reader is None:
        raise BatchError(
            "; ".join(f"{e.file}: {e.message}" for e in issues.errors) or f"{tf.name}: unreadable"
        )
    try:
        header = [h.strip() for h in reader.header]
        for n, values in reader.rows():
            yield n, {h: _text(v) for h, v in zip(header, values, strict=False) if h and v not in (None, "")}
    finally:
        reader.close()


def read_applications(path: Path) -> list[tuple[str, dict, list]]:
    """[(where, request document, row numbers)] in file order."""
    issues = Issues()
    path = Path(path)
    try:
        book = open_book(path, {}, issues)
    except LoadFailure:
        book = None
    try:
        if book is not None and "policies" in book.tables and "parties" in book.tables:
            return _from_tables(book, issues)
        return _flat(path, issues)
    finally:
        if book is not None:
            book.close()


def _from_tables(book: Book, issues: Issues) -> list:
    docs: dict[str, dict] = {}
    for n, row in _rows(book.tables["policies"], issues):
        pno = row.get("policy_no")
        if not pno:
            raise BatchError(f"{book.tables['policies'].name} row {n}: policy_no is empty")
        app_id = row.pop("application_id", pno)
        docs[pno] = {"application_id": app_id, "policy": row, "parties": [], "changes": [], "_rows": [n]}
    for table in ("parties", "changes"):
        if table not in book.tables:
            continue
        tf = book.tables[table]
        for n, row in _rows(tf, issues):
            pno = row.get("policy_no")
            if pno not in docs:
                raise BatchError(f"{tf.name} row {n} column policy_no: {pno!r} is not in policies")
            docs[pno][table].append(row)
    return [(f"{book.label} policy {pno}", d, d.pop("_rows")) for pno, d in docs.items()]


def _flat(path: Path, issues: Issues) -> list:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        tf = TableFile("parties", path.name, path, "csv", size=path.stat().st_size)
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        sheet = wb.sheetnames[0]
        wb.close()
        tf = TableFile("parties", f"{path.name}[{sheet}]", path, "xlsx", sheet=sheet)
    else:
        raise BatchError(f"{path.name}: not a .csv, .xlsx, folder or .zip in book format")
    docs: dict[str, dict] = {}
    for n, row in _rows(tf, issues):
        pno = row.get("policy_no")
        if not pno:
            raise BatchError(f"{tf.name} row {n} column policy_no: empty")
        unknown = set(row) - POLICY_COLS - PARTY_COLS - {"application_id"}
        if unknown:
            raise BatchError(
                f"{tf.name} row {n}: columns outside the book format: {', '.join(sorted(unknown))}"
            )
        d = docs.setdefault(
            pno,
            {"application_id": row.get("application_id", pno), "policy": {}, "parties": [], "_rows": []},
        )
        d["_rows"].append(n)
        for k, v in row.items():
            if k in POLICY_COLS and k not in PARTY_COLS or k == "policy_no":
                d["policy"][k] = v
        d["parties"].append({k: v for k, v in row.items() if k in PARTY_COLS})
    return [(f"{tf.name} rows {d['_rows'][0]}-{d['_rows'][-1]}", d, d.pop("_rows")) for d in docs.values()]


def screen_file(path: Path, client, out: Path | None) -> dict:
    """Screen every application of the file; write one result row per application to ``out`` (CSV).
    Input errors of one application are reported on its row (verdict "error") and do not stop the rest."""
    apps = read_applications(path)
    counts = {"pass": 0, "refer": 0, "reject": 0, "error": 0}
    rows = []
    for where, doc, _ in apps:
        result = service.screen(client, doc)
        if result.status != 200:
            counts["error"] += 1
            detail = result.answer.get("detail", "")
            errs = "; ".join(f"{e['field']}: {e['message']}" for e in result.answer.get("errors", []))
            rows.append(
                [
                    doc.get("application_id"),
                    doc["policy"].get("policy_no"),
                    "error",
                    "",
                    "",
                    f"{where}: {detail} {errs}".strip(),
                ]
            )
            continue
        a = result.answer
        counts[a["verdict"]] += 1
        rows.append(
            [
                a["application_id"],
                a["policy_no"],
                a["verdict"],
                " ".join(f["code"] for f in a["findings"]),
                "; ".join(f"{f['code']} {f['role']}{f['seq']}.{f['field']}" for f in a["findings"]),
                "; ".join(dict.fromkeys(f["message_zh"] for f in a["findings"])),
            ]
        )
    if out is not None:
        out = Path(out)
        with tempfile.NamedTemporaryFile(
            "w", delete=False, dir=out.parent, suffix=".tmp", encoding="utf-8-sig", newline=""
        ) as f:
            w = csv.writer(f)
            w.writerow(["application_id", "policy_no", "verdict", "codes", "findings", "messages_zh"])
            for r in rows:
                w.writerow([service.neutral(x) for x in r])
        Path(f.name).replace(out)
    return {"applications": len(apps), **counts, "rows": rows}
