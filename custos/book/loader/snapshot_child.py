"""The snapshot's DuckDB SQLite scanner, run in a spawned child process (see
custos.book.loader.snapshot._write_with_duckdb_in_child for why). Imports nothing that needs Django
set up: unpickling this function in the child must not import the models first."""


def write(attach: str, out: str) -> dict[str, int]:
    from pathlib import Path

    import django

    django.setup()  # the table definitions and the sealed columns' associated data come from the models
    from custos.book.loader import snapshot_write

    with snapshot_write.opening_helper():  # this child's own helper for opening sealed values
        return snapshot_write.write_with_duckdb(attach, Path(out), None, "sqlite")
