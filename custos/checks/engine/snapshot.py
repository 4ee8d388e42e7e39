"""Snapshot directories: Parquet per book-format table, typed as custos.domain.bookformat says."""

from __future__ import annotations

import csv
from pathlib import Path

from custos.domain import bookformat, codes

REQUIRED_TABLES = ("branches", "staff", "partners", "policies", "parties")
OPTIONAL_TABLES = ("changes", "visits", "blacklist")
BLACKLIST_COLUMNS = ("staff_no", "id_no", "name")
# A member's look-up hits (custos.blacklist) are written into the snapshot's blacklist table beside
# the book folder's own plaintext list, which is then kept as blacklist_listed (the marker says so).
BLACKLIST_LISTED = "blacklist_listed"
BLACKLIST_HITS_MARKER = "blacklist_hits.json"
SQL_TYPES = {
    "text": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "int": "BIGINT",
    "decimal": "DOUBLE",
}


def table_columns(name: str) -> list[tuple[str, str]]:
    """(column, SQL type) of a snapshot table."""
    if name == "blacklist":
        return [(c, "VARCHAR") for c in BLACKLIST_COLUMNS]
    return [(c.name, SQL_TYPES[c.type]) for c in bookformat.TABLES[name].columns]


def empty_select(name: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in table_columns(name))
    return f"SELECT {cols} WHERE 1 = 0"


def _cast(col: bookformat.Column | None, name: str) -> str:
    q = f'"{name}"'
    txt = f"NULLIF(trim({q}), '')"
    kind = col.type if col else "text"
    if kind == "date":
        return (
            f"CASE WHEN {txt} IN ('长期', '永久', 'long-term') THEN DATE '9999-12-31' ELSE "
            f"coalesce(TRY_CAST({txt} AS DATE), TRY_CAST(TRY_STRPTIME({txt}, '%Y/%m/%d') AS DATE), "
            f"TRY_CAST(TRY_STRPTIME({txt}, '%Y%m%d') AS DATE)) END"
        )
    if kind == "timestamp":
        return f"TRY_CAST({txt} AS TIMESTAMP)"
    if kind == "int":
        return f"TRY_CAST({txt} AS BIGINT)"
    if kind == "decimal":
        return f"TRY_CAST({txt} AS DOUBLE)"
    if col is not None and col.codes:
        # code lists: English code or Chinese label in, English code out (unknown values kept)
        lookup = codes.LOOKUPS[col.codes]
        cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in lookup.items())
        return f"CASE {txt} {cases} ELSE {txt} END"
    return txt


def snapshot_from_csv_folder(folder: Path, out_dir: Path) -> Path:
    """Write a snapshot (typed Parquet per table) from a folder of book CSVs; return out_dir.

    A test and benchmark helper: the loader (custos.book) is the production path. Text stays as
    given (NULL when empty); dates, timestamps, integers and decimals are cast per the book format.
    """
    from custos.crypto import snapshot as esnap

    folder, out_dir = Path(folder), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    con = esnap.writer_connection()  # encrypted like the loader's snapshot
    try:
        key = esnap.begin(out_dir, con)
        for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
            src = folder / f"{name}.csv"
            if name == "blacklist" and not src.exists() and (folder / "truth" / "blacklist.csv").exists():
                src = folder / "truth" / "blacklist.csv"
            if not src.exists():
                if name in REQUIRED_TABLES:
                    raise FileNotFoundError(src)
                continue
            with src.open(encoding="utf-8-sig") as f:
                header = next(csv.reader(f), [])
            table = bookformat.TABLES.get(name)
            wanted = [c for c, _ in table_columns(name)]
            exprs = []
            for c in wanted:
                if c in header:
                    exprs.append(f"{_cast(table.column(c) if table else None, c)} AS {c}")
                else:
                    exprs.append(f"CAST(NULL AS {dict(table_columns(name))[c]}) AS {c}")
            order = esnap.cluster_clause(name)
            con.execute(
                f"COPY (SELECT {', '.join(exprs)} FROM read_csv(?, all_varchar = true, header = true, "
                f"quote = '\"', escape = '\"'){order}) TO '{out_dir / (name + '.parquet')}' {esnap.copy_options(key)}",
                [str(src)],
            )
    finally:
        con.close()
    return out_dir


_ARROW_TYPES = {
    "VARCHAR": "string",
    "DATE": "date32",
    "TIMESTAMP": "timestamp[us]",
    "BIGINT": "int64",
    "DOUBLE": "float64",
}


def arrow_tables(tables: dict[str, list[dict]], *, all_tables: bool = True) -> dict:
    """Rows (dicts of Python values; missing columns NULL; dates as ``date`` or ISO text) as typed
    Arrow tables. Required tables not given are empty; optional ones are left out unless
    ``all_tables`` (then empty too)."""
    import datetime as dt

    import pyarrow as pa

    out = {}
    for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
        if name not in tables and name not in REQUIRED_TABLES and not all_tables:
            continue
        data = tables.get(name, [])
        arrays = {}
        for c, t in table_columns(name):
            vals = [r.get(c) for r in data]
            if t == "DATE":
                vals = [dt.date.fromisoformat(v) if isinstance(v, str) and v else (v or None) for v in vals]
            if t == "TIMESTAMP":
                vals = [
                    dt.datetime.fromisoformat(v) if isinstance(v, str) and v else (v or None) for v in vals
                ]
            arrays[c] = pa.array(vals, type=pa.type_for_alias(_ARROW_TYPES[t]))
        out[name] = pa.table(arrays)
    return out


def write_snapshot(out_dir: Path, tables: dict[str, list[dict]]) -> Path:
    """Write a snapshot from rows (dicts of Python values; missing columns are NULL).

    Tables not given are written empty when required and left out when optional. Used by tests.
    """
    from custos.crypto import snapshot as esnap

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in arrow_tables(tables, all_tables=False).items():
        esnap.write_table(out_dir, name, table)  # encrypted like the loader's snapshot
    return out_dir


def write_blacklist_hits(snapshot_dir: Path, staff_nos: list[str]) -> None:
    """Make a snapshot's blacklist table its book folder's own list (when it carried one) plus the
    staff numbers a member's look-ups found (id_no and name empty: only the staff number travels)."""
    import json

    import pyarrow as pa

    from custos.crypto import snapshot as esnap

    d = Path(snapshot_dir)
    marker = d / BLACKLIST_HITS_MARKER
    if (d / "blacklist.parquet").exists() and not marker.exists():
        esnap.write_table(d, BLACKLIST_LISTED, esnap.read_arrow(d, "blacklist", list(BLACKLIST_COLUMNS)))
    marker.write_text(json.dumps({"hits": len(staff_nos)}))
    listed = d / f"{BLACKLIST_LISTED}.parquet"
    base = arrow_tables({})["blacklist"]
    if listed.exists():
        base = esnap.read_arrow(d, BLACKLIST_LISTED, list(BLACKLIST_COLUMNS)).cast(base.schema)
    hits = pa.table(
        {
            "staff_no": pa.array(sorted(set(staff_nos)), pa.string()),
            "id_no": pa.nulls(len(set(staff_nos)), pa.string()),
            "name": pa.nulls(len(set(staff_nos)), pa.string()),
        }
    )
    esnap.write_table(d, "blacklist", pa.concat_tables([base, hits]))
