"""DuckDB's extensions come from the offline wheels (`duckdb-ext-sqlite`, `duckdb-ext-postgres`,
`duckdb-ext-httpfs`): nothing is downloaded at run time. Used by the loader's snapshot (the
scanners) and custos.crypto.snapshot (httpfs, DuckDB's full crypto module)."""

from pathlib import Path


def extension_file(name: str) -> Path | None:
    """The `<name>.duckdb_extension` file for the installed DuckDB version, or None without the wheel."""
    try:
        import duckdb
        import duckdb_ext  # the offline extension wheels
    except ImportError:
        return None
    base = Path(next(iter(duckdb_ext.__path__))) / "extensions" / f"v{duckdb.__version__}"
    found = sorted(base.glob(f"*/{name}.duckdb_extension"))
    return found[0] if found else None
