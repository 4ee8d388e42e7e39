"""The book's snapshot where every executor reads it: CUSTOS_SPARK_STORAGE.

custos's snapshots are written by DuckDB (custos.crypto.snapshot), whose Parquet modular
encryption Java's Parquet cannot open (DuckDB 1.4 writes no AAD prefix: parquet-mr fails on the
footer; and DuckDB cannot open parquet-mr's files either, measured 2026-12-07). So the snapshot is
*published* for Spark once: streamed table by table from DuckDB (bounded memory, nothing held) into
Parquet files that Arrow C++ encrypts with PME's key tools (custos.spark.kms), under

    <CUSTOS_SPARK_STORAGE>/<publication id>/<table>/part-NNNNN.parquet

a shared directory here (default <CUSTOS_HOME>/spark/storage), ``hdfs://…`` or ``s3://…`` in
production (pyarrow's file systems; Spark reads ``s3://`` as ``s3a://``). The publication id is a
digest of the source directory and its files' sizes and times: a snapshot is published once and
re-published when it changes; older publications of the same directory are removed. The DuckDB
engine keeps reading the source, so both engines read the same rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from custos import paths

ROWS_PER_FILE = 1_000_000  # Spark splits its scan by file and row group
ROW_GROUP = 250_000
MARKER = "PUBLISHED.json"


def storage_uri() -> str:
    return os.environ.get("CUSTOS_SPARK_STORAGE") or str(paths.home() / "spark" / "storage")


def spark_uri(uri: str) -> str:
    """The URI Spark's Hadoop file systems read for ``uri`` (a local path, hdfs://, s3://)."""
    if "://" not in uri:
        return "file://" + str(Path(uri).resolve())
    if uri.startswith("s3://"):
        return "s3a://" + uri[len("s3://") :]
    return uri


def _fs(uri: str):
    from pyarrow import fs

    if "://" not in uri:
        Path(uri).mkdir(parents=True, exist_ok=True)
        return fs.LocalFileSystem(), str(Path(uri).resolve())
    return fs.FileSystem.from_uri(uri)


def publication_id(snapshot_dir: Path, tables: list[str]) -> str:
    h = hashlib.sha256(str(Path(snapshot_dir).resolve()).encode())
    for name in sorted(tables):
        st = (Path(snapshot_dir) / f"{name}.parquet").stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    marker = Path(snapshot_dir) / "ENCRYPTION.json"
    if marker.exists():
        h.update(marker.read_bytes())
    return h.hexdigest()[:20]


def publish(snapshot_dir: Path, tables: list[str]) -> tuple[str, str | None]:
    """Publish ``tables`` of a snapshot (unless already published); return (Spark URI of the
    publication, data key id or None for a plain snapshot)."""
    from custos.crypto import snapshot as esnap

    snapshot_dir = Path(snapshot_dir)
    kid = esnap.key_id(snapshot_dir)
    root = storage_uri()
    filesystem, base = _fs(root)
    pid = publication_id(snapshot_dir, tables)
    target = f"{base.rstrip('/')}/{pid}"
    done = filesystem.get_file_info(f"{target}/{MARKER}")
    uri = f"{root.rstrip('/')}/{pid}" if "://" in root else target
    if done.type != 0:  # FileType.NotFound == 0
        return spark_uri(uri), kid
    _remove_older(filesystem, base, snapshot_dir)
    filesystem.create_dir(target, recursive=True)
    con = esnap.offline_connect()
    try:
        if kid is not None:
            esnap.load_full_crypto(con)
        con.execute("SET memory_limit = '512MB'")
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        for name in tables:
            reader = con.execute(f"SELECT * FROM {esnap.source(con, snapshot_dir, name)}").fetch_record_batch(
                ROW_GROUP
            )
            filesystem.create_dir(f"{target}/{name}", recursive=True)
            part, rows, writer = 0, 0, None
            try:
                for batch in reader:
                    if writer is None or rows >= ROWS_PER_FILE:
                        if writer is not None:
                            writer.close()
                        writer = _writer(
                            filesystem, f"{target}/{name}/part-{part:05d}.parquet", batch.schema, kid
                        )
                        part, rows = part + 1, 0
                    writer.write_batch(batch, row_group_size=ROW_GROUP)
                    rows += batch.num_rows
                if writer is None:  # an empty table still has its schema
                    writer = _writer(filesystem, f"{target}/{name}/part-00000.parquet", reader.schema, kid)
            finally:
                if writer is not None:
                    writer.close()
    finally:
        con.close()
    with filesystem.open_output_stream(f"{target}/{MARKER}") as f:
        f.write(json.dumps({"source": str(snapshot_dir.resolve()), "key_id": kid, "tables": tables}).encode())
    return spark_uri(uri), kid


def _writer(filesystem, path: str, schema, kid: str | None):
    import pyarrow.parquet as pq

    from custos.spark import kms

    props = kms.encryption_properties(kid) if kid else None
    return pq.ParquetWriter(
        path, schema, filesystem=filesystem, compression="lz4", encryption_properties=props
    )


def _remove_older(filesystem, base: str, snapshot_dir: Path) -> None:
    """Drop earlier publications of the same source directory (one per directory is kept) and those
    whose source directory is gone (a load deleted, a benchmark's temporary snapshot)."""
    from pyarrow import fs

    source = str(Path(snapshot_dir).resolve())
    for info in filesystem.get_file_info(fs.FileSelector(base, allow_not_found=True)):
        if info.type != fs.FileType.Directory:
            continue
        try:
            with filesystem.open_input_stream(f"{info.path}/{MARKER}") as f:
                old = json.loads(f.read())
        except (OSError, ValueError):
            continue
        if old.get("source") == source or not Path(old.get("source", "")).is_dir():
            filesystem.delete_dir(info.path)
