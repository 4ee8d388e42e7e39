"""What the loader (custos.book.loader.write) calls to keep the integrity tags of the rows it writes.

- First load of a table (rows inserted straight into the empty book table): `FirstLoad` numbers the
  rows itself (from the table's id sequence) and appends id and tag to every row as it is written,
  so no second pass over millions of rows is needed.
- Later loads (merge through a staging table): the UPDATE sets `integrity_tag` to a one-off marker
  on every row whose covered values change, the INSERT of new rows writes the marker too, and
  `finish_merge` tags the history rows of the load, then every marked row, with their new values.
"""

from __future__ import annotations

import secrets

from django.db import connection

from . import rows as R
from . import tags as T

ENABLED = True  # `custos bench integrity` turns tagging off for its baseline load, nothing else does


def spec_for(model) -> T.Spec | None:
    return T.SPECS.get(model._meta.db_table) if ENABLED else None


def new_marker() -> str:
    """A tag value no row holds: unguessable, so a row cannot be made to look 'to be tagged'."""
    return "~" + secrets.token_hex(12)


class FirstLoad:
    """Ids and tags for rows inserted into an empty table: `wrap(seal)` returns the batch function
    appending (id, integrity_tag) to each row; `finish(cur)` moves the id sequence past them."""

    COLUMNS = ("id", "integrity_tag")

    def __init__(self, cur, model, names: list[str]):
        self.spec = spec_for(model)
        self.table = model._meta.db_table
        self.tags = T.batch_tagger(self.spec, names)
        self.start = self.next = self._last_id(cur) + 1

    def _last_id(self, cur) -> int:
        if connection.vendor == "postgresql":
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.table])
            self.sequence = cur.fetchone()[0]
            cur.execute(f"SELECT last_value, is_called FROM {self.sequence}")
            last, called = cur.fetchone()
            return last if called else last - 1
        cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
        row = cur.fetchone()
        return row[0] if row else 0

    def wrap(self, seal):
        def seal_and_tag(batch: list) -> list:
            if seal is not None:
                batch = seal(batch)
            ids = range(self.next, self.next + len(batch))
            self.next += len(batch)
            tags = self.tags(batch, ids)
            return [(*row, i, t) for row, i, t in zip(batch, ids, tags, strict=True)]

        return seal_and_tag

    def finish(self, cur) -> None:
        if connection.vendor == "postgresql" and self.next > self.start:
            cur.execute("SELECT setval(%s, %s)", [self.sequence, self.next - 1])


def finish_merge(cur, model, load_id: int, marker: str) -> int:
    """Tag the history rows this load inserted (parties) and every row it marked."""
    spec = spec_for(model)
    if spec is T.PARTY:
        R.tag_history(cur, load_id)
    return R.retag_marked(cur, spec.db_table, marker)
