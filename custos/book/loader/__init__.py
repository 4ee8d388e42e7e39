"""Loading a book (shared/book-format.md) into the database: read, validate, write, snapshot.

The entry point is custos.book.services.load_book; this package holds the machinery:

- sources: folder / zip / xlsx / csv / parquet discovery and streaming readers
- encoding: UTF-8 / GB18030 detection
- mapping: the --mapping YAML
- values: cleaning and typing of single values
- validate: pass 1, collects every error, spools clean rows
- write: pass 2, one transaction, staging tables and set-based SQL
- snapshot: Parquet snapshot of the current book for the bulk engines
"""

from .errors import BookInvalid, Issue, Issues, LoadFailure

__all__ = ["BookInvalid", "Issue", "Issues", "LoadFailure"]
