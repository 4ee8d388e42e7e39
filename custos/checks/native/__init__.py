"""custos_native: the preparing pass's per-value work compiled to a DuckDB extension (C API).

Why: the preparing pass evaluated its normalisation fast-path tests and ID/mobile parsing as DuckDB
expressions (regular expressions, 17 integer divisions for the GB 11643 sum…), the largest part of
a check run (docs/benchmarks.md). ``custos_native.c`` computes the same values in one loop per
vector; ``custos.checks.engine.prepare`` calls it on DuckDB when it is loaded and keeps the SQL
otherwise (and always on Spark, which runs the SQL). tests/checks/test_native.py holds the two to
the same results.

The extension is compiled from the source in this folder with the system C compiler (``cc``) the
first time it is needed (``make install`` does it up front), against DuckDB's C extension API
headers vendored in ``include/`` (MIT, DuckDB 1.4.4; the C API is stable from v1.2.0). The folder it
is built in is named after a hash of the source, the headers and the DuckDB version, so a changed source or a new
DuckDB builds a new file and never loads a stale one. DuckDB loads it as an unsigned extension: the
engine's connection allows that, and only ever loads this file by its full path.

``CUSTOS_NATIVE=0`` turns it off (the engine then runs the SQL alone).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "custos_native.c"
HEADERS = (HERE / "include" / "duckdb.h", HERE / "include" / "duckdb_extension.h")
C_API_VERSION = "v1.2.0"  # the stable C extension API the source is written against
CFLAGS = ("-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-std=c11", "-Wall", "-Werror")


class NativeUnavailable(RuntimeError):
    """The extension could not be built or loaded (the engine runs the SQL instead)."""


def enabled() -> bool:
    return os.environ.get("CUSTOS_NATIVE", "1").strip().lower() not in ("0", "false", "no", "off")


def _platform() -> str:
    con = duckdb.connect()
    try:
        return con.execute("PRAGMA platform").fetchone()[0]
    finally:
        con.close()


def _digest() -> str:
    h = hashlib.sha256()
    for path in (SOURCE, *HEADERS):
        h.update(path.read_bytes())
    h.update(" ".join((*CFLAGS, duckdb.__version__, C_API_VERSION)).encode())
    return h.hexdigest()[:16]


def _build_dir() -> Path:
    """Next to the source when writable (an editable install), else the user's cache."""
    here = HERE / "_build"
    try:
        here.mkdir(exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "custos" / "native"
    cache_dir.mkdir(parents=True, exist_ok=True)
    return cache_dir


def _footer(platform: str) -> bytes:
    """DuckDB's extension metadata: a WebAssembly custom section named ``duckdb_signature`` holding
    eight 32-byte fields (last first: magic "4", platform, C API version, extension version, ABI
    type) and 256 bytes of signature, empty here (an unsigned extension)."""

    def field(text: str) -> bytes:
        raw = text.encode("ascii")
        assert len(raw) <= 32
        return raw + b"\0" * (32 - len(raw))

    fields = ["", "", "", "C_STRUCT", "custos", C_API_VERSION, platform, "4"]
    return b"\x00\x93\x04\x10duckdb_signature\x80\x04" + b"".join(map(field, fields)) + b"\0" * 256


def build(*, force: bool = False) -> Path:
    """Compile the extension (once per source/DuckDB version); return its path."""
    # DuckDB calls ``<file name>_init_c_api``: the hash names the folder, not the file
    target = _build_dir() / _digest() / "custos_native.duckdb_extension"
    if target.exists() and not force:
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise NativeUnavailable("no C compiler (cc) to build the custos_native DuckDB extension")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / "custos_native.so"
        cmd = [cc, *CFLAGS, "-I", str(HERE / "include"), "-o", str(out), str(SOURCE)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise NativeUnavailable(f"building custos_native failed: {done.stderr.strip()[-2000:]}")
        with out.open("ab") as fh:
            fh.write(_footer(_platform()))
        os.replace(out, target)  # atomic: concurrent builders write the same bytes
    for old in target.parent.parent.iterdir():  # builds of earlier sources
        if old.is_dir() and old != target.parent and len(old.name) == 16:
            shutil.rmtree(old, ignore_errors=True)
    return target


@cache
def _extension() -> Path | None:
    if not enabled():
        return None
    try:
        return build()
    except (NativeUnavailable, OSError) as exc:
        log.warning("custos_native unavailable, the checks run on SQL alone: %s", exc)
        return None


def load(con: duckdb.DuckDBPyConnection) -> bool:
    """Load the extension into ``con`` (opened with ``allow_unsigned_extensions``); False when it is
    off or unavailable."""
    path = _extension()
    if path is None:
        return False
    con.execute(f"LOAD '{path.as_posix()}'")
    return True
